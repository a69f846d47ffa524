"""The `lne` command line. Progress and logs go to stderr, results to stdout."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .errors import LNEError
from .limits import load_npy, show


def _shapes(values) -> dict[str, tuple[int, ...]]:
    out = {}
    for v in values:
        name, sep, dims = v.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape:
            raise LNEError(f"--input-shape {v!r}: expected NAME=D1xD2x..., e.g. input=1x3x224x224")
        out[name] = shape
    return out


def _log(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lne", message="lne %(version)s")
def cli():
    """LNE: compile trained networks into small, fast, dependency-free C++ libraries."""


@cli.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="host", show_default=True, help="board to compile for (see `lne targets`)")
@click.option("-o", "--output", "out", required=True, type=click.Path(),
              help="bundle folder to write (an existing one only if LNE wrote it; see --force)")
@click.option("--force", is_flag=True, help="replace an existing output that LNE did not write")
@click.option("--weights", type=click.Path(dir_okay=False), help="caffemodel for a Caffe prototxt")
@click.option("--name", help="bundle and C symbol prefix (default: model file name, sanitized)")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DxDx..",
              help="fix an input's shape (needed for symbolic dimensions)")
@click.option("--build/--no-build", default=False, help="also build the library and example app")
@click.option("--debug", is_flag=True, help="keep every intermediate tensor in its own arena slot (for validate --per-layer)")
@click.option("--dump-ir", "dump_ir", multiple=True, metavar="PASS", help="print the IR after PASS (or 'all') to stderr")
@click.option("--planner", help="memory placement algorithm (default: the best of all)")
@click.option("--plugin", "plugins", multiple=True, metavar="NAME",
              help="let kernels from an acceleration library compete (openblas); the bundle then links it")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), metavar="PLAN.json",
              help="use the kernels of a plan from `lne tune` (checked against the model)")
@click.option("--quantize", "quantize_mode", type=click.Choice(["int8", "int16"]),
              help="quantize first (as `lne quantize`, minmax) with --calib data; the QDQ model goes in the bundle")
@click.option("--calib", metavar="PATH", help="calibration data for --quantize (see `lne quantize --help`)")
@click.option("--exact", is_flag=True, help="int8/int16 layers only on kernels exact to the integer semantics, "
              "even where a --plan chose the fp32 Winograd kernel for a 3x3 int8 layer (within one step)")
@click.option("--json", "as_json", is_flag=True, help="print a JSON summary on stdout")
def compile_cmd(model, target, out, force, weights, name, input_shapes, build, debug, dump_ir, planner, plugins,
                plan_path, quantize_mode, calib, exact, as_json):
    """Compile MODEL into a C++ bundle.

    \b
    Example:
      lne compile model.onnx --target host -o out/ --build
    """
    from .compiler import check_output, compile_model
    from .passes import PASS_NAMES
    from .passes.memory import ALGORITHMS
    from .session import find_manifest

    bad = [p for p in dump_ir if p != "all" and p not in PASS_NAMES]
    if bad:
        raise LNEError(f"--dump-ir {bad[0]!r}: passes are {', '.join(PASS_NAMES)} (or 'all')")
    if planner and planner not in ALGORITHMS:
        raise LNEError(f"--planner {planner!r}: algorithms are {', '.join(ALGORITHMS)}")
    check_output(out, force, build, inputs=(model, weights, plan_path, calib))  # before any work
    qdq, extra = None, {}
    if quantize_mode or calib:
        from .quant.cli import quantize_for_compile
        model = qdq = quantize_for_compile(model, quantize_mode, calib, log=_log)
        extra = {f"{Path(qdq).stem}.{quantize_mode}.qdq.onnx": qdq}  # written with the bundle
    plan = None
    if plan_path:
        from .tune.plan import plan_for_model
        plan, plugins = plan_for_model(plan_path, model, target, plugins, _shapes(input_shapes), weights, warn=_log)
    _log(f"compiling {model} for {target} ...")
    bundle = compile_model(model, out, target, name=name, weights=weights, input_shapes=_shapes(input_shapes),
                           debug=debug, planner=planner, dump_after=dump_ir, build=build, plugins=plugins, plan=plan,
                           exact=exact, force=force, extra_files=extra, log=_log)
    m = find_manifest(bundle, trusted=True)  # just written (and checked) by write_bundle
    summary = {"bundle": str(bundle), "name": m["name"], "target": m["target"], "arena_size": m["arena_size"],
               "weights_size": m["weights_size"], "nodes": len(m["nodes"]), "built": build}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"wrote {bundle}/ ({m['name']}: {len(m['nodes'])} layers, arena {m['arena_size']} B, "
                   f"weights {m['weights_size']} B{', built' if build else ''})")


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--target", "-t", default="host", show_default=True)
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DxDx..")
@click.option("--json", "as_json", is_flag=True, help="print the manifest as JSON")
def inspect(path, target, input_shapes, as_json):
    """Show layers, chosen kernels, MACs and the memory plan of a bundle or a model.

    \b
    Example:
      lne inspect out/            # a compiled bundle
      lne inspect model.onnx      # compile in memory, write nothing
    """
    from .inspect import describe, manifest_for

    m = manifest_for(Path(path), target, _shapes(input_shapes))
    click.echo(json.dumps(m, indent=1) if as_json else describe(m))


@cli.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("bundle", required=False, type=click.Path(file_okay=False))
@click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy", help="input data (default: random)")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DxDx..")
@click.option("--rtol", default=1e-3, show_default=True)
@click.option("--atol", default=1e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--per-layer", is_flag=True, help="compare every intermediate tensor; name the first that disagrees")
@click.option("--json", "as_json", is_flag=True)
def validate(model, bundle, inputs, input_shapes, rtol, atol, seed, per_layer, as_json):
    """Compare a compiled bundle with onnxruntime on the same inputs.

    Exits 1 if any output is outside tolerance (|lne - ort| <= atol + rtol * |ort|).
    Without BUNDLE the model is compiled to a temporary folder first.

    \b
    Example:
      lne validate model.onnx out/ --per-layer
    """
    from .validate import validate_model

    feeds = {}
    for item in inputs:
        name, sep, file = item.partition("=")
        if not sep:
            raise LNEError(f"--input {item!r}: expected NAME=FILE.npy")
        feeds[name] = load_npy(file, f"--input {show(name)}")
    report = validate_model(model, bundle, feeds, _shapes(input_shapes), rtol, atol, seed, per_layer, log=_log)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        for o in report["outputs"]:
            odd = f", {o['nonfinite_mismatch']} NaN/inf where the other is not" if o.get("nonfinite_mismatch") else ""
            click.echo(f"{show(o['name'])}: max abs err {o['max_abs']:.3g}, max rel err {o['max_rel']:.3g}{odd} "
                       f"-> {'ok' if o['ok'] else 'MISMATCH'}")
        if per_layer:
            fl = report.get("first_mismatch")
            click.echo(f"per layer: {report['layers_compared']} tensors compared; "
                       + (f"first mismatch at node {fl['node']!r} ({fl['op']}), tensor {fl['tensor']!r}, "
                          f"max abs err {fl['max_abs']:.3g}" if fl else "all within tolerance"))
    sys.exit(0 if report["ok"] else 1)


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--target", "-t", default="host", show_default=True, help="target when PATH is a model")
@click.option("--runs", default=100, show_default=True)
@click.option("--warmup", default=10, show_default=True)
@click.option("--per-layer", is_flag=True, help="also time every layer (with its kernel)")
@click.option("--vs", "vs", multiple=True, metavar="PEER",
              help="also time a peer framework: onnxruntime, ncnn, litert, openvino, or all (installed)")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="ONNX model for the peers")
@click.option("--remote", metavar="USER@HOST[:PORT]", help="run on a board over ssh (the app is copied there)")
@click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE", help="extra `ssh -o` option")
@click.option("--json", "as_json", is_flag=True)
def bench(path, target, runs, warmup, per_layer, vs, model, remote, ssh_options, as_json):
    """Time a bundle (or a model, compiled first) in one thread, beside peers in the same run.

    \b
    Example:
      lne bench out/ --vs onnxruntime --per-layer
      lne bench model.onnx --vs onnxruntime --runs 200
      lne bench --target rpi4 --remote pi@raspberrypi out/ --per-layer
    """
    from .benchmark import bench as run_bench, describe

    r = run_bench(Path(path), target, runs, warmup, per_layer, vs, model, log=_log, remote=remote,
                  ssh_options=ssh_options)
    click.echo(json.dumps(r, indent=1) if as_json else describe(r))


@cli.command()
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "outputs", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="where to save each output (.npy), in order")
@click.option("--target", "-t", help="check the bundle was compiled for this target")
def run(bundle, inputs, outputs, target):
    """Run a bundle's example app on .npy inputs and save its outputs as .npy.

    Host bundles run natively; board bundles run under qemu-user with the board's CPU model.

    \b
    Example:
      lne run --target rpi4 out/ input.npy -o output.npy
    """
    import numpy as np

    from .run import run_bundle
    from .session import find_manifest

    m = find_manifest(Path(bundle))
    if len(outputs) != len(m["outputs"]):
        raise LNEError(f"{bundle} has {len(m['outputs'])} output(s); give one -o per output")
    arrays = [load_npy(f, "the input") for f in inputs]
    from .outputs import check_file, output_file

    def is_npy(p):  # an earlier output (or any .npy file) may be replaced, nothing else
        with open(p, "rb") as f:
            return f.read(6) == b"\x93NUMPY"

    for path in outputs:
        check_file(path, "a .npy file", is_ours=is_npy, what="-o")
    for path, y in zip(outputs, run_bundle(Path(bundle), arrays, target)):
        with output_file(path, "a .npy file", is_ours=is_npy, what="-o") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, y)
        click.echo(f"wrote {path} {list(y.shape)}")


@cli.command("supported-ops")
@click.option("--json", "as_json", is_flag=True)
def supported_ops(as_json):
    """List the ONNX ops LNE compiles.

    \b
    Example:
      lne supported-ops --json
    """
    from . import ops

    run, folded = ops.supported(), ops.folded_only()
    if as_json:
        click.echo(json.dumps({"runtime": run, "constant_folded_only": folded}))
        return
    for name in run:
        click.echo(f"{name:20s} {ops.get(name).doc}")
    click.echo("\nAccepted only on constant inputs (folded at compile time): " + ", ".join(folded))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def targets(as_json):
    """List compilation targets.

    \b
    Example:
      lne targets
    """
    from . import targets as t

    items = t.all_targets()
    if as_json:
        click.echo(json.dumps({k: {"description": v.description, "cpu_flags": list(v.cpu_flags), "isa": list(v.isa),
                                   "triple": v.triple} for k, v in items.items()}))
        return
    for name, tg in items.items():
        click.echo(f"{name:14s} {tg.description}; flags: {' '.join(tg.cpu_flags) or '-'}; "
                   f"isa: {', '.join(tg.isa) or 'generic'}")


from .pipeline.cli import pipeline as _pipeline_group  # noqa: E402  (`lne pipeline ...`; imports stay lazy)
cli.add_command(_pipeline_group)
from .tune.cli import tune as _tune_cmd  # noqa: E402  (`lne tune`)
cli.add_command(_tune_cmd)
from .quant.cli import quantize as _quantize_cmd  # noqa: E402  (`lne quantize`)
cli.add_command(_quantize_cmd)


@cli.command("convert")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--weights", type=click.Path(dir_okay=False), help="caffemodel for a Caffe prototxt")
@click.option("-o", "--output", "out", required=True, type=click.Path(),
              help="ONNX file to write (an existing one only if LNE wrote it; see --force)")
@click.option("--force", is_flag=True, help="replace an existing output that LNE did not write")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DxDx..",
              help="fix an input's shape (needed when the net gives none)")
def convert_cmd(model, weights, out, force, input_shapes):
    """Convert MODEL (a Caffe prototxt) into an equivalent ONNX model (opset 17).

    \b
    Example:
      lne convert deploy.prototxt --weights net.caffemodel -o net.onnx
    """
    from .convert import convert

    _log(f"converting {model} ...")
    path = convert(model, out, weights=weights, input_shapes=_shapes(input_shapes), force=force)
    click.echo(f"wrote {path}")


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="lne", standalone_mode=False)
    except LNEError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except RecursionError:  # a backstop: every reader bounds its nesting itself
        if os.environ.get("LNE_TRACEBACK"):
            raise
        click.echo("error: the input is nested too deeply to read", err=True)
        sys.exit(2)
    except MemoryError:
        if os.environ.get("LNE_TRACEBACK"):
            raise
        click.echo("error: out of memory: the input asks for more memory than this machine has", err=True)
        sys.exit(2)
    except Exception as e:  # a bug in LNE: short message, traceback on request
        if os.environ.get("LNE_TRACEBACK"):
            raise
        click.echo(f"internal error: {type(e).__name__}: {e}\n(set LNE_TRACEBACK=1 for the traceback, "
                   "and please report it)", err=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
