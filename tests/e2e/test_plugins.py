"""The OpenBLAS plugin: its kernels compete only when asked for, and compute the same."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ..conftest import ort_run

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"
HAVE_OPENBLAS = any(Path(p).exists() for p in ("/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/cblas.h",
                                                "/usr/include/aarch64-linux-gnu/cblas.h"))


@pytest.mark.skipif(not HAVE_OPENBLAS, reason="OpenBLAS headers not installed (apt-get install libopenblas-dev)")
@pytest.mark.parametrize("name", ["ds_cnn", "kws1"])
def test_openblas_plugin_matches_onnxruntime(compile_run, reference_model, name):
    """ds_cnn: its convs run in the blocked layout (no OpenBLAS kernel there), its Gemm on OpenBLAS;
    kws1 (NCHW throughout): its convs on OpenBLAS too."""
    model = SAMPLE if name == "ds_cnn" else reference_model(name)
    x = np.random.default_rng(5).standard_normal((1, 1, 40, 32)).astype(np.float32)
    (expected,) = ort_run(model, {"input": x})
    (got,), sess = compile_run(model, {"input": x}, plugins=("openblas",))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    kernels = {n["kernel"] for n in sess.manifest["nodes"]}
    assert "gemm_f32_openblas" in kernels and sess.manifest["plugins"] == ["openblas"]
    assert name == "ds_cnn" or "conv2d_f32_openblas" in kernels
    assert "openblas" in (sess.bundle / f"{sess.manifest['name']}Config.cmake").read_text()


def test_plugin_kernels_stay_out_unless_asked(compile_run):
    x = np.zeros((1, 1, 40, 32), np.float32)
    _, sess = compile_run(SAMPLE, {"input": x})
    assert not any("openblas" in n["kernel"] for n in sess.manifest["nodes"])
    assert sess.manifest["plugins"] == []


def test_unknown_plugin_is_a_clear_error(tmp_path):
    from ..conftest import lne_cli

    r = lne_cli("compile", SAMPLE, "-o", tmp_path / "o", "--plugin", "mkl")
    assert r.returncode == 2 and "unknown plugin 'mkl'" in r.stderr and not (tmp_path / "o").exists()
