"""The reference networks quantized by onnxruntime's quantize_static (QDQ, uint8 activations,
int8 per-channel weights, synthetic calibration data) compile with LNE; the KWS networks'
outputs are within one quantization step of onnxruntime running the same QDQ model, and a CNN
(SqueezeNet 1.1) is within one step layer by layer (a one-step difference can grow through
later layers) with the same top-1 class."""
from __future__ import annotations

import numpy as np
import pytest

import lne
from lne.compiler import compile_model, load_model
from lne.passes import run as run_passes
from lne.session import find_manifest
from lne.targets import get as get_target

from .qdq_models import layerwise_steps, ort_as_written, quantize_ort, steps_apart

KWS = ["kws_cnn", "ds_cnn", "kws1", "kws3", "kws9", "ds_kws1", "ds_kws3", "ds_kws9"]


def _quantized(reference_model, name, tmp_path, mode="u8"):
    pytest.importorskip("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = tmp_path / f"{name}.pre.onnx"
    quant_pre_process(str(reference_model(name)), str(pre), skip_symbolic_shape=True)  # folds BatchNorm
    return quantize_ort(pre, tmp_path / f"{name}.{mode}.onnx", mode, per_channel=True, samples=2)


def _feeds(path, seed=0):
    import onnx

    inp = onnx.load(str(path)).graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    return {inp.name: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


@pytest.mark.parametrize("name", KWS)
def test_kws_int8_matches_onnxruntime(reference_model, name, tmp_path):
    path = _quantized(reference_model, name, tmp_path)
    sess = lne.InferenceSession(compile_model(path, tmp_path / "bundle"))
    feeds = _feeds(path)
    got, want = sess.run(None, feeds)[0], ort_as_written(path, feeds)[0]
    assert steps_apart(path, got, want) <= 1


def test_kws_int16_matches_onnxruntime(reference_model, tmp_path):
    path = _quantized(reference_model, "ds_cnn", tmp_path, mode="s16")
    sess = lne.InferenceSession(compile_model(path, tmp_path / "bundle"))
    feeds = _feeds(path)
    got, want = sess.run(None, feeds)[0], ort_as_written(path, feeds)[0]
    assert steps_apart(path, got, want) <= 1


def test_cnn_int8_layerwise(reference_model, tmp_path):
    path = _quantized(reference_model, "squeezenet1_1", tmp_path)
    g = load_model(path)
    run_passes(g, {"isa": get_target("host").isa})
    feeds = _feeds(path)
    steps = layerwise_steps(path, g, feeds)
    integer_ops = [n for n in g.nodes if n.op in ("QConv", "QGemm", "QAdd", "QGlobalAveragePool", "QClamp")]
    assert len(steps) == len(integer_ops) > 20
    assert max(steps.values()) <= 1, {k: v for k, v in steps.items() if v > 1}
    got = lne.InferenceSession(compile_model(path, tmp_path / "bundle")).run(None, feeds)[0]
    want = ort_as_written(path, feeds)[0]
    assert np.argmax(got) == np.argmax(want)
    assert steps_apart(path, got, want) <= 4


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet50"])
def test_cnn_reduce_range_int8_matches_onnxruntime(reference_model, name, tmp_path):
    """Deep CNNs quantized by `lne quantize --reduce-range` (int8 weights in [-64, 64]) against
    onnxruntime's default session, whose fused integer kernels are exact on such weights on any
    x86 CPU: every element of the last quantized tensor within one step (measured: 0 -- the
    integer layers, QAdd and the global average agree bit for bit). Against the model run as
    written (float32 DQ -> op -> Q) one-step ties grow through depth: see test_cnn_int8_layerwise."""
    import onnx
    import onnxruntime as ort

    from lne.quant import quantize
    from lne.quant.qdq import expose_last_activation

    src = reference_model(name)
    feeds = _feeds(src)
    (x_name, x), = feeds.items()
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(3):   # SYNTHETIC calibration samples
        np.save(calib / f"{i}.npy", np.random.default_rng(10 + i).standard_normal(x.shape).astype(np.float32))
    q = tmp_path / f"{name}.q.onnx"
    rep = quantize(src, q, str(calib), reduce_range=True)
    model, _, step = expose_last_activation(onnx.load(str(q)))
    w = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert w and max(int(np.abs(onnx.numpy_helper.to_array(i).astype(np.int64)).max()) for i in w) <= 64
    onnx.save(model, q)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    want = ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"]).run(None, feeds)[-1]
    bundle = compile_model(q, tmp_path / "bundle", exact=True)   # no fp32 Winograd stand-ins
    kernels = [n["kernel"] for n in find_manifest(bundle)["nodes"]]
    assert "qconv2d_int8_packed" in kernels and not any("f32_winograd" in k for k in kernels)
    got = lne.InferenceSession(bundle).run(None, feeds)[-1]
    assert rep["reduce_range"] and len(rep["quantized_layers"]) > 50
    assert int(np.rint(np.abs(got.astype(np.float64) - want) / step).max()) <= 1
