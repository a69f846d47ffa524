"""quantize_model: load, prepare, calibrate, (analyze and plan), write the QDQ model and its report."""
from __future__ import annotations

import json
from pathlib import Path

import onnx

from lne.errors import LNEError

from . import METHODS, MODES, qdq
from .calibrate import collect, data_range
from .data import load_labels, load_samples, model_inputs
from .sensitivity import Evaluator, per_layer, plan


def _load(model) -> tuple[onnx.ModelProto, str]:
    if isinstance(model, onnx.ModelProto):
        return model, "<model>"
    from lne.frontends.onnx.loader import load_proto

    return load_proto(model), str(model)


def _has_splits(calib) -> bool:
    """An HDF5 source (file or pipeline artifact folder), which may hold a validation split."""
    if hasattr(calib, "get_next"):
        return False
    p = Path(calib)
    return p.suffix.lower() in (".h5", ".hdf5", ".hdf") or (p / "data" / "features.h5").is_file()


def report_paths(output) -> tuple[Path, Path]:
    """(JSON report, sensitivity chart) written beside the quantized model by --analyze."""
    out = Path(output)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    return out.with_name(stem + ".quant.json"), out.with_name(stem + ".sensitivity.png")


def _report_is_ours(path) -> bool:
    from lne.outputs import json_is_ours

    return json_is_ours(path, lambda d: isinstance(d, dict) and {"model", "mode", "layers", "ranges"} <= set(d))


def output_specs(output, analyze: bool, plot: bool, force: bool = False) -> list[tuple]:
    """What quantize writes, for lne.outputs.output_files: the model, and with analyze the JSON
    report and (plot) the chart beside it; each replaced only if LNE wrote it (or force)."""
    from lne.outputs import onnx_is_ours, png_is_ours

    json_path, png_path = report_paths(output)
    specs = [(Path(output), "an ONNX model", force, onnx_is_ours, "-o")]
    if analyze:
        specs.append((json_path, "a quantization report", force, _report_is_ours, "report"))
        if plot:
            specs.append((png_path, "a sensitivity chart", force, png_is_ours, "chart"))
    return specs


def check_outputs(output, inputs, analyze: bool, plot: bool, force: bool = False) -> None:
    """Before any work: no output is one of the ``inputs`` (not even with force), and each may be
    written (lne.outputs)."""
    from lne.limits import plain
    from lne.outputs import check_file, same_file

    for path, kind, f, is_ours, what in output_specs(output, analyze, plot, force):
        for src in inputs:
            if isinstance(src, (str, Path)) and src and same_file(path, src):
                hint = "that is the float model; write the quantized model to another file" if src == inputs[0] \
                    else f"that is the input {plain(str(src), 200)}; choose another output name"
                raise LNEError(f"{what} {plain(str(path), 200)}: {hint}")
        check_file(path, kind, f, is_ours, what)


def quantize_model(model, output, calib, *, mode: str = "int8", method: str = "minmax",
                   percentile: float = 99.99, keep_float=(), calib_split: str | None = None,
                   calib_size: int | None = 256, analyze: bool = False, eval_data=None,
                   eval_split: str | None = None, eval_size: int | None = 1000, labels=None,
                   budget: float = 1.0, min_sqnr: float = 30.0, plot: bool = True, seed: int = 0, reduce_range: bool = False,
                   force: bool = False, log=lambda msg: None) -> dict:
    """Quantize ``model`` to a QDQ ONNX file ``output``; returns the report (also JSON with analyze)."""
    if mode not in MODES:
        raise LNEError(f"mode {mode!r}: choose {' or '.join(MODES)}")
    if method not in METHODS:
        raise LNEError(f"calibration method {method!r}: choose {', '.join(METHODS)}")
    if reduce_range and mode != "int8":
        raise LNEError("--reduce-range is for int8 (it narrows int8 weights to [-64, 64])")
    if not 50.0 < percentile <= 100.0:
        raise LNEError(f"percentile {percentile}: expected a value in (50, 100]")
    check_outputs(output, (None if isinstance(model, onnx.ModelProto) else model, calib, eval_data, labels),
                  analyze, plot, force)  # before any work
    src, where = _load(model)
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul") for n in src.graph.node):
        raise LNEError(f"{where}: already quantized (it has QuantizeLinear/DequantizeLinear or QLinear* nodes); "
                       "give the float model")
    prep = qdq.prepare(src, mode)
    layers = qdq.find_layers(prep)
    if not layers:
        raise LNEError(f"{where}: nothing to quantize (no Conv, Gemm or MatMul with a constant weight)")
    names = [L.name for L in layers]
    keep_float = [k for item in keep_float for k in str(item).split(",") if k]
    unknown = [k for k in keep_float if k not in names]
    if unknown:
        raise LNEError(f"--keep-float {unknown[0]!r}: not a quantizable layer of {where}; "
                       f"they are: {', '.join(names)}")
    inputs = model_inputs(prep)
    cal = load_samples(calib, inputs, split=calib_split, default_split="train", limit=calib_size, seed=seed)
    log(f"calibrating {len(layers)} layers on {len(cal)} samples from {cal.origin} ({method}) ...")
    tensors, share = qdq.activations(prep, layers)
    stats = collect(prep, tensors, cal.feeds, hist=method != "minmax")
    ranges = {t: data_range(stats[t], method, mode == "int16", qdq.BITS[mode], percentile) for t in tensors}

    report = {"model": where, "mode": mode, "reduce_range": reduce_range, "method": method, "calibration": {"source": cal.origin,
              "samples": len(cal)}, "layers": names, "ranges": {t: list(map(float, r)) for t, r in ranges.items()}}
    float_layers = list(keep_float)
    if analyze:
        ev_samples = cal   # a file without splits: evaluate on the calibration samples
        if eval_data is not None or _has_splits(calib):
            ev_samples = load_samples(eval_data if eval_data is not None else calib, inputs, split=eval_split,
                                      default_split="validation", limit=eval_size, seed=seed, what="evaluation data")
        y = load_labels(labels, ev_samples) if labels is not None else ev_samples.labels
        ev = Evaluator(prep, layers, ranges, share, mode, ev_samples.feeds, y, reduce_range)
        log(f"sensitivity: {len(layers)} layers, each alone quantized, on {len(ev_samples)} samples from "
            f"{ev_samples.origin}{' with labels' if y is not None else ''} ...")
        report.update(_analyze(ev, keep_float, budget, min_sqnr, log),
                      evaluation={"source": ev_samples.origin, "samples": len(ev_samples), "labels": y is not None})
        float_layers = report["plan"]["float_layers"]
    quant = [L for L in layers if L.name not in float_layers]
    qm, notes = qdq.write(prep, quant, ranges, share, mode, reduce_range)
    try:
        onnx.checker.check_model(qm)
    except onnx.checker.ValidationError as e:
        raise LNEError(f"internal: the QDQ model fails onnx.checker: {e}") from None
    sizes = {"float": src.ByteSize(), "quantized": qm.ByteSize(), "float_weights": _weight_bytes(prep),
             "quantized_weights": _weight_bytes(qm)}
    report.update(float_layers=float_layers, quantized_layers=[L.name for L in quant], notes=notes,
                  output=str(output), bytes=sizes)
    _write_all(qm, Path(output), report if analyze else None, plot and analyze, log, force)
    return report


def _analyze(ev: Evaluator, keep_float, budget: float, min_sqnr: float, log) -> dict:
    """Per-layer sensitivity, the all-quantized score and the mixed-precision plan (report entries)."""
    rows = per_layer(ev, progress=lambda r: log(f"  {r['layer']}: SQNR {r['sqnr_db']:.1f} dB"
                                                  + (f", top-1 {r['delta']:+.2f}" if "delta" in r else "")))
    full = ev.score([L.name for L in ev.layers])
    p = plan(ev, rows, set(keep_float), budget, min_sqnr,
             progress=lambda s: log(f"  plan: {len(s['float_layers'])} float layer(s): SQNR {s['sqnr_db']:.1f} dB"
                                    + (f", top-1 {s['top1']:.2f}" if "top1" in s else "")))
    if not p["meets_budget"]:
        log("warning: the budget is not met even with every layer in float")
    return {"float_top1": ev.fp_acc, "all_quantized": full, "sensitivity": rows, "plan": p,
            "budget": {"top1_points": budget} if ev.labels is not None else {"min_sqnr_db": min_sqnr}}


def _weight_bytes(m: onnx.ModelProto) -> int:
    """Bytes of the weight tensors (initializers of rank >= 2): float32, or int8 / int16 once quantized."""
    from onnx import numpy_helper

    return sum(numpy_helper.to_array(i).nbytes for i in m.graph.initializer if len(i.dims) >= 2)


def _write_all(qm, out: Path, report: dict | None, plot: bool, log, force: bool = False) -> None:
    """Write the model (and report, chart) through temporary siblings: all or nothing, each
    replacing only what LNE wrote (lne.outputs)."""
    from lne import __version__
    from lne.outputs import mark_png, output_files

    qm.producer_name, qm.producer_version = "lne", __version__  # how a later run knows it may replace it
    specs = output_specs(out, report is not None, plot, force)
    with output_files(specs) as tmps:
        onnx.save(qm, str(tmps[0]))
        if report is not None:
            tmps[1].write_text(json.dumps(report, indent=1))
            if plot:
                from .report import bar_chart
                bar_chart(report["sensitivity"], report["float_layers"], tmps[2],
                          f"{Path(report['model']).name} {report['mode']} sensitivity")
                mark_png(tmps[2], "sensitivity chart")
    for spec in specs:
        log(f"wrote {spec[0]}")
