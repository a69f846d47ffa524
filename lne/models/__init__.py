"""Reference networks for testing and benchmarking LNE (PyTorch definitions + ONNX export).

The 8 keyword-spotting nets of the Bonseyes AI pipeline paper (Tables 1, 4, 5; input
1x1x40x32 MFCC, 12 classes) and the 5 ImageNet nets of its section 8.2.3 (input 1x3x224x224,
1000 classes), with deterministic random weights. See ``lne.models.kws`` and
``lne.models.vision`` for the architecture choices.

Importing this package does not import torch; :func:`build` and :func:`export_onnx` need it
(``pip install 'lne[torch]'``) and raise :class:`MissingTorchError` otherwise.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import LNEError

KWS_NAMES: tuple[str, ...] = (
    "kws_cnn", "ds_cnn", "kws1", "kws3", "kws9", "ds_kws1", "ds_kws3", "ds_kws9",
)
VISION_NAMES: tuple[str, ...] = ("alexnet", "googlenet", "squeezenet1_1", "mobilenet_v2", "resnet50")
NAMES: tuple[str, ...] = KWS_NAMES + VISION_NAMES

INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    **{n: (1, 1, 40, 32) for n in KWS_NAMES},
    **{n: (1, 3, 224, 224) for n in VISION_NAMES},
}
NUM_CLASSES: dict[str, int] = {**{n: 12 for n in KWS_NAMES}, **{n: 1000 for n in VISION_NAMES}}

__all__ = ["NAMES", "KWS_NAMES", "VISION_NAMES", "INPUT_SHAPES", "NUM_CLASSES",
           "build", "export_onnx", "MissingTorchError", "UnknownModelError"]


class MissingTorchError(LNEError, ImportError):
    """PyTorch is needed (for lne.models.build / export_onnx) but not installed."""


class UnknownModelError(LNEError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(NAMES)}")


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise MissingTorchError(
            "lne.models needs PyTorch to build or export the reference networks: "
            "install lne[torch]  (pip install 'lne[torch]')") from e


def build(name: str, seed: int = 0):
    """Return ``(module, input_shape)``: the network ``name`` in eval() mode with deterministic
    random weights for ``seed``, and its input shape (N, C, H, W)."""
    _check_name(name)
    _require_torch()
    from .zoo import build as _build
    return _build(name, seed)


def export_onnx(name: str, path, opset: int = 17, seed: int = 0) -> Path:
    """Export ``build(name, seed)`` to ONNX at ``path`` (input "input", output "output", static
    shapes, BatchNormalization kept as nodes); returns the path."""
    _check_name(name)
    _require_torch()
    from .export import export_onnx as _export
    return _export(name, path, opset=opset, seed=seed)
