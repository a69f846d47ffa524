"""Shared fixtures: reference networks exported once per session, compile-and-run helpers."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def reference_model(model_dir):
    """reference_model(name) -> path of the exported ONNX reference network (cached)."""
    def get(name: str) -> Path:
        pytest.importorskip("torch")
        from lne.models import export_onnx

        path = model_dir / f"{name}.onnx"
        if not path.exists():
            export_onnx(name, path)
        return path
    return get


def ort_run(model, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def lne_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run the `lne` command line in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "lne.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def random_feeds(sess, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {t.name: rng.standard_normal(t.shape).astype(np.float32) for t in sess.get_inputs()}


@pytest.fixture
def compile_run(tmp_path):
    """compile_run(model_path_or_proto, feeds) -> (lne outputs, session) via a host build."""
    import lne
    from lne.compiler import compile_model

    counter = [0]

    def run(model, feeds, **kw):
        counter[0] += 1
        if not isinstance(model, (str, Path)):
            import onnx
            path = tmp_path / f"m{counter[0]}.onnx"
            onnx.save(model, str(path))
            model = path
        bundle = compile_model(model, tmp_path / f"b{counter[0]}", **kw)
        sess = lne.InferenceSession(bundle)
        return sess.run(None, feeds), sess
    return run


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
