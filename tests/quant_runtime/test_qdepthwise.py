"""The AVX2 int8 depthwise kernel (qconv2d_int8_depthwise__avx2) on awkward shapes -- widths
below, at and across its 8/16-output steps, odd and even kernel widths (an odd last tap is paired
with 0), 1-wide kernels, stride 2 in either direction, asymmetric padding, batch 2, uint8 and
int8 activations, a fused Relu -- equals the numpy reference of the compiled graph bit for bit,
and onnxruntime running the QDQ model as written within one step. Models are quantized by
onnxruntime's quantize_static on SYNTHETIC standard-normal calibration data."""
from __future__ import annotations

import numpy as np
import pytest

import lne
from lne.compiler import compile_model
from lne.session import find_manifest
from lne.targets import get as get_target

from .qdq_models import check_qconv_kernel, conv_model, quantize_ort

AVX2 = "avx2" in get_target("host").isa

CASES = {  # name: (N, C, H, W, (kh, kw), (sh, sw), pads [t, l, b, r], relu)
    "w1": (1, 5, 9, 1, (3, 3), (1, 1), [1, 1, 1, 1], True),
    "w17_s2_asym": (1, 3, 8, 17, (3, 3), (2, 2), [0, 1, 1, 0], False),
    "w33_k5": (1, 4, 7, 33, (5, 5), (1, 1), [2, 2, 2, 2], True),
    "k3x1_s21": (1, 2, 6, 16, (3, 1), (2, 1), [1, 0, 1, 0], False),
    "k1x7": (1, 3, 10, 31, (1, 7), (1, 1), [0, 3, 0, 3], True),
    "batch2_s2": (2, 3, 5, 20, (3, 3), (2, 2), [1, 1, 1, 1], True),
    "s12_w15": (1, 6, 11, 15, (3, 3), (1, 2), [1, 1, 0, 1], False),
}


def _model(path, n, c, h, w, k, s, pads, relu):
    return conv_model(path, (n, c, h, w), c, k, s, pads, group=c, relu=relu)


@pytest.mark.skipif(not AVX2, reason="host without AVX2")
@pytest.mark.parametrize("mode", ["u8", "s8"])
@pytest.mark.parametrize("case", list(CASES))
def test_avx2_depthwise_equals_reference(case, mode, tmp_path):
    n, c, h, w, k, s, pads, relu = CASES[case]
    q = quantize_ort(_model(tmp_path / f"{case}.onnx", n, c, h, w, k, s, pads, relu), tmp_path / "q.onnx", mode,
                     per_channel=True, samples=2)
    check_qconv_kernel(q, (n, c, h, w), "qconv2d_int8_depthwise__avx2", tmp_path / "b")


@pytest.mark.parametrize("case,mode", [("w17_s2_asym", "u8"), ("k1x7", "s8"), ("batch2_s2", "u8")])
def test_neon_depthwise_matches_host(case, mode, tmp_path):
    """The AArch64 NEON path (rpi4, under qemu-user) computes exactly what the host computes."""
    import shutil

    from lne.run import run_bundle

    t = get_target("rpi4")
    if shutil.which(t.compiler()) is None or shutil.which(t.qemu[0]) is None:
        pytest.skip("aarch64 cross compiler or qemu-aarch64 not installed")
    n, c, h, w, k, s, pads, relu = CASES[case]
    q = quantize_ort(_model(tmp_path / f"{case}.onnx", n, c, h, w, k, s, pads, relu), tmp_path / "q.onnx", mode,
                     per_channel=True, samples=2)
    bundle = compile_model(q, tmp_path / "arm", "rpi4", build=True)
    assert [nd["kernel"] for nd in find_manifest(bundle)["nodes"] if nd["op"] == "QConv"] == \
        ["qconv2d_int8_depthwise__neon"]
    x = (np.random.default_rng(3).standard_normal((n, c, h, w)) * 1.5).astype(np.float32)
    (got,) = run_bundle(bundle, [x], "rpi4")
    host = lne.InferenceSession(compile_model(q, tmp_path / "host")).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, host)
