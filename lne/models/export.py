"""ONNX export of the reference networks.

    python -m lne.models.export NAME -o PATH [--opset N] [--seed S]
    python -m lne.models.export --all -o DIR [--opset N] [--seed S]   # writes DIR/NAME.onnx
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

from . import NAMES, _check_name, _require_torch


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the TorchScript exporter's deprecation / tracer warnings and its stdout chatter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=r".*TorchScript.*")
        try:
            import torch.jit
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
        except (ImportError, AttributeError):
            pass
        yield


def export_onnx(name: str, path, opset: int = 17, seed: int = 0) -> Path:
    """Export ``lne.models.build(name, seed)`` to the ONNX file ``path``; returns it as a Path.

    TorchScript exporter (``dynamo=False``), static shapes, input ``"input"``, output
    ``"output"``. ``training=PRESERVE`` on the eval()-mode module exports inference semantics
    *without* the exporter's Conv+BatchNorm fusion, so BatchNormalization nodes stay in the
    graph for LNE to fold."""
    _check_name(name)
    _require_torch()
    import torch

    from .zoo import build

    model, shape = build(name, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    with _quiet_exporter(), torch.no_grad():
        torch.onnx.export(
            model, (x,), str(path),
            dynamo=False,
            export_params=True,
            opset_version=opset,
            input_names=["input"],
            output_names=["output"],
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=True,
        )
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lne.models.export",
                                description="Export LNE's reference networks to ONNX.")
    p.add_argument("name", nargs="?", choices=NAMES, metavar="NAME",
                   help="one of: " + ", ".join(NAMES))
    p.add_argument("--all", action="store_true", help="export all networks into directory -o")
    p.add_argument("-o", "--output", required=True, type=Path,
                   help="output .onnx file (or directory with --all)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    a = p.parse_args(argv)
    if a.all == (a.name is not None):
        p.error("give exactly one of NAME or --all")
    jobs = [(n, a.output / f"{n}.onnx") for n in NAMES] if a.all else [(a.name, a.output)]
    try:
        for name, out in jobs:
            t0 = time.perf_counter()
            export_onnx(name, out, opset=a.opset, seed=a.seed)
            size = out.stat().st_size
            print(f"{name}: {out} ({size / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s)")
    except ImportError as e:  # MissingTorchError
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
