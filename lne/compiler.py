"""compile_model: frontend -> passes -> bundle (-> build)."""
from __future__ import annotations

from pathlib import Path

from . import targets
from .codegen import c_identifier, write_bundle
from .errors import LNEError
from .passes import run as run_passes


def load_model(model, weights=None, input_shapes=None):
    """Read a model file with the frontend its suffix names."""
    path = Path(model)
    suffix = path.suffix.lower()
    if suffix == ".prototxt":
        try:
            from .frontends import caffe
        except ImportError:
            raise LNEError(f"{path}: Caffe models are not supported yet") from None
        return caffe.load(path, weights, input_shapes)
    from .frontends import onnx as onnx_frontend

    if weights is not None:
        raise LNEError("--weights applies to Caffe models only")
    return onnx_frontend.load(path, input_shapes)


def check_output(out_dir, force: bool = False, build: bool = False, inputs=()) -> Path:
    """Check the bundle folder before any work (lne.outputs): not a user's folder (unless force),
    not holding one of the ``inputs`` (replacing it would delete them), a path CMake can take
    when building. Returns its absolute path."""
    from .codegen.bundle import is_legacy_bundle
    from .limits import plain
    from .outputs import check_folder

    full = check_folder(out_dir, "bundle", force, legacy=is_legacy_bundle)
    for f in inputs:
        if not f:
            continue
        try:
            real, dest = Path(f).resolve(), full.resolve()
        except (OSError, RuntimeError):
            continue
        if real == dest or dest in real.parents:
            raise LNEError(f"output folder {plain(str(out_dir), 200)}: holds the input {plain(str(f), 200)}; "
                           "writing the bundle there would delete it (choose another folder)")
    if build:
        from .build import check_build_path
        check_build_path(full, "output folder")
    return full


def compile_model(model, out_dir, target: str = "host", *, name: str | None = None, weights=None,
                  input_shapes=None, debug: bool = False, planner: str | None = None, plan=None,
                  dump_after=(), build: bool = False, plugins=(), exact: bool = False, force: bool = False,
                  extra_files=None, log=None) -> Path:
    """Compile `model` into a bundle folder; with build=True also build it. Returns out_dir.
    exact=True: quantized layers run only on kernels that compute their integer semantics bit for
    bit (no fp32 Winograd stand-in; what onnxruntime's fused integer kernels compute).
    out_dir is checked first (lne.outputs): an existing folder is replaced only if it is an LNE
    bundle, or with force=True. extra_files: {name: file} copied into the bundle."""
    tgt = targets.get(target)
    check_output(out_dir, force, build, inputs=(model, weights))
    from .plugins import get as get_plugin
    for p in plugins:
        get_plugin(p)  # registers its kernels; unknown names fail here, before any work
    from .passes import no_cyclic_gc
    with no_cyclic_gc():  # a large graph stays alive throughout; collections would walk it again and again
        graph = load_model(model, weights, input_shapes)
    options = {"isa": tgt.isa, "debug": debug, "planner": planner, "kernels": plan or {},
               "plugins": tuple(plugins), "exact": exact}
    run_passes(graph, options, dump_after=dump_after)
    with no_cyclic_gc():
        bundle = write_bundle(graph, out_dir, tgt, c_identifier(name or Path(model).stem), debug=debug,
                              source=model, force=force, extra_files=extra_files, log=log)
    if build:
        from .build import build_bundle
        build_bundle(bundle)  # its build/ folder is inside the bundle: a failure leaves nothing else
    return bundle
