"""The sdot int8 convolution (rpi5: Cortex-A76, ARMv8.2 dot product), run under qemu-user with
that CPU model, computes exactly what the host build computes, on the awkward QDQ model (3x3
with K odd and 19 output channels, stride 2 with asymmetric pads, 1x1, grouped dilated -- which
stays on the smull kernel) for uint8 and int8 activations; its weight packing is checked in
numpy."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import lne
from lne.compiler import compile_model
from lne.kernels.qdot import pack_weights_dot
from lne.session import find_manifest
from lne.targets import get as get_target

from .qdq_models import awkward_model, quantize_ort


def test_packing_is_tiles_of_16_channels_by_4_k():
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (19, 5, 3, 3)).astype(np.int8)  # K = 45: kq = 12, two tiles
    p = pack_weights_dot(w).reshape(2, 12, 16, 4)
    k = w.reshape(19, 45)
    for m in range(32):
        for kk in range(48):
            want = k[m, kk] if m < 19 and kk < 45 else 0
            assert p[m // 16, kk // 4, m % 16, kk % 4] == want


@pytest.mark.parametrize("mode,per_channel", [("u8", True), ("s8", False)])
def test_rpi5_sdot_matches_host(mode, per_channel, tmp_path):
    t = get_target("rpi5")
    if shutil.which(t.compiler()) is None or shutil.which(t.qemu[0]) is None:
        pytest.skip("aarch64 cross compiler or qemu-aarch64 not installed")
    from lne.run import run_bundle

    q = quantize_ort(awkward_model(tmp_path / "awkward.onnx"), tmp_path / "q.onnx", mode, per_channel)
    bundle = compile_model(q, tmp_path / "rpi5", "rpi5", build=True)
    kernels = [n["kernel"] for n in find_manifest(bundle)["nodes"] if n["op"] == "QConv"]
    assert kernels.count("qconv2d_int8_dot__dotprod") == 3, kernels   # a, c, e; b depthwise, d grouped
    x = np.random.default_rng(4).standard_normal((1, 5, 60, 52)).astype(np.float32)
    (got,) = run_bundle(bundle, [x], "rpi5")
    host = lne.InferenceSession(compile_model(q, tmp_path / "host")).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, host)
