"""Layout runtime kernels (runtime/kernels/tensor): concat, transpose, pad, copy vs numpy."""
import itertools

import numpy as np
import pytest

import lne._kernels as K


def rnd(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


# --- concat --------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes,axis", [
    ([(2, 3, 4, 5), (2, 5, 4, 5), (2, 1, 4, 5)], 1),
    ([(3, 4), (3, 4)], 0),
    ([(3, 4), (3, 1), (3, 7)], 1),
    ([(1, 13, 1, 1), (1, 3, 1, 1)], 1),
    ([(2, 2, 3), (2, 2, 0), (2, 2, 2)], 2),  # an empty input
    ([(7,)], 0),
])
def test_concat(shapes, axis):
    rng = np.random.default_rng(len(shapes))
    xs = [rnd(rng, s) for s in shapes]
    want = np.concatenate(xs, axis=axis)
    outer = int(np.prod(shapes[0][:axis], dtype=np.int64))
    inner = [int(np.prod(s[axis:], dtype=np.int64)) for s in shapes]
    y = np.full(want.shape, np.nan, np.float32)
    K.concat_f32_ref(outer, len(xs), xs, inner, y)
    np.testing.assert_array_equal(y, want)


def test_concat_errors():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        K.concat_f32_ref(2, 2, [a, a], [3, 3], np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError):
        K.concat_f32_ref(2, 3, [a, a], [3, 3], np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError):
        K.concat_f32_ref(2, 2, [a, a[:, :2].copy()], [3, 3], np.zeros((2, 6), np.float32))


# --- transpose -----------------------------------------------------------------------------

def check_transpose(x, perm):
    want = np.transpose(x, perm)
    y = np.full(want.shape, np.nan, np.float32)
    K.transpose_f32_ref(dict(in_shape=list(x.shape), perm=list(perm)), x, y)
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (1, 7), (2, 3, 4), (3, 1, 5), (2, 3, 1, 5), (4, 3, 2, 5)])
def test_transpose_all_perms(shape):
    x = rnd(np.random.default_rng(len(shape)), shape)
    for perm in itertools.permutations(range(len(shape))):
        check_transpose(x, perm)


@pytest.mark.parametrize("shape,perm", [
    ((1, 3, 37, 41), (0, 2, 3, 1)),     # NCHW -> NHWC (tiled path)
    ((1, 37, 41, 3), (0, 3, 1, 2)),     # NHWC -> NCHW
    ((70, 33), (1, 0)),                 # 2-D, several tiles with remainders
    ((2, 4, 3, 5, 6), (0, 2, 1, 3, 4)),  # channel shuffle: contiguous rows
    ((2, 3, 2, 3, 2, 3), (5, 4, 3, 2, 1, 0)),
    ((2, 1, 3, 1, 2, 2), (1, 3, 5, 0, 2, 4)),
    ((1, 1, 1), (2, 0, 1)),
    ((3, 0, 2), (2, 1, 0)),
])
def test_transpose_shapes(shape, perm):
    check_transpose(rnd(np.random.default_rng(0), shape), perm)


def test_transpose_random():
    rng = np.random.default_rng(5)
    for _ in range(40):
        r = int(rng.integers(1, 7))
        shape = tuple(int(v) for v in rng.integers(1, 6, size=r))
        check_transpose(rnd(rng, shape), tuple(int(v) for v in rng.permutation(r)))


def test_transpose_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        K.transpose_f32_ref(dict(in_shape=[2, 3], perm=[0, 0]), x, np.zeros(6, np.float32))
    with pytest.raises(ValueError):
        K.transpose_f32_ref(dict(in_shape=[2, 3], perm=[1, 0]), x, np.zeros(5, np.float32))
    with pytest.raises(ValueError):
        K.transpose_f32_ref(dict(in_shape=[2, 3], perm=[1, 0]), x, x)


# --- pad -----------------------------------------------------------------------------------

NP_MODE = {K.PAD_CONSTANT: "constant", K.PAD_REFLECT: "reflect", K.PAD_EDGE: "edge"}


def pad_np(x, begin, end, mode, value):
    """out[o] = in[o - begin] with numpy's mode rules evaluated on the ORIGINAL input (so a crop
    on one side does not change what the other side mirrors)."""
    big = max([abs(v) for v in begin + end] + [0]) + 1
    kw = {"constant_values": value} if mode == K.PAD_CONSTANT else {}
    xp = np.pad(x, [(big, big)] * x.ndim, mode=NP_MODE[mode], **kw)
    sl = tuple(slice(big - b, big - b + (n + b + e)) for n, b, e in zip(x.shape, begin, end))
    return xp[sl]


def run_pad(x, begin, end, mode, value=0.0):
    out = [n + b + e for n, b, e in zip(x.shape, begin, end)]
    p = dict(in_shape=list(x.shape), out_shape=out, begin=list(begin), mode=mode, value=value)
    y = np.full(out, np.nan, np.float32)
    K.pad_f32_ref(p, x, y)
    np.testing.assert_array_equal(y, pad_np(x, list(begin), list(end), mode, value).astype(np.float32))


PAD_CASES = [
    ((1, 3, 5, 6), (0, 0, 1, 2), (0, 0, 2, 1)),      # spatial asymmetric
    ((1, 3, 5, 6), (0, 1, 0, 0), (0, 2, 0, 0)),      # channel pad
    ((2, 3, 4), (1, 0, 3), (0, 2, 3)),               # batch pad, pads == size-1 for reflect
    ((4, 5), (-1, 2), (1, -2)),                      # crop + pad
    ((4, 5), (-2, -1), (-1, -3)),                    # pure crop
    ((1, 1, 1, 1), (0, 0, 1, 1), (0, 0, 1, 1)),      # 1x1 spatial (reflect of size 1)
    ((6,), (3, ), (4,)),
    ((2, 2, 2, 2, 2, 3), (0, 1, 0, 1, 0, 2), (1, 0, 1, 0, 1, 1)),  # rank 6
    ((3, 4), (0, 6), (0, 7)),                        # pad wider than the input (reflects twice)
]


@pytest.mark.parametrize("mode", [K.PAD_CONSTANT, K.PAD_REFLECT, K.PAD_EDGE], ids=["constant", "reflect", "edge"])
@pytest.mark.parametrize("shape,begin,end", PAD_CASES)
def test_pad(mode, shape, begin, end):
    x = rnd(np.random.default_rng(len(shape)), shape)
    run_pad(x, begin, end, mode, value=-1.5)


def test_pad_random():
    rng = np.random.default_rng(8)
    for _ in range(40):
        r = int(rng.integers(1, 5))
        shape = tuple(int(v) for v in rng.integers(1, 6, size=r))
        begin = [int(rng.integers(-n + 1, 4)) for n in shape]
        end = [int(rng.integers(-(n + b) + 1 if b < 0 else -n + 1, 4)) for n, b in zip(shape, begin)]
        mode = int(rng.integers(0, 3))
        run_pad(rnd(rng, shape), begin, end, mode, value=float(rng.standard_normal()))


def test_pad_vs_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = rnd(np.random.default_rng(1), (1, 3, 5, 6))
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    for mode_name, mode in [("constant", K.PAD_CONSTANT), ("reflect", K.PAD_REFLECT), ("edge", K.PAD_EDGE)]:
        node = helper.make_node("Pad", ["x", "pads", "v"], ["y"], mode=mode_name)
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            initializer=[helper.make_tensor("pads", TensorProto.INT64, [8], pads),
                         helper.make_tensor("v", TensorProto.FLOAT, [], [0.25])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        y = np.zeros(want.shape, np.float32)
        K.pad_f32_ref(dict(in_shape=[1, 3, 5, 6], out_shape=list(want.shape), begin=[0, 0, 1, 2],
                           mode=mode, value=0.25), x, y)
        np.testing.assert_array_equal(y, want)


def test_pad_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        K.pad_f32_ref(dict(in_shape=[2, 3], out_shape=[3, 3], begin=[1, 0], mode=7), x, np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError):
        K.pad_f32_ref(dict(in_shape=[2, 3], out_shape=[3, 3], begin=[1, 0]), x, np.zeros((3, 4), np.float32))


# --- copy ----------------------------------------------------------------------------------

def test_copy():
    x = rnd(np.random.default_rng(0), (3, 5))
    y = np.zeros((15,), np.float32)
    K.copy_f32_ref(15, x, y)
    np.testing.assert_array_equal(y, x.ravel())
    K.copy_f32_ref(15, y, y)  # in place: no-op
    np.testing.assert_array_equal(y, x.ravel())
    K.copy_f32_ref(0, x, y)
    z = np.zeros(20, np.float32)
    K.copy_f32_ref(15, x, z)  # buffers may be larger than n
    np.testing.assert_array_equal(z[:15], x.ravel())
    np.testing.assert_array_equal(z[15:], 0)
    with pytest.raises(ValueError):
        K.copy_f32_ref(16, x, y)
