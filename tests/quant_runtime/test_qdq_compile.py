"""QDQ models from onnxruntime's quantize_static compile to integer kernels and compute what
onnxruntime computes for the model as written, within one quantization step of the output;
the integer kernels agree bit for bit with their numpy references and with each other (packed
int8 GEMM vs portable reference) on awkward shapes; weight storage is 1/4 (int8) and 1/2
(int16) of fp32."""
from __future__ import annotations

import numpy as np
import pytest

import lne
from lne.compiler import compile_model, load_model
from lne.passes import run as run_passes
from lne.reference import run_graph
from lne.targets import get as get_target

from .qdq_models import awkward_model, ort_as_written, quantize_ort, steps_apart

VARIANTS = {"u8_per_channel": ("u8", True), "s8_per_tensor": ("s8", False), "s16_per_channel": ("s16", True)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("qdq")
    fp32 = awkward_model(d / "awkward.onnx")
    out = {"fp32": fp32}
    for key, (mode, per_channel) in VARIANTS.items():
        out[key] = quantize_ort(fp32, d / f"awkward.{key}.onnx", mode, per_channel)
    return out


def _feeds(seed):
    return {"x": np.random.default_rng(seed).standard_normal((1, 5, 60, 52)).astype(np.float32)}


def _graph(path):
    g = load_model(path)
    run_passes(g, {"isa": get_target("host").isa})
    return g


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_onnxruntime_and_numpy_reference(models, variant, tmp_path):
    path = models[variant]
    g = _graph(path)
    ops_ = {n.op for n in g.nodes}
    assert {"QConv", "QGemm", "QAdd", "QGlobalAveragePool"} <= ops_, ops_  # integer ops, not float
    assert not {"Conv", "Gemm", "MatMul"} & ops_
    sess = lne.InferenceSession(compile_model(path, tmp_path / "b"))
    for seed in (1, 2):
        feeds = _feeds(seed)
        got = sess.run(None, feeds)[0]
        want = ort_as_written(path, feeds)[0]
        assert steps_apart(path, got, want) <= 1, variant
        # the C++ kernels compute exactly what the numpy references of the compiled graph compute
        np.testing.assert_array_equal(got, run_graph(g, feeds)[g.outputs[0]])


def test_packed_int8_kernels_equal_reference_kernels(models, tmp_path):
    """Force the portable reference kernels on every QConv / QGemm / MaxPool: bit-identical outputs."""
    path = models["u8_per_channel"]
    g = _graph(path)
    fast = {"qconv2d_int8_packed": "qconv2d_int8_ref", "qgemm_int8_packed": "qgemm_int8_ref",
            "qconv2d_int8_depthwise": "qconv2d_int8_ref", "qconv2d_int8_depthwise__avx2": "qconv2d_int8_ref",
            "maxpool2d_int8_rows": "maxpool2d_int8_ref"}
    plan = {n.name: fast[n.kernel] for n in g.nodes if n.kernel in fast}
    # 3x3 (two column blocks), 1x1, grouped dilated, depthwise, Gemm, MatMul, MaxPool
    assert len(plan) >= 7 and set(plan.values()) == set(fast.values()), plan
    a = lne.InferenceSession(compile_model(path, tmp_path / "packed"))
    b = lne.InferenceSession(compile_model(path, tmp_path / "ref", plan=plan))
    for seed in (3, 4):
        np.testing.assert_array_equal(a.run(None, _feeds(seed))[0], b.run(None, _feeds(seed))[0])


def test_packed_int16_kernels_equal_reference_kernels(models, tmp_path):
    """16-bit fixed point: the AVX2 packed kernels (vpmaddwd, 64-bit sums) against the portable
    references on every QConv / QGemm they take: bit-identical outputs."""
    path = models["s16_per_channel"]
    g = _graph(path)
    fast = {"qconv2d_int16_packed__avx2": "qconv2d_int16_ref", "qgemm_int16_packed__avx2": "qgemm_int16_ref"}
    plan = {n.name: fast[n.kernel] for n in g.nodes if n.kernel in fast}
    if not plan:
        pytest.skip("host without AVX2")
    assert len(plan) >= 5, plan
    a = lne.InferenceSession(compile_model(path, tmp_path / "packed"))
    b = lne.InferenceSession(compile_model(path, tmp_path / "ref", plan=plan))
    for seed in (3, 4):
        np.testing.assert_array_equal(a.run(None, _feeds(seed))[0], b.run(None, _feeds(seed))[0])


def test_weight_storage(models):
    from lne.inspect import weight_storage

    fp32 = weight_storage(_graph(models["fp32"]))
    int8 = weight_storage(_graph(models["u8_per_channel"]))
    int16 = weight_storage(_graph(models["s16_per_channel"]))
    assert 0.24 <= int8 / fp32 <= 0.30, int8 / fp32  # biases stay 32-bit
    assert 0.49 <= int16 / fp32 <= 0.55, int16 / fp32


def _have_arm(board):
    import shutil

    from lne.targets import get
    t = get(board)
    return shutil.which(t.compiler()) is not None and shutil.which(t.qemu[0]) is not None


@pytest.mark.parametrize("board", ["rpi4", "rpi3-armv7"])
def test_arm_boards_match_host(models, board, tmp_path):
    """AArch64 runs the NEON smull/smlal path of the packed kernel, armv7 its portable C++ path
    (under qemu-user): both compute exactly what the host (AVX2) build computes."""
    if not _have_arm(board):
        pytest.skip(f"cross compiler or qemu for {board} not installed")
    from lne.run import run_bundle

    path = models["u8_per_channel"]
    x = _feeds(5)["x"]
    host = lne.InferenceSession(compile_model(path, tmp_path / "host")).run(None, {"x": x})[0]
    (got,) = run_bundle(compile_model(path, tmp_path / board, board, build=True), [x], board)
    np.testing.assert_array_equal(got, host)


def test_same_scale_ops_stay_integer(tmp_path):
    """Relu, MaxPool and Concat between QDQ pairs of one scale run on the integers (QClamp, int8
    MaxPool, byte Concat) and match onnxruntime exactly."""
    from onnx import TensorProto, helper, numpy_helper
    import onnx

    inits = [numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(np.uint8(128), "z")]
    n = helper.make_node
    nodes = [n("QuantizeLinear", ["x", "s", "z"], ["xq"]), n("DequantizeLinear", ["xq", "s", "z"], ["a"]),
             n("Relu", ["a"], ["r"]), n("QuantizeLinear", ["r", "s", "z"], ["rq"]),
             n("DequantizeLinear", ["rq", "s", "z"], ["b"]),
             n("MaxPool", ["a"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             n("QuantizeLinear", ["p", "s", "z"], ["pq"]), n("DequantizeLinear", ["pq", "s", "z"], ["c"]),
             n("Concat", ["b", "c"], ["cat"], axis=1), n("QuantizeLinear", ["cat", "s", "z"], ["catq"]),
             n("DequantizeLinear", ["catq", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "same_scale", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 7, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 7, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "same_scale.onnx"
    onnx.save(model, str(path))
    g = _graph(path)
    assert [nd.op for nd in g.nodes] == ["QuantizeLinear", "QClamp", "MaxPool", "Concat", "DequantizeLinear"]
    x = {"x": np.random.default_rng(0).standard_normal((1, 3, 7, 5)).astype(np.float32) * 4}
    got = lne.InferenceSession(compile_model(path, tmp_path / "b")).run(None, x)[0]
    np.testing.assert_array_equal(got, ort_as_written(path, x)[0])
