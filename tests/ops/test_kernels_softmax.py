"""Softmax / LogSoftmax runtime kernel (runtime/kernels/softmax) against numpy."""
import numpy as np
import pytest

import lne._kernels as K


def softmax_np(x, log):
    x = x.astype(np.float64)
    z = x - x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z - lse if log else np.exp(z - lse)


@pytest.mark.parametrize("log", [0, 1], ids=["softmax", "logsoftmax"])
@pytest.mark.parametrize("outer,axis_len,inner", [
    (1, 1, 1), (1, 1000, 1), (4, 10, 1), (2, 5, 7), (3, 1, 9), (1, 13, 64), (2, 3, 64 * 2 + 5),
    (1, 21, 49),
])
def test_softmax(log, outer, axis_len, inner):
    rng = np.random.default_rng(outer * axis_len * inner)
    x = (rng.standard_normal((outer, axis_len, inner)) * 5).astype(np.float32)
    y = np.full_like(x, np.nan)
    K.softmax_f32_ref(outer, axis_len, inner, x, y, log)
    np.testing.assert_allclose(y, softmax_np(x, log), rtol=1e-5, atol=1e-6)
    xi = x.copy()
    K.softmax_f32_ref(outer, axis_len, inner, xi, xi, log)  # in place
    np.testing.assert_allclose(xi, y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("log", [0, 1], ids=["softmax", "logsoftmax"])
def test_softmax_large_values_stable(log):
    x = np.array([[[1000.0], [1001.0], [-1000.0]], [[-1e30], [0.0], [88.0]]], np.float32)
    y = np.zeros_like(x)
    K.softmax_f32_ref(2, 3, 1, x, y, log)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, softmax_np(x, log), rtol=1e-5, atol=1e-6)


def test_softmax_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        K.softmax_f32_ref(2, 3, 2, x, np.zeros((2, 3), np.float32))
    buf = np.zeros(10, np.float32)
    with pytest.raises(ValueError):
        K.softmax_f32_ref(1, 3, 2, buf[:6], buf[2:8])
