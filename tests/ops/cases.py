"""Single-op ONNX models on awkward shapes: 1x1 spatial, channel counts that are not a
multiple of 8, stride 2 on odd sizes, asymmetric pads, groups, broadcasting."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

RNG = np.random.default_rng(42)


def const(*shape, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


class Case:
    """One op: `inputs` items are a shape (run-time input), an array (initializer) or None."""

    def __init__(self, id, op, inputs, attrs=None, opset=17):
        self.id, self.op, self.inputs, self.attrs, self.opset = id, op, inputs, attrs or {}, opset

    def model(self) -> onnx.ModelProto:
        names, graph_inputs, inits = [], [], []
        for i, x in enumerate(self.inputs):
            if x is None:
                names.append("")
            elif isinstance(x, tuple):
                names.append(f"x{i}")
                graph_inputs.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, x))
            else:
                names.append(f"c{i}")
                inits.append(onnx.numpy_helper.from_array(np.asarray(x), f"c{i}"))
        node = helper.make_node(self.op, names, ["y"], name=f"{self.op.lower()}_node", **self.attrs)
        graph = helper.make_graph([node], self.id, graph_inputs,
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        return m

    def feeds(self, seed=0) -> dict:
        rng = np.random.default_rng(seed)
        return {f"x{i}": rng.standard_normal(x).astype(np.float32)
                for i, x in enumerate(self.inputs) if isinstance(x, tuple)}


class QDQCase(Case):
    """QuantizeLinear -> DequantizeLinear (float in and out, as every LNE bundle): `op` names the
    op under test, `inputs` = [x shape, scale, zero point]; one pair per graph."""

    def model(self) -> onnx.ModelProto:
        shape, scale, zp = self.inputs
        inits = [onnx.numpy_helper.from_array(np.asarray(scale), "s"), onnx.numpy_helper.from_array(np.asarray(zp), "z")]
        nodes = [helper.make_node("QuantizeLinear", ["x0", "s", "z"], ["q"], **self.attrs),
                 helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **self.attrs)]
        graph = helper.make_graph(nodes, self.id, [helper.make_tensor_value_info("x0", TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        return m

    def feeds(self, seed=0) -> dict:
        return {"x0": (np.random.default_rng(seed).standard_normal(self.inputs[0]) * 40).astype(np.float32)}


i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
f32 = lambda *v: np.array(v, dtype=np.float32)  # noqa: E731

CASES = [
    Case("conv_s2_asym_pads", "Conv", [(1, 3, 7, 7), const(5, 3, 3, 3), const(5)],
         dict(strides=[2, 2], pads=[1, 0, 2, 1])),
    Case("conv_groups_dilation", "Conv", [(1, 6, 9, 8), const(9, 2, 3, 3)], dict(group=3, dilations=[2, 2])),
    Case("conv_depthwise_3x3_s2", "Conv", [(1, 13, 11, 11), const(13, 1, 3, 3), const(13)],
         dict(group=13, strides=[2, 2], pads=[1, 1, 1, 1])),
    Case("conv_depthwise_5x5", "Conv", [(1, 10, 9, 9), const(10, 1, 5, 5), const(10)], dict(group=10, pads=[2, 2, 2, 2])),
    Case("conv_1x1_spatial", "Conv", [(1, 13, 1, 1), const(7, 13, 1, 1), const(7)], {}),
    Case("conv_pointwise", "Conv", [(1, 13, 5, 6), const(9, 13, 1, 1)], {}),
    Case("conv_rect_kernel_stride", "Conv", [(1, 1, 11, 9), const(5, 1, 4, 3), const(5)],
         dict(strides=[1, 2], pads=[1, 1, 2, 0])),
    Case("conv_same_upper", "Conv", [(1, 3, 8, 7), const(4, 3, 3, 3)], dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    Case("conv_same_lower", "Conv", [(1, 3, 8, 7), const(4, 3, 2, 2)], dict(auto_pad="SAME_LOWER")),
    Case("conv_valid_batch2", "Conv", [(2, 3, 6, 5), const(4, 3, 3, 3)], dict(auto_pad="VALID")),
    Case("batchnorm_lone", "BatchNormalization",
         [(1, 5, 3, 3), const(5), const(5), const(5), const(5, positive=True)], dict(epsilon=1e-3)),
    Case("relu", "Relu", [(1, 13, 3, 3)]),
    Case("clip_relu6", "Clip", [(1, 13, 3, 3), f32(0.0), f32(0.5)]),
    Case("clip_max_only", "Clip", [(2, 5), None, f32(0.2)]),
    Case("clip_opset6_attrs", "Clip", [(3, 7)], dict(min=-0.3, max=0.4), opset=7),
    Case("leaky_relu", "LeakyRelu", [(1, 5, 4, 3)], dict(alpha=0.3)),
    Case("prelu_channel", "PRelu", [(1, 5, 4, 3), const(5, 1, 1)]),
    Case("sigmoid", "Sigmoid", [(2, 3, 5)]),
    Case("tanh", "Tanh", [(2, 3, 5)]),
    Case("hard_sigmoid", "HardSigmoid", [(2, 3, 5)], dict(alpha=0.3, beta=0.4)),
    Case("hard_swish", "HardSwish", [(1, 13, 3, 3)]),
    Case("maxpool_ceil_s2", "MaxPool", [(1, 3, 9, 9)], dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    Case("maxpool_asym_pads", "MaxPool", [(1, 5, 8, 7)], dict(kernel_shape=[3, 2], pads=[1, 1, 0, 0], strides=[2, 1])),
    Case("maxpool_dilation", "MaxPool", [(1, 3, 9, 9)], dict(kernel_shape=[2, 2], dilations=[2, 2])),
    Case("avgpool_pads_exclude", "AveragePool", [(1, 5, 9, 10)],
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    Case("avgpool_pads_include", "AveragePool", [(1, 5, 9, 10)],
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    Case("avgpool_ceil_include", "AveragePool", [(1, 3, 8, 8)],
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1, count_include_pad=1)),
    Case("avgpool_ceil_exclude", "AveragePool", [(1, 3, 8, 8)],
         dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, pads=[1, 0, 0, 1])),
    Case("global_avgpool", "GlobalAveragePool", [(1, 13, 5, 7)]),
    Case("global_maxpool_1x1", "GlobalMaxPool", [(1, 13, 1, 1)]),
    Case("gemm_bias_vec", "Gemm", [(3, 13), const(13, 7), const(7)]),
    Case("gemm_transb_const", "Gemm", [(1, 13), const(7, 13), const(7)], dict(transB=1)),
    Case("gemm_transa_alpha_beta", "Gemm", [(13, 3), const(13, 7), const(3, 1)], dict(transA=1, alpha=0.5, beta=2.0)),
    Case("gemm_runtime_b", "Gemm", [(3, 5), (5, 4)]),
    Case("matmul_batch_const", "MatMul", [(2, 3, 5), const(5, 4)]),
    Case("matmul_vector", "MatMul", [(5, 7), const(7)]),
    Case("matmul_runtime_batch", "MatMul", [(2, 3, 5), (2, 5, 4)]),
    Case("add_channel_bcast", "Add", [(1, 5, 3, 4), const(5, 1, 1)]),
    Case("add_both_runtime_bcast", "Add", [(3, 1, 4), (1, 5, 4)]),
    Case("sub_row", "Sub", [(2, 3, 4), const(4)]),
    Case("mul_scalar", "Mul", [(2, 3, 4), f32(1.5)]),
    Case("div_same", "Div", [(2, 3, 4), const(2, 3, 4, positive=True)]),
    Case("concat_channels", "Concat", [(1, 3, 4, 4), (1, 5, 4, 4), (1, 1, 4, 4)], dict(axis=1)),
    Case("concat_last_axis", "Concat", [(2, 3), (2, 5)], dict(axis=-1)),
    Case("flatten_axis2", "Flatten", [(2, 3, 4, 5)], dict(axis=2)),
    Case("reshape_infer", "Reshape", [(2, 3, 4), i64(0, -1)]),
    Case("transpose_nhwc", "Transpose", [(1, 3, 4, 5)], dict(perm=[0, 2, 3, 1])),
    Case("transpose_default", "Transpose", [(2, 3, 4)]),
    Case("squeeze_axes_input", "Squeeze", [(1, 3, 1, 5), i64(2)]),
    Case("unsqueeze_axes", "Unsqueeze", [(3, 5), i64(0, 3)]),
    Case("softmax_axis1", "Softmax", [(2, 13, 3)], dict(axis=1)),
    Case("softmax_legacy_2d", "Softmax", [(2, 3, 4)], dict(axis=1), opset=11),
    Case("logsoftmax", "LogSoftmax", [(3, 10)]),
    Case("lrn_size3", "LRN", [(1, 7, 4, 4)], dict(size=3, alpha=1e-3, beta=0.75, bias=2.0)),
    Case("lrn_size5_few_channels", "LRN", [(1, 3, 2, 3)], dict(size=5)),
    Case("dropout", "Dropout", [(2, 5)], opset=12),
    Case("identity", "Identity", [(2, 5)]),
    Case("pad_constant", "Pad", [(1, 3, 4, 5), i64(0, 0, 1, 2, 0, 0, 2, 1), f32(0.5)]),
    Case("pad_reflect", "Pad", [(1, 3, 4, 5), i64(0, 0, 1, 2, 0, 0, 2, 1)], dict(mode="reflect")),
    Case("pad_edge_opset7", "Pad", [(2, 3, 4)], dict(mode="edge", pads=[0, 1, 2, 1, 0, 1]), opset=7),
    Case("max_three_bcast", "Max", [(2, 3, 4), (3, 1), const(4)]),
    Case("min_two", "Min", [(1, 5, 3, 3), (1, 5, 3, 3)]),
    Case("pow_int_exponent", "Pow", [(2, 3, 4), f32(3.0)]),
    Case("split_one_part", "Split", [(2, 6, 3)], dict(axis=1)),  # multi-part splits: tests/ops/test_split.py
    QDQCase("quantize_uint8_tensor", "QuantizeLinear", [(2, 5, 3), np.float32(0.37), np.uint8(131)]),
    QDQCase("dequantize_int8_axis", "DequantizeLinear",
            [(2, 5, 3), np.array([0.1, 0.5, 1.0, 2.0, 0.3], np.float32), np.array([0, 3, -4, 0, 1], np.int8)],
            dict(axis=1)),
]  # quantized networks: tests/quant_runtime/
