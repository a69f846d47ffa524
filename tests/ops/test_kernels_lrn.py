"""LRN runtime kernel (runtime/kernels/lrn) against numpy and onnxruntime."""
import numpy as np
import pytest

import lne._kernels as K


def lrn_np(x, size, alpha, beta, bias):
    n, c, inner = x.shape
    x = x.astype(np.float64)
    sq = x * x
    s = np.zeros_like(x)
    lo_off, hi_off = (size - 1) // 2, -(-(size - 1) // 2)
    for ci in range(c):
        lo, hi = max(0, ci - lo_off), min(c - 1, ci + hi_off)
        s[:, ci] = sq[:, lo:hi + 1].sum(axis=1)
    return x / (bias + alpha / size * s) ** beta


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("beta", [0.75, 0.5, 1.3])
@pytest.mark.parametrize("n,c,inner", [(1, 3, 1), (2, 13, 10), (1, 5, 7 * 7)])
def test_lrn(size, beta, n, c, inner):
    rng = np.random.default_rng(size * 100 + c)
    x = (rng.standard_normal((n, c, inner)) * 3).astype(np.float32)
    y = np.full_like(x, np.nan)
    K.lrn_f32_ref(n, c, inner, size, 1e-2, beta, 2.0, x, y)
    np.testing.assert_allclose(y, lrn_np(x, size, 1e-2, beta, 2.0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [1, 3, 5])  # onnxruntime only accepts odd sizes
def test_lrn_vs_onnxruntime(size):
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = (np.random.default_rng(size).standard_normal((2, 7, 3, 4)) * 2).astype(np.float32)
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=1e-3, beta=0.75, bias=1.0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    y = np.zeros_like(x)
    K.lrn_f32_ref(2, 7, 12, size, 1e-3, 0.75, 1.0, x, y)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_lrn_errors():
    x = np.zeros((1, 3, 4), np.float32)
    with pytest.raises(ValueError):
        K.lrn_f32_ref(1, 3, 4, 3, 1e-4, 0.75, 1.0, x, x)
    with pytest.raises(ValueError):
        K.lrn_f32_ref(1, 3, 5, 3, 1e-4, 0.75, 1.0, x, np.zeros((1, 3, 4), np.float32))
