"""The fast kernels through the compiler: one small network whose layers select Winograd
F(4x4,3x3) / F(2x2,3x3) / F(2x2,5x5), the depthwise plane path and the pooling fast paths,
compiled, built and compared with onnxruntime; the compile-time Winograd weights replace the
original weights in the bundle."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..conftest import ort_run


def _model():
    rng = np.random.default_rng(0)
    inits, nodes = [], []

    def const(name, shape, scale=0.2):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def conv(x, y, c, m, k, pads, group=1, act=True):
        w = const(y + "_w", (m, c // group, k, k))
        b = const(y + "_b", (m,))
        out = y + "_pre" if act else y
        nodes.append(helper.make_node("Conv", [x, w, b], [out], kernel_shape=[k, k], pads=pads, group=group))
        if act:
            nodes.append(helper.make_node("Relu", [out], [y]))
        return y

    t = conv("input", "c1", 8, 24, 3, [1, 1, 1, 1])                     # 20x12: F(4x4, 3x3)
    t = conv(t, "c2", 24, 20, 5, [2, 2, 2, 2])                           # F(2x2, 5x5)
    nodes.append(helper.make_node("MaxPool", [t], ["p1"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
    t = conv("p1", "c3", 20, 20, 3, [1, 1, 1, 1], group=20)              # depthwise, 10x6
    nodes.append(helper.make_node("AveragePool", [t], ["p2"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1],
                                  count_include_pad=1))
    t = conv("p2", "c4", 20, 96, 3, [1, 1, 1, 1], act=False)             # 5x4 map, many channels
    nodes.append(helper.make_node("GlobalAveragePool", [t], ["output"]))
    graph = helper.make_graph(nodes, "fast", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 8, 20, 12])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 96, 1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_fast_kernels_network_matches_onnxruntime(compile_run):
    model = _model()
    onnx.checker.check_model(model)
    x = np.random.default_rng(1).standard_normal((1, 8, 20, 12)).astype(np.float32)
    (want,) = ort_run(model.SerializeToString(), {"input": x})
    (got,), sess = compile_run(model, {"input": x})
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    kernels = {n["name"]: n["kernel"] for n in sess.manifest["nodes"]}
    chosen = set(kernels.values())
    for k in ("conv2d_f32_winograd_f43", "conv2d_f32_winograd_f25", "conv2d_f32_depthwise",
              "maxpool2d_f32_fast", "avgpool2d_f32_fast", "global_avgpool_f32_fast"):
        assert k in chosen, (k, kernels)
    # the bundle carries the compile-time Winograd weights instead of the 3x3 / 5x5 originals
    from lne.codegen.bundle import ALIGN, WEIGHTS_HEADER
    from lne.kernels.winograd import transform_weights

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    read = [transform_weights(inits["c1_w"], 4), transform_weights(inits["c2_w"], 2)]
    read += [inits[n] for n in ("c1_b", "c2_b", "c3_w", "c3_b", "c4_w", "c4_b")]
    expected = WEIGHTS_HEADER + sum(-(-a.nbytes // ALIGN) * ALIGN for a in read)
    assert sess.manifest["weights_size"] == expected
