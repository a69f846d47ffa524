"""`lne run`: run a bundle's example app on .npy inputs, natively or under qemu for a board."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import targets
from .errors import LNEError


def app_path(bundle: Path, m: dict) -> Path:
    return bundle / "build" / f"{m['name']}_example"


def ensure_built(bundle: Path, m: dict) -> Path:
    app = app_path(bundle, m)
    if not app.is_file():
        from .build import build_bundle
        build_bundle(bundle)
    return app


def run_bundle(bundle, inputs: list[np.ndarray], target: str | None = None, timeout: float = 600) -> list[np.ndarray]:
    """Run the example app of a bundle (under the target's emulator) and return its outputs."""
    from .session import find_manifest

    bundle = Path(bundle)
    m = find_manifest(bundle)
    if target is not None and target != m["target"]:
        raise LNEError(f"{bundle} was compiled for target {m['target']!r}, not {target!r}")
    tgt = targets.get(m["target"])
    if len(inputs) != len(m["inputs"]):
        raise LNEError(f"{bundle} takes {len(m['inputs'])} input(s), got {len(inputs)}")
    app = ensure_built(bundle, m)
    with tempfile.TemporaryDirectory(prefix="lne-run-") as tmp:
        in_files = []
        for i, (x, spec) in enumerate(zip(inputs, m["inputs"])):
            x = np.asarray(x)
            if list(x.shape) != spec["shape"]:
                raise LNEError(f"input {i} ({spec['name']!r}) has shape {list(x.shape)}; the bundle expects "
                               f"{spec['shape']}")
            path = Path(tmp) / f"in{i}.bin"
            np.ascontiguousarray(x, dtype="<f4").tofile(path)
            in_files.append(str(path))
        out_files = [str(Path(tmp) / f"out{i}.bin") for i in range(len(m["outputs"]))]
        cmd = [*tgt.emulator(), str(app), str(bundle / f"{m['name']}.weights.bin"), *in_files, *out_files]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LNEError(f"{app.name} did not finish in {timeout:.0f} s") from None
        if proc.returncode != 0:
            reason = "illegal instruction (the build uses an instruction this CPU lacks)" if proc.returncode in (
                -4, 132) else f"exit status {proc.returncode}"
            raise LNEError(f"{app.name} failed on {tgt.name}: {reason}\n{proc.stderr.strip()}")
        return [np.fromfile(f, dtype="<f4").reshape(spec["shape"]) for f, spec in zip(out_files, m["outputs"])]
