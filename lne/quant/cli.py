"""`lne quantize`: post-training quantization to an ONNX QDQ model, with sensitivity analysis."""
from __future__ import annotations

import importlib
import json

import click

from lne.errors import LNEError

from . import METHODS, MODES


def _reader(spec: str):
    """``module:attr`` -> a reader object (attr is an object with get_next, or a callable making one)."""
    import os
    import sys

    mod, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())     # a reader module in the current folder
    try:
        obj = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise LNEError(f"--calib {spec!r}: cannot import the reader ({e})") from None
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "get_next")):
        try:
            obj = obj()
        except Exception as e:
            raise LNEError(f"--calib {spec!r}: making the reader failed: {type(e).__name__}: {e}") from None
    if not hasattr(obj, "get_next"):
        raise LNEError(f"--calib {spec!r}: {attr} has no get_next() (onnxruntime CalibrationDataReader contract)")
    return obj


def calib_source(value: str):
    """A path, or ``module:attr`` naming a Python reader when no such path exists."""
    from pathlib import Path

    if not Path(value).exists() and ":" in value and "/" not in value and not value.endswith((".h5", ".npy")):
        return _reader(value)
    return value


@click.command("quantize")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--calib", required=True, metavar="PATH",
              help="calibration data: HDF5 dataset (artifact), folder of .npy files, .npy file, "
                   "or module:attr of a Python reader (get_next() -> dict or None)")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="QDQ ONNX model to write (an existing file only if LNE wrote it; see --force)")
@click.option("--force", is_flag=True, help="replace an existing output that LNE did not write")
@click.option("--mode", type=click.Choice(MODES), default="int8", show_default=True,
              help="int8: int8 weights per channel, uint8 activations; int16: 16-bit fixed point (opset 21)")
@click.option("--method", type=click.Choice(METHODS), default="minmax", show_default=True,
              help="how activation ranges are chosen")
@click.option("--percentile", default=99.99, show_default=True, help="percentile kept by --method percentile")
@click.option("--calib-split", metavar="NAME", help="HDF5 group or dataset to calibrate on (default: train, if any)")
@click.option("--calib-size", default=256, show_default=True, help="calibration samples (a seeded random subset)")
@click.option("--keep-float", "keep_float", multiple=True, metavar="NODE", help="leave this layer in float "
              "(repeat, or comma-separate)")
@click.option("--reduce-range", is_flag=True, help="int8 weights in [-64, 64] (7 bits): what onnxruntime's "
              "int8 kernels need on x86 CPUs without AVX-VNNI to run the model exactly (LNE does not need it)")
@click.option("--analyze", is_flag=True, help="per-layer sensitivity, report + chart, mixed-precision plan")
@click.option("--eval", "eval_data", metavar="PATH", help="data for --analyze (default: the calibration source; "
              "its validation split for an HDF5 artifact)")
@click.option("--eval-split", metavar="NAME", help="HDF5 group for --analyze (default: validation, if any)")
@click.option("--eval-size", default=1000, show_default=True, help="samples for --analyze")
@click.option("--labels", metavar="FILE.npy", help="labels of the --analyze samples (an HDF5 artifact has its own)")
@click.option("--budget", default=1.0, show_default=True, metavar="PTS",
              help="top-1 points the mixed-precision plan may lose (with labels)")
@click.option("--min-sqnr", default=30.0, show_default=True, metavar="DB",
              help="output SQNR the plan must keep (without labels)")
@click.option("--no-plot", is_flag=True, help="no sensitivity chart")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def quantize(model, calib, output, force, mode, method, percentile, calib_split, calib_size, keep_float, reduce_range,
             analyze, eval_data, eval_split, eval_size, labels, budget, min_sqnr, no_plot, as_json):
    """Quantize MODEL (ONNX) to an ONNX QDQ model that onnxruntime and `lne compile` run.

    \b
    Example:
      lne quantize model.onnx --calib features.h5 -o model.q.onnx
      lne quantize model.onnx --calib features.h5 --mode int16 -o model.q16.onnx
      lne quantize model.onnx --calib features.h5 --analyze --budget 0.5 -o model.mixed.onnx
    """
    from .api import check_outputs, quantize_model, report_paths
    from .report import table

    def log(msg):
        click.echo(msg, err=True)

    if calib_size < 1 or eval_size < 1:
        raise LNEError("--calib-size and --eval-size must be at least 1")
    check_outputs(output, (model, calib, eval_data, labels), analyze, not no_plot, force)  # before any work
    rep = quantize_model(model, output, calib_source(calib), mode=mode, method=method, percentile=percentile,
                         keep_float=keep_float, calib_split=calib_split, calib_size=calib_size, analyze=analyze,
                         eval_data=eval_data, eval_split=eval_split, eval_size=eval_size, labels=labels,
                         budget=budget, min_sqnr=min_sqnr, plot=not no_plot, reduce_range=reduce_range, force=force,
                         log=log)
    if as_json:
        click.echo(json.dumps(rep, indent=1))
        return
    if analyze:
        click.echo(table(rep["sensitivity"], rep["float_layers"], rep["float_top1"]))
        full, final = rep["all_quantized"], rep["plan"]["final"]

        def fmt(s):
            return f"SQNR {s['sqnr_db']:.1f} dB" + (f", top-1 {s['top1']:.2f}" if "top1" in s else "")
        fp = f"float top-1 {rep['float_top1']:.2f}; " if rep["float_top1"] is not None else ""
        click.echo(f"{fp}all {mode}: {fmt(full)}; plan ({len(rep['float_layers'])} float layer(s)): {fmt(final)}"
                   + ("" if rep["plan"]["meets_budget"] else "  (budget NOT met)"))
        j, p = report_paths(output)
        click.echo(f"report {j}" + ("" if no_plot else f", chart {p}"))
    for n in rep["notes"]:
        click.echo(f"note: {n}", err=True)
    b = rep["bytes"]
    click.echo(f"wrote {output} ({mode}, {len(rep['quantized_layers'])}/{len(rep['layers'])} layers quantized; "
               f"weights {b['quantized_weights']} B vs {b['float_weights']} B float, file {b['quantized']} B "
               f"vs {b['float']} B)")


def quantize_for_compile(model, mode, calib, log) -> str:
    """`lne compile --quantize MODE --calib PATH`: the QDQ model in a temporary folder (removed when
    the command ends), named like MODEL so the bundle keeps its default name."""
    import shutil
    import tempfile
    from pathlib import Path

    from .api import quantize_model

    if not mode or not calib:
        raise LNEError("--quantize and --calib go together: lne compile model.onnx --quantize int8 --calib data.h5")
    if Path(model).suffix.lower() != ".onnx":
        raise LNEError(f"--quantize: {model} is not an ONNX model (convert Caffe models with `lne convert` first)")
    tmp = tempfile.mkdtemp(prefix="lne-quant-")
    click.get_current_context().call_on_close(lambda: shutil.rmtree(tmp, ignore_errors=True))
    out = Path(tmp) / f"{Path(model).stem}.onnx"
    rep = quantize_model(model, out, calib_source(calib), mode=mode,
                         log=lambda msg: msg.startswith("wrote ") or log(msg))   # the temp file is no news
    b = rep["bytes"]
    log(f"quantized {model} to {mode} QDQ ({len(rep['quantized_layers'])} layers; weights "
        f"{b['quantized_weights']} B vs {b['float_weights']} B float)")
    return str(out)
