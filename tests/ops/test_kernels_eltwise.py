"""Element-wise runtime kernels (runtime/kernels/eltwise) against numpy."""
import numpy as np
import pytest

import lne._kernels as K

from .act_oracle import act_np

RTOL, ATOL = 1e-5, 1e-6

ACTS = [
    (K.ACT_NONE, 0.0, 0.0),
    (K.ACT_RELU, 0.0, 0.0),
    (K.ACT_CLIP, -0.5, 0.7),
    (K.ACT_CLIP, 0.0, 6.0),
    (K.ACT_LEAKY_RELU, 0.1, 0.0),
    (K.ACT_SIGMOID, 0.0, 0.0),
    (K.ACT_TANH, 0.0, 0.0),
    (K.ACT_HARD_SIGMOID, 0.2, 0.5),
    (K.ACT_HARD_SWISH, 0.0, 0.0),
]




ACT_IDS = [f"act{a[0]}_{a[1]}" for a in ACTS]


# --- unary ---------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("n", [1, 7, 8, 1000 + 3])
def test_unary(act, n):
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(np.float32)
    x[0] = 0.0
    y = np.full(n, np.nan, np.float32)
    K.unary_f32_ref(act, n, x, y)
    np.testing.assert_allclose(y, act_np(act, x), rtol=RTOL, atol=ATOL)
    # in place; also the dict / int forms of act
    xi = x.copy()
    K.unary_f32_ref({"kind": act[0], "alpha": act[1], "beta": act[2]}, n, xi, xi)
    np.testing.assert_array_equal(xi, y)


def test_unary_act_forms_and_errors():
    x = np.array([-1.0, 2.0], np.float32)
    y = np.zeros(2, np.float32)
    K.unary_f32_ref(K.ACT_RELU, 2, x, y)
    np.testing.assert_array_equal(y, [0.0, 2.0])
    K.unary_f32_ref(None, 2, x, y)
    np.testing.assert_array_equal(y, x)
    with pytest.raises(ValueError):
        K.unary_f32_ref((99, 0, 0), 2, x, y)
    with pytest.raises(ValueError):
        K.unary_f32_ref(K.ACT_RELU, 3, x, y)
    buf = np.zeros(4, np.float32)
    with pytest.raises(ValueError):  # partial overlap
        K.unary_f32_ref(K.ACT_RELU, 3, buf[:3], buf[1:])


# --- binary --------------------------------------------------------------------------------

def bstrides(shape, out_shape):
    """Element strides of a C-contiguous `shape` broadcast (numpy rules) to out_shape."""
    r = len(out_shape)
    s = [1] * (r - len(shape)) + list(shape)
    st, acc = [0] * r, 1
    for d in range(r - 1, -1, -1):
        st[d] = acc if s[d] != 1 else 0
        acc *= s[d]
    return st


OPS = {
    K.BIN_ADD: np.add,
    K.BIN_SUB: np.subtract,
    K.BIN_MUL: np.multiply,
    K.BIN_DIV: np.divide,
    K.BIN_PRELU: lambda a, b: np.where(a >= 0, a, a * b),
    K.BIN_MAX: np.maximum,
    K.BIN_MIN: np.minimum,
}

SHAPES = [
    ((2, 5, 4, 3), (2, 5, 4, 3)),    # same shape
    ((2, 5, 4, 3), ()),              # b scalar
    ((), (3, 4)),                    # a scalar
    ((2, 5, 4, 3), (1, 5, 1, 1)),    # per channel
    ((2, 13, 3, 3), (13, 1, 1)),     # per channel, lower rank
    ((1, 5, 1, 1), (2, 5, 4, 3)),    # a per channel
    ((3, 7), (7,)),                  # row vector
    ((3, 7), (3, 1)),                # column vector
    ((3, 1, 5), (1, 4, 1)),          # both broadcast
    ((2, 1, 3, 1, 2, 1), (1, 4, 1, 2, 1, 3)),  # rank 6
    ((9,), (9,)),                    # rank 1
    ((1,), (1,)),
    ((4, 6, 1), (4, 6, 5)),
    ((2, 3, 4, 5), (2, 1, 4, 1)),
]


@pytest.mark.parametrize("kind", list(OPS), ids=[f"bin{k}" for k in OPS])
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_binary(kind, sa, sb):
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    if kind == K.BIN_DIV:
        b = np.where(np.abs(b) < 0.1, 0.5, b).astype(np.float32)
    out = np.broadcast_shapes(sa, sb) or (1,)
    p = dict(kind=kind, out_shape=list(out), a_strides=bstrides(sa, out), b_strides=bstrides(sb, out))
    y = np.full(out, np.nan, np.float32)
    K.binary_f32_ref(p, np.ascontiguousarray(a), np.ascontiguousarray(b), y)
    want = OPS[kind](a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(y, np.broadcast_to(want, out), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("sa,sb", [((2, 5, 4, 3), (1, 5, 1, 1)), ((3, 7), (3, 7)), ((4, 1), (1, 5))])
def test_binary_acts(act, sa, sb):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(sa) * 3).astype(np.float32)
    b = (rng.standard_normal(sb) * 3).astype(np.float32)
    out = np.broadcast_shapes(sa, sb)
    p = dict(kind=K.BIN_ADD, out_shape=list(out), a_strides=bstrides(sa, out),
             b_strides=bstrides(sb, out), act=act)
    y = np.zeros(out, np.float32)
    K.binary_f32_ref(p, a, b, y)
    np.testing.assert_allclose(y, act_np(act, a.astype(np.float64) + b), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", list(OPS), ids=[f"bin{k}" for k in OPS])
def test_binary_in_place(kind):
    rng = np.random.default_rng(kind)
    a = rng.standard_normal((2, 5, 6)).astype(np.float32)
    b = (rng.standard_normal((5, 1)) + 3).astype(np.float32)
    out = (2, 5, 6)
    want = OPS[kind](a.astype(np.float64), b.astype(np.float64))
    # y aliases a (not broadcast), b per-channel
    p = dict(kind=kind, out_shape=list(out), a_strides=bstrides(a.shape, out),
             b_strides=bstrides(b.shape, out), act=(K.ACT_RELU, 0, 0))
    ya = a.copy()
    K.binary_f32_ref(p, ya, b, ya)
    np.testing.assert_allclose(ya, np.maximum(want, 0), rtol=RTOL, atol=ATOL)
    # y aliases b (not broadcast), a broadcast along the first dim
    a2 = rng.standard_normal((5, 6)).astype(np.float32)
    b2 = (rng.standard_normal(out) + 3).astype(np.float32)
    want2 = OPS[kind](a2.astype(np.float64), b2.astype(np.float64))
    p2 = dict(kind=kind, out_shape=list(out), a_strides=bstrides(a2.shape, out),
              b_strides=bstrides(b2.shape, out))
    yb = b2.copy()
    K.binary_f32_ref(p2, a2, yb, yb)
    np.testing.assert_allclose(yb, want2, rtol=RTOL, atol=ATOL)
    # both operands the same buffer as y
    s = a.copy()
    p3 = dict(kind=kind, out_shape=list(out), a_strides=bstrides(out, out), b_strides=bstrides(out, out))
    K.binary_f32_ref(p3, s, s, s)
    if kind != K.BIN_DIV:
        np.testing.assert_allclose(s, OPS[kind](a.astype(np.float64), a.astype(np.float64)), rtol=RTOL, atol=ATOL)


def test_binary_random_broadcasts():
    rng = np.random.default_rng(11)
    for it in range(60):
        r = int(rng.integers(1, 7))
        out = [int(v) for v in rng.integers(1, 5, size=r)]
        sa = [d if rng.random() < 0.6 else 1 for d in out][int(rng.integers(0, r)):]
        sb = [d if rng.random() < 0.6 else 1 for d in out][int(rng.integers(0, r)):]
        kind = int(rng.integers(0, 7))
        a = rng.standard_normal(sa).astype(np.float32)
        b = (rng.standard_normal(sb) + (4 if kind == K.BIN_DIV else 0)).astype(np.float32)
        o = list(np.broadcast_shapes(tuple(sa), tuple(sb), tuple(out)))
        p = dict(kind=kind, out_shape=o, a_strides=bstrides(sa, o), b_strides=bstrides(sb, o))
        y = np.full(o, np.nan, np.float32)
        K.binary_f32_ref(p, a, b, y)
        want = np.broadcast_to(OPS[kind](a.astype(np.float64), b.astype(np.float64)), o)
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL, err_msg=f"{sa} {sb} {o} {kind}")


def test_binary_strided_operand():
    """Strides need not be contiguous: a is every other element of a bigger buffer."""
    a_buf = np.arange(24, dtype=np.float32)
    b = np.ones(12, np.float32)
    y = np.zeros((3, 4), np.float32)
    K.binary_f32_ref(dict(kind=K.BIN_ADD, out_shape=[3, 4], a_strides=[8, 2], b_strides=[4, 1]), a_buf, b, y)
    np.testing.assert_array_equal(y, a_buf.reshape(3, 8)[:, ::2] + 1)


def test_binary_errors():
    a = np.zeros((2, 3), np.float32)
    b = np.zeros(3, np.float32)
    y = np.zeros((2, 3), np.float32)
    good = dict(kind=K.BIN_ADD, out_shape=[2, 3], a_strides=[3, 1], b_strides=[0, 1])
    K.binary_f32_ref(good, a, b, y)
    with pytest.raises(ValueError):
        K.binary_f32_ref(dict(good, b_strides=[3, 1]), a, b, y)  # b too small for its strides
    with pytest.raises(ValueError):
        K.binary_f32_ref(dict(good, kind=42), a, b, y)
    with pytest.raises(ValueError):
        K.binary_f32_ref(dict(good, out_shape=[1, 2, 3]), a, b, y)
    with pytest.raises(ValueError):
        K.binary_f32_ref(dict(good, out_shape=[1] * 7, a_strides=[0] * 7, b_strides=[0] * 7), a, b, y)
    bb = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):  # y aliasing the broadcast operand
        K.binary_f32_ref(dict(good, out_shape=[2, 3], b_strides=[0, 1]), a, bb, bb)


# --- channel affine ------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
@pytest.mark.parametrize("n,c,inner", [(1, 1, 1), (2, 5, 7), (1, 13, 1), (3, 3, 64 + 5)])
def test_channel_affine(act, n, c, inner):
    rng = np.random.default_rng(n * c * inner)
    x = (rng.standard_normal((n, c, inner)) * 2).astype(np.float32)
    s = rng.standard_normal(c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    want = act_np(act, x.astype(np.float64) * s[:, None] + b[:, None])
    y = np.full_like(x, np.nan)
    K.channel_affine_f32_ref(n, c, inner, x, s, b, act, y)
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    K.channel_affine_f32_ref(n, c, inner, x, s, b, act, x)  # in place
    np.testing.assert_array_equal(x, y)
