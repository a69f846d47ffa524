"""The QDQ writer: valid ONNX that onnxruntime runs close to float, per-channel weight scales
max|w|/127, int32 biases at input*weight scale, float Softmax/graph output, --keep-float."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from lne.quant import qdq, quantize
from lne.quant.evaluate import sqnr_db

from ..conftest import ort_run
from .nets import calib_batch, init, node, ort_exact, producer, tiny


def _dq_of(model, tensor):
    """(quantized initializer or None, scale, zero point, axis) behind a DequantizeLinear output."""
    n = producer(model, tensor)
    assert n is not None and n.op_type == "DequantizeLinear", tensor
    axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
    q = init(model, n.input[0]) if any(i.name == n.input[0] for i in model.graph.initializer) else None
    return q, init(model, n.input[1]), init(model, n.input[2]), axis


def _quant(tmp_path, model, mode="int8", **kw):
    src = tmp_path / "float.onnx"
    onnx.save(model, src)
    np.save(tmp_path / "calib.npy", calib_batch(32))
    out = tmp_path / f"q_{mode}.onnx"
    quantize(src, out, tmp_path / "calib.npy", mode=mode, **kw)
    return onnx.load(out)


def test_batchnorm_fold_matches_onnxruntime():
    m = tiny()
    p = qdq.prepare(m, "int8")
    assert "BatchNormalization" not in {n.op_type for n in p.graph.node}
    x = calib_batch(1, seed=5)
    np.testing.assert_allclose(ort_run(p.SerializeToString(), {"x": x})[0],
                               ort_run(m.SerializeToString(), {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["int8", "int16"])
def test_tiny_model_format(tmp_path, mode):
    m = tiny()
    q = _quant(tmp_path, m, mode)
    onnx.checker.check_model(q, full_check=True)
    wtype, atype, qmax = (np.int8, np.uint8, 127) if mode == "int8" else (np.int16, np.int16, 32767)
    opset = next(o.version for o in q.opset_import if o.domain in ("", "ai.onnx"))
    assert opset == (17 if mode == "int8" else 21)
    # conv1 weights: BN folded (numpy oracle), symmetric per output channel, zero point 0
    gamma, beta, mean, var = (init(m, k) for k in ("gamma", "beta", "mean", "var"))
    k = gamma / np.sqrt(var + 1e-5)
    w1 = init(m, "w1") * k[:, None, None, None]
    b1 = (init(m, "b1") - mean) * k + beta
    wq, ws, wz, axis = _dq_of(q, node(q, "conv1").input[1])
    assert wq.dtype == wtype and axis == 0 and not wz.any() and np.abs(wq).max() <= qmax
    amax = np.abs(w1).reshape(4, -1).max(axis=1)
    np.testing.assert_allclose(ws[amax > 0], amax[amax > 0] / qmax, rtol=1e-6)
    np.testing.assert_allclose(wq * ws[:, None, None, None], w1, atol=ws.max() / 2 + 1e-7)
    # bias: int32 at input scale * weight scale
    bq, bs, bz, baxis = _dq_of(q, node(q, "conv1").input[2])
    _, xs, xz, _ = _dq_of(q, node(q, "conv1").input[0])
    assert bq.dtype == np.int32 and baxis == 0 and not bz.any()
    np.testing.assert_allclose(bs, xs * ws, rtol=1e-6)
    np.testing.assert_allclose(bq * bs, b1, atol=bs.max() / 2 + 1e-7)
    # activations per tensor: uint8 asymmetric (int8 mode) / int16 symmetric
    assert xs.shape == () and xz.dtype == atype and (mode == "int8" or xz == 0)
    # Gemm weight (transB=1): axis 0
    gq, gs, _, gaxis = _dq_of(q, node(q, "fc").input[1])
    assert gaxis == 0 and gq.shape == (5, 64)
    np.testing.assert_allclose(gs, np.abs(init(m, "wf")).max(axis=1) / qmax, rtol=1e-6)
    # Softmax input and the graph output stay float
    assert node(q, "softmax").input[0] == "logits"
    assert not any(n.op_type == "QuantizeLinear" and n.input[0] in ("logits", "y") for n in q.graph.node)
    # MaxPool output reuses the scale of its input
    _, ps, pz, _ = _dq_of(q, node(q, "conv2").input[0])
    rin = next(n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "r1")
    assert ps == init(q, rin.input[1]) and pz == init(q, rin.input[2])
    # weights are stored as integers: no float copy left
    assert not {"w1", "w2", "wf"} & {i.name for i in q.graph.initializer}


@pytest.mark.parametrize("mode,min_db", [("int8", 25.0), ("int16", 60.0)])
def test_reference_network_close_to_float(tmp_path, reference_model, mode, min_db):
    """ds_cnn (random weights) with SYNTHETIC calibration data: onnxruntime runs the QDQ model
    and its output stays close to the float model's; the file shrinks with the weight width."""
    path = reference_model("ds_cnn")
    data = calib_batch(24, shape=(1, 1, 40, 32), scale=10.0)
    np.save(tmp_path / "calib.npy", data)
    out = tmp_path / f"ds_cnn.{mode}.onnx"
    rep = quantize(path, out, tmp_path / "calib.npy", mode=mode)
    q = onnx.load(out)
    onnx.checker.check_model(q)
    x = calib_batch(4, seed=9, shape=(1, 1, 40, 32), scale=10.0)
    ref = np.concatenate([ort_run(path, {"input": x[i:i + 1]})[0] for i in range(4)])
    got = np.concatenate([ort_exact(out, {"input": x[i:i + 1]})[0] for i in range(4)])
    assert sqnr_db(ref, got) > min_db
    # onnxruntime's default session fuses the QDQ pattern into its integer kernels: they accept the
    # format (on x86 without AVX-VNNI their u8 x s8 pair sums may saturate, hence the looser bound)
    fused = np.concatenate([ort_run(out, {"input": x[i:i + 1]})[0] for i in range(4)])
    assert sqnr_db(ref, fused) > 15.0
    assert len(rep["quantized_layers"]) == len(rep["layers"]) == 12
    # weight bytes: 1/4 (int8) or 1/2 (int16) of the BN-folded float weights
    wbytes = sum(init(q, i.name).nbytes for i in q.graph.initializer if len(i.dims) >= 2)
    fbytes = sum(init(qdq.prepare(onnx.load(path), mode), i.name).nbytes
                 for i in qdq.prepare(onnx.load(path), mode).graph.initializer if len(i.dims) >= 2)
    assert wbytes == fbytes // (4 if mode == "int8" else 2)


def test_keep_float(tmp_path):
    q = _quant(tmp_path, tiny(), "int8", keep_float=["conv2"])
    w = next(i for i in q.graph.initializer if i.name == node(q, "conv2").input[1])
    assert w.data_type == TensorProto.FLOAT and node(q, "conv2").input[2] == "b2"
    assert producer(q, node(q, "conv1").input[1]).op_type == "DequantizeLinear"
    assert producer(q, node(q, "fc").input[1]).op_type == "DequantizeLinear"
    # conv2's output (after its Relu) is no longer quantized: only conv1's and fc's tensors are
    assert not any(n.op_type == "QuantizeLinear" and n.input[0] == "r2" for n in q.graph.node)


def test_scales_equal_onnxruntime_quantize_static(tmp_path):
    """Oracle: onnxruntime's own quantize_static (QDQ, per channel, uint8 activations, int8
    weights, MinMax) on the same BN-folded model and samples gives the same scale and zero point
    for every weight, bias and activation that both quantize."""
    ortq = pytest.importorskip("onnxruntime.quantization")
    m = qdq.prepare(tiny(), "int8")
    onnx.save(m, tmp_path / "f.onnx")
    x = calib_batch(32)
    np.save(tmp_path / "c.npy", x)

    class Reader(ortq.CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"x": x[i:i + 1]} for i in range(len(x))])

        def get_next(self):
            return next(self.items, None)
    ortq.quantize_static(str(tmp_path / "f.onnx"), str(tmp_path / "ort.onnx"), Reader(),
                         quant_format=ortq.QuantFormat.QDQ, per_channel=True,
                         activation_type=ortq.QuantType.QUInt8, weight_type=ortq.QuantType.QInt8)
    quantize(tmp_path / "f.onnx", tmp_path / "lne.onnx", tmp_path / "c.npy", calib_size=None)
    ours, theirs = onnx.load(tmp_path / "lne.onnx"), onnx.load(tmp_path / "ort.onnx")

    def params(model, consumer_input):
        """{float tensor or weight: (scale, zero point)} from each DequantizeLinear of ``model``."""
        out = {}
        for n in model.graph.node:
            if n.op_type == "DequantizeLinear":
                q = producer(model, n.input[0])
                key = q.input[0] if q is not None else consumer_input(n.input[0])
                out[key] = (init(model, n.input[1]), init(model, n.input[2]))
        return out
    mine = params(ours, lambda name: name.replace("_quantized", ""))
    ref = params(theirs, lambda name: name.replace("_quantized", ""))
    common = sorted(set(mine) & set(ref))
    assert {"x", "r1", "r2", "w1_bnfold", "w2", "wf", "b2", "bf"} <= set(common)
    for k in common:
        np.testing.assert_allclose(mine[k][0], ref[k][0], rtol=1e-6, err_msg=k)
        np.testing.assert_array_equal(mine[k][1], ref[k][1], err_msg=k)


def test_int16_bias_too_large_for_int32_stays_float(tmp_path):
    m = tiny()
    bf = next(i for i in m.graph.initializer if i.name == "bf")
    bf.CopyFrom(onnx.numpy_helper.from_array(np.full(5, 1e5, np.float32), "bf"))
    src = tmp_path / "big_bias.onnx"
    onnx.save(m, src)
    np.save(tmp_path / "calib.npy", calib_batch(8))
    rep = quantize(src, tmp_path / "q.onnx", tmp_path / "calib.npy", mode="int16")
    assert rep["notes"] == ["fc: bias does not fit int32 at scale input*weight; kept in float"]
    q = onnx.load(tmp_path / "q.onnx")
    assert node(q, "fc").input[2] == "bf"
    assert producer(q, node(q, "conv2").input[2]).op_type == "DequantizeLinear"
    x = calib_batch(1, seed=4)
    np.testing.assert_allclose(ort_exact(tmp_path / "q.onnx", {"x": x})[0], ort_run(src, {"x": x})[0], atol=1e-3)


def test_matmul_weight_per_output_column(tmp_path):
    """MatMul weights [K, N] are quantized per output column (axis 1); Gemm transB=0 likewise."""
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (16, 6)).astype(np.float32) * np.linspace(0.1, 3, 6, dtype=np.float32)
    g = rng.normal(0, 1, (6, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Relu", ["h"], ["r"], name="r"),
         helper.make_node("Gemm", ["r", "g"], ["y"], name="gemm")], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(g, "g")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "mlp.onnx")
    x = rng.normal(0, 1, (64, 1, 16)).astype(np.float32)
    np.save(tmp_path / "c.npy", x)
    quantize(tmp_path / "mlp.onnx", tmp_path / "q.onnx", tmp_path / "c.npy")
    q = onnx.load(tmp_path / "q.onnx")
    wq, ws, _, axis = _dq_of(q, node(q, "mm").input[1])
    assert axis == 1 and wq.shape == (16, 6)
    np.testing.assert_allclose(ws, np.abs(w).max(axis=0) / 127, rtol=1e-6)
    gq, gs, _, gaxis = _dq_of(q, node(q, "gemm").input[1])
    assert gaxis == 1 and gs.shape == (3,)
    ref = np.concatenate([ort_run(tmp_path / "mlp.onnx", {"x": xi})[0] for xi in x])
    got = np.concatenate([ort_exact(tmp_path / "q.onnx", {"x": xi})[0] for xi in x])
    assert sqnr_db(ref, got) > 30.0
