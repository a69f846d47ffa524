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


def compile_model(model, out_dir, target: str = "host", *, name: str | None = None, weights=None,
                  input_shapes=None, debug: bool = False, planner: str | None = None, plan=None,
                  dump_after=(), build: bool = False, plugins=(), exact: bool = False) -> Path:
    """Compile `model` into a bundle folder; with build=True also build it. Returns out_dir.
    exact=True: quantized layers run only on kernels that compute their integer semantics bit for
    bit (no fp32 Winograd stand-in; what onnxruntime's fused integer kernels compute)."""
    tgt = targets.get(target)
    from .plugins import get as get_plugin
    for p in plugins:
        get_plugin(p)  # registers its kernels; unknown names fail here, before any work
    graph = load_model(model, weights, input_shapes)
    options = {"isa": tgt.isa, "debug": debug, "planner": planner, "kernels": plan or {},
               "plugins": tuple(plugins), "exact": exact}
    run_passes(graph, options, dump_after=dump_after)
    bundle = write_bundle(graph, out_dir, tgt, c_identifier(name or Path(model).stem), debug=debug,
                          source=model)
    if build:
        from .build import build_bundle
        build_bundle(bundle)
    return bundle
