"""LNE: an ahead-of-time compiler from ONNX / Caffe models to dependency-free C++ bundles."""
from pathlib import Path as _Path

__version__ = "0.1.0"

# In a source checkout `frontends/` and `pipeline/` sit beside `lne/`; an installed wheel maps
# them to lne.frontends / lne.pipeline. Extending __path__ makes both layouts import the same way.
_src_root = _Path(__file__).resolve().parent.parent
if (_src_root / "frontends").is_dir() and str(_src_root) not in __path__:
    __path__.append(str(_src_root))

from .errors import LNEError  # noqa: E402


def __getattr__(name):
    # Lazy: importing lne must stay cheap (no cffi / onnxruntime until a session is made).
    if name == "InferenceSession":
        from .session import InferenceSession
        return InferenceSession
    if name == "compile_model":
        from .compiler import compile_model
        return compile_model
    raise AttributeError(name)
