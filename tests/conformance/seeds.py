"""Seed models for the fuzz tests: the real DS_CNN keyword spotter shipped in examples/, and
one small net per frontend that uses every op family the frontend lowers, laid out as
exporters write them (shape arithmetic feeding Reshape, constants as nodes, BN after conv)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _onnx_zoo() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = []

    def const(name, *shape, scale=0.3, data=None):
        data = (rng.standard_normal(shape) * scale).astype(np.float32) if data is None else data
        inits.append(numpy_helper.from_array(data, name))
        return name

    def i64(name, values):
        return const(name, data=np.array(values, np.int64))

    N = helper.make_node
    nodes = [
        N("Pad", ["x", i64("pads", [0, 0, 1, 1, 0, 0, 1, 1])], ["p"], mode="constant"),
        N("Conv", ["p", const("w1", 8, 3, 3, 3), const("b1", 8)], ["c1"], kernel_shape=[3, 3]),
        N("Relu", ["c1"], ["r1"]),
        N("MaxPool", ["r1"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        N("Conv", ["mp", const("w2", 8, 1, 3, 3)], ["dw"], group=8, pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        N("BatchNormalization", ["dw", const("s", data=np.linspace(0.5, 1.5, 8, dtype=np.float32)), const("bb", 8),
                                 const("mean", 8), const("var", data=np.linspace(0.5, 2, 8, dtype=np.float32))],
          ["bn"], epsilon=1e-5),
        N("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0, np.float32))),
        N("Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6, np.float32))),
        N("Clip", ["bn", "lo", "hi"], ["cl"]),
        N("AveragePool", ["cl"], ["ap"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1),
        N("LRN", ["ap"], ["lr"], size=3),
        N("Sigmoid", ["lr"], ["sg"]),
        N("Tanh", ["lr"], ["th"]),
        N("Concat", ["sg", "th"], ["cat"], axis=1),
        N("Add", ["cat", const("ab", 16, 1, 1)], ["ad"]),
        N("PRelu", ["ad", const("slope", 16, 1, 1)], ["pr"]),
        N("Transpose", ["pr"], ["tr"], perm=[0, 2, 3, 1]),
        N("Shape", ["tr"], ["shp"]),
        N("Gather", ["shp", i64("zero", 0)], ["n"], axis=0),
        N("Unsqueeze", ["n", i64("ax0", [0])], ["n1"]),
        N("Concat", ["n1", i64("minus1", [-1])], ["target"], axis=0),
        N("Reshape", ["tr", "target"], ["rs"]),
        N("MatMul", ["rs", const("w3", 400, 10, scale=0.05)], ["mm"]),
        N("Gemm", ["mm", const("w4", 5, 10), const("c4", 5)], ["gm"], transB=1, alpha=0.5, beta=2.0),
        N("LeakyRelu", ["gm"], ["lk"], alpha=0.1),
        N("Unsqueeze", ["lk", i64("ax2", [2])], ["us"]),
        N("Squeeze", ["us", "ax2"], ["sq"]),
        N("Dropout", ["sq"], ["dr"]),
        N("Softmax", ["dr"], ["y_softmax"], axis=1),
        N("LogSoftmax", ["dr"], ["y_logsoftmax"], axis=-1),
        N("GlobalMaxPool", ["r1"], ["gmp"]),
        N("GlobalAveragePool", ["r1"], ["gap"]),
        N("Flatten", ["gmp"], ["fl"]),
        N("Mul", ["fl", const("k1", 8)], ["mu"]),
        N("Sub", ["mu", const("k2", 1, 8)], ["su"]),
        N("Div", ["su", const("k3", data=np.full(8, 2.0, np.float32))], ["dv"]),
        N("HardSigmoid", ["dv"], ["hsg"], alpha=0.3),
        N("HardSwish", ["hsg"], ["y_hard"]),
        N("Identity", ["gap"], ["y_gap"]),
    ]
    f = TensorProto.FLOAT
    graph = helper.make_graph(nodes, "zoo", [helper.make_tensor_value_info("x", f, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(n, f, s) for n, s in
                               (("y_softmax", [1, 5]), ("y_logsoftmax", [1, 5]), ("y_hard", [1, 8]),
                                ("y_gap", [1, 8, 1, 1]))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


@lru_cache(maxsize=None)
def onnx_seeds() -> tuple[bytes, ...]:
    return ((ROOT / "examples" / "ds_cnn.onnx").read_bytes(), _onnx_zoo())


# -- Caffe ---------------------------------------------------------------------------------------
CAFFE_NET = """name: "zoo"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 12 dim: 12 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" batch_norm_param { eps: 1e-5 } }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "dw" type: "Convolution" bottom: "pool1" top: "dw"
  convolution_param { num_output: 8 group: 8 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "prelu" type: "PReLU" bottom: "dw" top: "dw" }
layer { name: "split" type: "Split" bottom: "dw" top: "a" top: "b" }
layer { name: "sig" type: "Sigmoid" bottom: "a" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "b" top: "tanh" }
layer { name: "cat" type: "Concat" bottom: "sig" bottom: "tanh" top: "cat" concat_param { axis: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "cat" bottom: "cat" top: "sum"
  eltwise_param { operation: SUM coeff: 0.5 coeff: 2 } }
layer { name: "lrn" type: "LRN" bottom: "sum" top: "lrn" lrn_param { local_size: 3 } }
layer { name: "pool2" type: "Pooling" bottom: "lrn" top: "pool2"
  pooling_param { pool: AVE kernel_size: 2 stride: 1 pad: 1 } }
layer { name: "drop" type: "Dropout" bottom: "pool2" top: "pool2" dropout_param { dropout_ratio: 0.5 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool2" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "relu6" type: "ReLU6" bottom: "fc" top: "fc" }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""

# blob shapes per layer (Caffe conventions), so the seed caffemodel holds real weights
CAFFE_BLOBS = {"conv1": [(8, 3, 3, 3), (8,)], "bn1": [(8,), (8,), (1,)], "scale1": [(8,), (8,)],
               "dw": [(8, 1, 3, 3)], "prelu": [(8,)], "fc": [(10, 16 * 7 * 7), (10,)]}


def net_parameter():
    """The Caffe frontend's NetParameter message class (None while the frontend is absent)."""
    try:
        from lne.frontends.caffe.schema import NetParameter
    except ImportError:
        return None
    return NetParameter


@lru_cache(maxsize=None)
def caffe_seeds() -> tuple[tuple[str, bytes], ...]:
    """(prototxt text, caffemodel bytes) pairs."""
    net = net_parameter()()
    rng = np.random.default_rng(0)
    for name, shapes in CAFFE_BLOBS.items():
        layer = net.layer.add()
        layer.name = name
        for i, shape in enumerate(shapes):
            blob = layer.blobs.add()
            blob.shape.dim.extend(shape)
            positive = name == "bn1" or (name == "scale1" and i == 0)  # mean, var, factor; gamma
            data = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape) * 0.3
            blob.data.extend(data.astype(np.float32).ravel().tolist())
    return ((CAFFE_NET, net.SerializeToString()),)
