"""The exact integer Winograd F(2x2, 3x3) int8 kernel (qconv2d_int8_winograd__avx2) equals the
numpy reference of the compiled graph (the direct integer convolution) bit for bit on awkward
shapes: odd channel counts (K padding), 19 and 40 output channels (8- and 16-wide weight panels),
odd output sizes (partial tiles), more tiles than one block, asymmetric padding, batch 2, a fused
Relu, uint8 and int8 activations; its weight transform is checked against the direct
convolution in numpy. Models are quantized by onnxruntime's quantize_static on SYNTHETIC data."""
from __future__ import annotations

import numpy as np
import pytest

from lne.compiler import compile_model, load_model
from lne.kernels.qwinograd import G2
from lne.passes import run as run_passes
from lne.targets import get as get_target

from .qdq_models import check_qconv_kernel, conv_model, quantize_ort

AVX2 = "avx2" in get_target("host").isa

CASES = {  # name: (N, C, M, H, W, pads [t, l, b, r], relu)
    "c5_m19_odd": (1, 5, 19, 9, 7, [1, 1, 1, 1], True),
    "c40_m40_blocks": (1, 40, 40, 20, 26, [1, 1, 1, 1], False),   # 130 tiles: three blocks of 64
    "asym_pad": (1, 3, 8, 6, 11, [0, 1, 1, 0], True),
    "batch2_nopad": (2, 16, 24, 7, 8, [0, 0, 0, 0], False),
}


def test_integer_transform_is_four_times_the_convolution():
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])
    rng = np.random.default_rng(0)
    for _ in range(50):
        g, d = rng.integers(-128, 128, (3, 3)), rng.integers(-255, 256, (4, 4))
        y = at @ ((G2 @ g @ G2.T) * (bt @ d @ bt.T)) @ at.T
        direct = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)])
        np.testing.assert_array_equal(y, 4 * direct)


def _model(path, n, c, m, h, w, pads, relu):
    return conv_model(path, (n, c, h, w), m, (3, 3), (1, 1), pads, relu=relu)


@pytest.mark.skipif(not AVX2, reason="host without AVX2")
@pytest.mark.parametrize("mode", ["u8", "s8"])
@pytest.mark.parametrize("case", list(CASES))
def test_integer_winograd_equals_direct_convolution(case, mode, tmp_path):
    n, c, m, h, w, pads, relu = CASES[case]
    q = quantize_ort(_model(tmp_path / f"{case}.onnx", n, c, m, h, w, pads, relu), tmp_path / "q.onnx", mode,
                     per_channel=True, samples=2)
    check_qconv_kernel(q, (n, c, h, w), "qconv2d_int8_winograd__avx2", tmp_path / "b", force=True)


@pytest.mark.skipif(not AVX2, reason="host without AVX2")
def test_default_is_exact_and_exact_refuses_the_fp32_stand_in(tmp_path):
    """By default a 3x3 int8 layer runs on the exact integer Winograd; the fp32 Winograd stand-in
    (within one step) stays a candidate a plan may force, which `exact` then refuses."""
    from lne.errors import LNEError
    from lne.passes.select import candidates

    n, c, m, h, w, pads, relu = CASES["c40_m40_blocks"]
    q = quantize_ort(_model(tmp_path / "c40.onnx", n, c, m, h, w, pads, relu), tmp_path / "q.onnx", "u8",
                     per_channel=True, samples=2)
    g = load_model(q)
    run_passes(g, {"isa": get_target("host").isa})
    conv = next(nd for nd in g.nodes if nd.op == "QConv")
    assert conv.kernel == "qconv2d_int8_winograd__avx2"
    stand_in = [k.name for k in candidates(conv, g, {"isa": get_target("host").isa}) if not k.exact]
    assert stand_in and all("f32_winograd" in k for k in stand_in)
    plan = {conv.name: stand_in[0]}
    compile_model(q, tmp_path / "planned", plan=plan)   # allowed without exact
    with pytest.raises(LNEError, match="does not apply"):
        compile_model(q, tmp_path / "exact", plan=plan, exact=True)
