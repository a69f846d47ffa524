"""QDQ test models: a small float ONNX network on awkward shapes, and onnxruntime's own
quantize_static applied to it (or to a reference network) with synthetic calibration data
(standard-normal inputs, labelled synthetic: no data set is involved)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def _w(*shape):
    return numpy_helper.from_array((RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5)
                                   .astype(np.float32))


def awkward_model(path: Path, h: int = 60, w: int = 52) -> Path:
    """Conv 5->19 3x3 (odd K, M not a multiple of 16) + Relu; depthwise 3x3 s2 asymmetric pads;
    3x3 s2 19->24 + Clip(0, 6); grouped 3x3 dilation 2; Add + Relu; MaxPool; a 1x1 branch and
    Concat; GlobalAveragePool, Flatten, Gemm 31->10; MatMul 10->6."""
    inits, nodes = [], []

    def conv(name, x, cin, cout, k, **attrs):
        g = attrs.get("group", 1)
        inits.extend([_w(cout, cin // g, k, k), numpy_helper.from_array(RNG.standard_normal(cout).astype(np.float32) * 0.1)])
        inits[-2].name, inits[-1].name = f"{name}.w", f"{name}.b"
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [name], name=name,
                                      kernel_shape=[k, k], **attrs))
        return name

    a = conv("a", "x", 5, 19, 3, pads=[1, 1, 1, 1])
    nodes.append(helper.make_node("Relu", [a], ["a_r"]))
    b = conv("b", "a_r", 19, 19, 3, group=19, strides=[2, 2], pads=[1, 0, 1, 1])
    c = conv("c", b, 19, 24, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    inits += [numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")]
    nodes.append(helper.make_node("Clip", [c, "lo", "hi"], ["c_r"]))
    d = conv("d", "c_r", 24, 24, 3, group=3, dilations=[2, 2], pads=[2, 2, 2, 2])
    nodes.append(helper.make_node("Add", ["c_r", d], ["s"]))
    nodes.append(helper.make_node("Relu", ["s"], ["s_r"]))
    nodes.append(helper.make_node("MaxPool", ["s_r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    e = conv("e", "p", 24, 7, 1)
    nodes.append(helper.make_node("Concat", ["p", e], ["cat"], axis=1))
    nodes.append(helper.make_node("GlobalAveragePool", ["cat"], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    inits += [_w(10, 31), numpy_helper.from_array(RNG.standard_normal(10).astype(np.float32), "fc.b")]
    inits[-2].name = "fc.w"
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["fc"], transB=1))
    inits.append(_w(10, 6))
    inits[-1].name = "mm.w"
    nodes.append(helper.make_node("MatMul", ["fc", "mm.w"], ["y"]))
    graph = helper.make_graph(nodes, "awkward", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_model(path: Path, x_shape, m: int, k, strides, pads, group: int = 1, relu: bool = False) -> Path:
    """One Conv (+ Relu) float model: x [n, c, h, w] -> m channels, kernel k, random weights
    (He scale) and biases seeded by the file name."""
    n, c, h, w = x_shape
    rng = np.random.default_rng(sum(map(ord, path.name)))
    wt = (rng.standard_normal((m, c // group, *k)) * (2.0 / (c // group * k[0] * k[1])) ** 0.5).astype(np.float32)
    b = (rng.standard_normal(m) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if relu else "y"], group=group, kernel_shape=list(k),
                              strides=list(strides), pads=list(pads))]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    oh = (h + pads[0] + pads[2] - k[0]) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - k[1]) // strides[1] + 1
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m, oh, ow])],
                          [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def quantize_ort(src: Path, dst: Path, mode: str = "u8", per_channel: bool = True, samples: int = 3) -> Path:
    """onnxruntime's quantize_static (QDQ format) with synthetic calibration data.
    mode: u8 (QUInt8 activations), s8 (QInt8), s16 (QInt16 activations and weights, symmetric)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    m = onnx.load(str(src))
    inp = m.graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]

    class Synthetic(CalibrationDataReader):
        def __init__(self):
            self.rng, self.n = np.random.default_rng(0), 0

        def get_next(self):
            if self.n >= samples:
                return None
            self.n += 1
            return {inp.name: self.rng.standard_normal(shape).astype(np.float32)}

    act = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8, "s16": QuantType.QInt16}[mode]
    quantize_static(str(src), str(dst), Synthetic(), quant_format=QuantFormat.QDQ, activation_type=act,
                    weight_type=QuantType.QInt16 if mode == "s16" else QuantType.QInt8, per_channel=per_channel,
                    extra_options={"ActivationSymmetric": mode == "s16", "WeightSymmetric": True})
    return dst


def ort_as_written(path: Path, feeds: dict) -> list[np.ndarray]:
    """onnxruntime running the QDQ model as written (DQ -> float op -> Q: the ONNX semantics).
    Its optimized path fuses QDQ into QLinearConv, whose AVX2 u8s8 kernel can saturate 16-bit
    pair sums (vpmaddubsw; onnxruntime issues #12072, #14642), so it is no oracle on such CPUs."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def output_step(path: Path) -> float:
    """The scale of the DequantizeLinear that produces the graph output: one quantization step."""
    m = onnx.load(str(path))
    inits = {i.name: i for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] == m.graph.output[0].name:
            return float(numpy_helper.to_array(inits[n.input[1]]).reshape(-1)[0])
    raise AssertionError("the model output is not dequantized")


def layerwise_steps(path: Path, graph, feeds: dict) -> dict[str, int]:
    """For every integer op of the compiled `graph` whose inputs and output are quantized tensors
    of the model: its numpy reference (what its kernel computes, bit for bit) run on
    onnxruntime's own input values, and the largest difference from onnxruntime's output in
    quantization steps. One step of difference in a layer can grow in the layers after it, so
    deep networks are compared layer by layer as well as end to end."""
    from lne import ops

    m = onnx.load(str(path))
    names = [n.output[0] for n in m.graph.node if n.op_type == "QuantizeLinear"]
    for name in names:
        m.graph.output.append(helper.make_empty_tensor_value_info(name))
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    values = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    out = {}
    for node in graph.nodes:
        if not node.op.startswith("Q") or node.op in ("QuantizeLinear",) or node.outputs[0] not in values:
            continue
        arrays = []
        for i in node.inputs:
            t = graph.tensors[i] if i else None
            arrays.append(None if t is None else t.data if t.is_const else values.get(i))
        if any(a is None and i for a, i in zip(arrays, node.inputs)):
            continue
        got = ops.get(node.op).reference(node, arrays)[0].astype(np.int64)
        out[node.name] = int(np.abs(got - values[node.outputs[0]].astype(np.int64)).max())
    return out


def steps_apart(path: Path, got: np.ndarray, want: np.ndarray) -> int:
    """Largest difference between two dequantized outputs of `path`, in quantization steps
    (rounded: float32 dequantization of large values is not exact to the last bit)."""
    return int(np.rint(np.abs(got.astype(np.float64) - want) / output_step(path)).max())


def check_qconv_kernel(q: Path, x_shape, kernel: str, out: Path, force: bool = False) -> None:
    """Compile the one-QConv model q (forcing `kernel` with a plan when asked), check that the
    QConv runs on `kernel`, and that two SYNTHETIC inputs give exactly what the numpy reference of
    the compiled graph gives, and onnxruntime (the model as written) within one step."""
    import lne
    from lne.compiler import compile_model, load_model
    from lne.passes import run as run_passes
    from lne.reference import run_graph
    from lne.session import find_manifest
    from lne.targets import get as get_target

    g = load_model(q)
    run_passes(g, {"isa": get_target("host").isa})
    plan = {nd.name: kernel for nd in g.nodes if nd.op == "QConv"} if force else None
    bundle = compile_model(q, out, plan=plan)
    assert [nd["kernel"] for nd in find_manifest(bundle)["nodes"] if nd["op"] == "QConv"] == [kernel]
    sess = lne.InferenceSession(bundle)
    for seed in (1, 2):
        feeds = {"x": (np.random.default_rng(seed).standard_normal(x_shape) * 1.5).astype(np.float32)}
        got = sess.run(None, feeds)[0]
        np.testing.assert_array_equal(got, run_graph(g, feeds)[g.outputs[0]])
        assert steps_apart(q, got, ort_as_written(q, feeds)[0]) <= 1
