"""Small ONNX models for the quantizer tests, built with onnx.helper (no torch)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IN_SHAPE = (1, 2, 8, 8)


def tiny(fragile: bool = False, seed: int = 0) -> onnx.ModelProto:
    """Conv(2->4)+BN -> Relu -> MaxPool -> Conv(4->4) -> Relu -> Flatten -> Gemm(64->5) -> Softmax.

    Channel 3 of the first conv is always 0 after the Relu. With ``fragile`` the second conv gets a
    weight of 1000 on that dead channel: no effect in float, but its per-channel int8 scale becomes
    so coarse that every other weight of the layer rounds to 0 -- the layer a sensitivity analysis
    must rank first."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.5, (4, 2, 3, 3)).astype(np.float32)
    w1[3] = 0
    b1 = rng.normal(0, 0.1, 4).astype(np.float32)
    b1[3] = 0
    gamma = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    beta = rng.normal(0, 0.2, 4).astype(np.float32)
    beta[3] = -1.0
    mean = rng.normal(0, 0.1, 4).astype(np.float32)
    mean[3] = 0
    var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    w2 = rng.normal(0, 0.3, (4, 4, 3, 3)).astype(np.float32)
    if fragile:
        w2[:, 3, 1, 1] = 1000.0
    b2 = rng.normal(0, 0.1, 4).astype(np.float32)
    wf = rng.normal(0, 0.3, (5, 64)).astype(np.float32)
    bf = rng.normal(0, 0.1, 5).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (gamma, "gamma"), (beta, "beta"), (mean, "mean"), (var, "var"),
              (w2, "w2"), (b2, "b2"), (wf, "wf"), (bf, "bf")]]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn1"], name="bn1",
                         epsilon=1e-5),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Flatten", ["r2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(IN_SHAPE))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def calib_batch(n: int = 32, seed: int = 1, shape=IN_SHAPE, scale: float = 1.0) -> np.ndarray:
    """SYNTHETIC calibration data: (n, *shape[1:]) standard normal samples."""
    return (np.random.default_rng(seed).standard_normal((n, *shape[1:])) * scale).astype(np.float32)


def init(model: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == name))


def node(model: onnx.ModelProto, name: str):
    return next(n for n in model.graph.node if n.name == name)


def producer(model: onnx.ModelProto, tensor: str):
    return next((n for n in model.graph.node if tensor in n.output), None)


def ort_exact(model, feeds: dict) -> list[np.ndarray]:
    """onnxruntime with ORT_ENABLE_BASIC: QDQ models run exactly as ONNX defines them (no fused int8
    kernels, which saturate u8 x s8 pair sums on x86 CPUs without AVX-VNNI)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else open(model, "rb").read()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)
