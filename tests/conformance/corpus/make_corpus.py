"""Writes the malformed models of this corpus and expected.txt (the error each must produce).

    python -m tests.conformance.corpus.make_corpus

Each case is the smallest model showing one way a file can be broken: the classic ones, and
one per bug the fuzzer (tests/conformance/test_fuzz.py) found, reduced by hand. The files are
checked in; rerun this after adding a case. tests/conformance/test_corpus.py compiles each one
with the `lne` command line and checks the message.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
F = TensorProto.FLOAT
N = helper.make_node


def model(nodes, inputs=(("x", [1, 2, 4, 4]),), outputs=("y",), inits=(), opset=17):
    g = helper.make_graph(nodes, "corpus", [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, F, None) for n in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


W = np.ones((3, 2, 1, 1), np.float32)
I64 = np.int64

ONNX = {  # file stem -> (bytes, the error it must produce)
    # -- classic --------------------------------------------------------------------------------
    "truncated": (model([N("Relu", ["x"], ["y"])])[:-7], "not a valid ONNX model"),
    "not_onnx": (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a valid ONNX model"),
    "opset_too_new": (model([N("Relu", ["x"], ["y"])], opset=29), "opset 29 is not supported"),
    "unsupported_op": (model([N("Erf", ["x"], ["y"])]), "unsupported op type"),
    "cycle": (model([N("Add", ["x", "b"], ["a"]), N("Relu", ["a"], ["b"]), N("Relu", ["a"], ["y"])]), "cycle"),
    "undefined_input": (model([N("Add", ["x", "nowhere"], ["y"])]), "'nowhere', which no node"),
    "tensor_defined_twice": (model([N("Relu", ["x"], ["y"]), N("Sigmoid", ["x"], ["y"])]), "redefines tensor 'y'"),
    "initializer_short_data": (None, "holds 5 values but its shape [3, 2, 1, 1] needs 6"),
    "symbolic_input": (model([N("Relu", ["x"], ["y"])], inputs=(("x", ["batch", 3]),)), "symbolic dimension 'batch'"),
    "conv_zero_stride": (model([N("Conv", ["x", "w"], ["y"], strides=[0, 1])], inits={"w": W}.items()),
                         "strides=[0, 1] must be"),
    "conv_group_mismatch": (model([N("Conv", ["x", "w"], ["y"], group=3)], inits={"w": W}.items()),
                            "group=3 does not divide"),
    "pool_window_too_big": (model([N("MaxPool", ["x"], ["y"], kernel_shape=[9, 9])]), "does not fit input size 4"),
    "reshape_bad_count": (model([N("Reshape", ["x", "s"], ["y"])], inits={"s": np.array([5, -1], I64)}.items()),
                          "cannot reshape [1, 2, 4, 4]"),
    "runtime_cast": (model([N("Cast", ["x"], ["y"], to=7)]), "only supported on constant inputs"),
    # -- found by the fuzzer ----------------------------------------------------------------------
    "attr_wrong_type": (model([N("Conv", ["x", "w"], ["y"], kernel_shape=1.5)], inits={"w": W}.items()),
                        "Mismatched attribute type"),
    "attr_required_missing": (model([N("LRN", ["x"], ["y"])]), "Required attribute 'size' is missing"),
    "attr_unknown": (model([N("Relu", ["x"], ["y"], alpha=2.0)]), "Unrecognized attribute: alpha"),
    "too_few_inputs": (model([N("Add", ["x"], ["y"])]), "input size 1 not in range"),
    "required_input_empty": (model([N("Conv", ["", "w"], ["y"])], inits={"w": W}.items()),
                             "input 0 is marked single but has an empty string"),
    "variadic_input_empty": (model([N("Concat", ["x", ""], ["y"], axis=1)]),
                             "input 1 is required but has an empty name"),
    "batchnorm_param_2d": (model([N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
                                 inits={"s": np.ones((2, 1), np.float32), "b": np.zeros(2, np.float32),
                                        "m": np.zeros(2, np.float32), "v": np.ones(2, np.float32)}.items()),
                           "scale must have shape [2]"),
    "reshape_float_shape": (model([N("Reshape", ["x", "s"], ["y"])], inits={"s": np.array([np.nan, 2])}.items()),
                            "shape (input 1) must be a 1-D integer tensor"),
    "unsqueeze_scalar_axes": (model([N("Unsqueeze", ["x", "a"], ["y"])], inits={"a": np.array(0, I64)}.items()),
                              "axes (input 1) must be a 1-D integer tensor"),
    "reshape_zero_beyond_rank": (model([N("Reshape", ["x", "s"], ["y"])],
                                       inits={"s": np.array([1, 2, 4, 4, 0], I64)}.items()),
                                 "copies a dimension (0) beyond the input's rank 4"),
    "pad_scalar_pads": (model([N("Pad", ["x", "p"], ["y"])], inits={"p": np.array(1, I64)}.items()),
                        "pads must be a 1-D integer tensor"),
    "pad_axes_mismatch": (model([N("Pad", ["x", "p", "", "a"], ["y"])], opset=18,
                                inits={"p": np.array([1, 1, 1], I64), "a": np.array([2, 3], I64)}.items()),
                          "need distinct axes and two pads per axis"),
    "huge_input": (model([N("Relu", ["x"], ["y"])], inputs=(("x", [1, 1, 40, 2**62]),)),
                   "more than 2147483647 elements"),
    "huge_pad_output": (model([N("Pad", ["x", "p"], ["y"])], inits={"p": np.array([0, 0, 0, 2**40] * 2, I64)}.items()),
                        "elements; LNE compiles tensors of at most"),
    "external_data_null_byte": (None, "outside the model's folder"),
    "external_data_traversal": (None, "outside the model's folder"),
    "external_data_long_name": (None, "File name too long"),
    "invalid_utf8_name": (None, "is not valid UTF-8 text"),
    "dropout_training": (model([N("Dropout", ["x", "r", "t"], ["y"])], opset=13,
                               inits={"r": np.array(0.5, np.float32), "t": np.array(True)}.items()),
                         "training_mode=true drops values at random"),
    # -- crafted (issue 14): leaks, limits before work -------------------------------------------
    # a Constant's external data is read from the model's folder only, never the current one
    "constant_external_traversal": (None, "outside the model's folder"),
    "constant_external_cwd": (None, "is missing (it is read from the model's folder)"),
    "constant_external_in_function": (None, "is missing (it is read from the model's folder)"),
    "huge_node_name": (model([N("Relu", ["x"], ["y"], name="n" * 600_000)]), "LNE reads names of at most 4096"),
    "huge_tensor_name": (model([N("Relu", ["x"], ["t" * 300_000]), N("Relu", ["t" * 300_000], ["y"])]),
                         "LNE reads names of at most 4096"),
    "rank_100_input": (model([N("Relu", ["x"], ["y"])], inputs=(("x", [1] * 100),)),
                       "input 'x' has 100 dimensions; LNE compiles tensors of at most 8"),
    "rank_100_initializer": (None, "initializer 'w' has 100 dimensions"),
    "rank_100_constant": (None, "attribute 'value' has 100 dimensions"),
    "duplicate_input": (model([N("Add", ["x", "x"], ["y"])], inputs=(("x", [1, 2]), ("x", [1, 2]))),
                        "declares input 'x' twice"),
    "duplicate_output": (model([N("Relu", ["x"], ["y"])], outputs=("y", "y")), "declares output 'y' twice"),
    "duplicate_initializer": (model([N("Add", ["x", "w"], ["y"])], inits=[("w", np.ones(4, np.float32)),
                                                                          ("w", np.ones(2, np.float32))]),
                              "initializer 'w' is defined twice"),
    "int4_initializer": (None, "initializer 'w' holds INT4 values: INT4 is not supported"),
    "uint4_initializer": (None, "initializer 'w' holds UINT4 values: UINT4 is not supported"),
    "huge_initializer_dims": (None, "has more than 2147483647 elements"),
    "function_blowup": (None, "nodes once its functions are inlined"),
    "sparse_constant": (None, "sparse tensors are not supported"),
}


def _conv_with(weight: TensorProto) -> bytes:
    g = helper.make_graph([N("Conv", ["x", "w"], ["y"])], "corpus",
                          [helper.make_tensor_value_info("x", F, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", F, None)], [weight])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _external(location: str) -> bytes:
    t = numpy_helper.from_array(W, "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return _conv_with(t)


def _short_initializer() -> bytes:
    return _conv_with(TensorProto(name="w", data_type=F, dims=[3, 2, 1, 1], raw_data=np.ones(5, np.float32).tobytes()))


def _invalid_utf8() -> bytes:
    good = model([N("Relu", ["x"], ["y"], name="relu\u00e9")])
    return good.replace("relu\u00e9".encode(), b"relu\xff\xfe", 1)


def _constant_external(location: str) -> bytes:
    """A Constant node whose value has external data at `location`."""
    t = TensorProto(name="c", data_type=F, dims=[1, 2, 4, 4])
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "128")):
        e = t.external_data.add()
        e.key, e.value = key, value
    return model([N("Constant", [], ["c"], value=t), N("Add", ["x", "c"], ["y"])])


def _constant_external_in_function() -> bytes:
    """The same Constant inside a model-local function (inlined before import)."""
    t = TensorProto(name="c", data_type=F, dims=[1, 2, 4, 4])
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", ".ssh/id_rsa"), ("offset", "0"), ("length", "128")):
        e = t.external_data.add()
        e.key, e.value = key, value
    fn = helper.make_function("leak", "AddSecret", ["X"], ["Y"],
                              [N("Constant", [], ["c"], value=t), N("Add", ["X", "c"], ["Y"])],
                              opset_imports=[helper.make_opsetid("", 17)])
    g = helper.make_graph([N("AddSecret", ["x"], ["y"], domain="leak")], "corpus",
                          [helper.make_tensor_value_info("x", F, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", F, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("leak", 1)],
                             functions=[fn]).SerializeToString()


def _packed(data_type) -> bytes:
    """A valid 4-bit initializer (two values a byte), cast to float and added."""
    w = helper.make_tensor("w", data_type, [1, 2, 4, 4], [1] * 32)
    g = helper.make_graph([N("Cast", ["w"], ["wf"], to=F), N("Add", ["x", "wf"], ["y"])], "corpus",
                          [helper.make_tensor_value_info("x", F, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", F, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()


def _rank_100(name: str) -> TensorProto:
    return TensorProto(name=name, data_type=F, dims=[1] * 100, float_data=[1.0])  # numpy stops at 64


def _huge_dims() -> bytes:
    return _conv_with(TensorProto(name="w", data_type=F, dims=[2**62, 2**62, 1, 1], raw_data=b""))


def _function_blowup(depth: int = 40) -> bytes:
    """F0 calls F1 twice, F1 calls F2 twice...: 2^40 nodes once inlined, from a 3 KB file."""
    fns = []
    for k in range(depth):
        if k == depth - 1:
            body = [N("Relu", ["X"], ["Y"])]
        else:
            body = [N(f"F{k + 1}", ["X"], ["T"], domain="f"), N(f"F{k + 1}", ["T"], ["Y"], domain="f")]
        fns.append(helper.make_function("f", f"F{k}", ["X"], ["Y"], body,
                                        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("f", 1)]))
    g = helper.make_graph([N("F0", ["x"], ["y"], domain="f")], "corpus",
                          [helper.make_tensor_value_info("x", F, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", F, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("f", 1)],
                             functions=fns).SerializeToString()


def _sparse_constant() -> bytes:
    values = numpy_helper.from_array(np.ones(2, np.float32), "v")
    indices = numpy_helper.from_array(np.array([0, 5], I64), "i")
    sparse = helper.make_sparse_tensor(values, indices, [1, 2, 4, 4])
    return model([N("Constant", [], ["c"], sparse_value=sparse), N("Add", ["x", "c"], ["y"])])


SPECIAL = {"external_data_null_byte": lambda: _external("w\0.bin"),
           "external_data_traversal": lambda: _external("../../../../etc/passwd"),
           "external_data_long_name": lambda: _external("x" * 5000),
           "invalid_utf8_name": _invalid_utf8, "initializer_short_data": _short_initializer,
           "constant_external_traversal": lambda: _constant_external("../../../../etc/passwd"),
           "constant_external_cwd": lambda: _constant_external(".ssh/id_rsa"),
           "constant_external_in_function": _constant_external_in_function,
           "int4_initializer": lambda: _packed(TensorProto.INT4),
           "uint4_initializer": lambda: _packed(TensorProto.UINT4),
           "huge_initializer_dims": _huge_dims, "function_blowup": _function_blowup,
           "sparse_constant": _sparse_constant,
           "rank_100_initializer": lambda: _conv_with(_rank_100("w")),
           "rank_100_constant": lambda: model([N("Constant", [], ["c"], value=_rank_100("c")),
                                               N("Add", ["x", "c"], ["y"])])}

CAFFE_INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
CAFFE = {  # file stem -> (prototxt, the error it must produce)
    "unbalanced_braces": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r"\n', "prototxt"),
    "v1_layers": ('layers { name: "r" type: RELU bottom: "data" top: "r" }\n', "V1 format"),
    "unknown_layer": (CAFFE_INPUT + 'layer { name: "x" type: "Frobnicate" bottom: "data" top: "x" }\n', "Frobnicate"),
    "missing_bottom": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "nowhere" top: "r" }\n', "nowhere"),
    "conv_without_weights": (CAFFE_INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                             'convolution_param { num_output: 2 kernel_size: 1 } }\n', "has no weights"),
    "not_utf8": ("layer { name: \"\udcff\" }\n", "not a text prototxt"),
    # -- crafted (issue 14): bounded before protobuf's text parser runs ---------------------------
    "deep_nesting": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" '
                     + "convolution_param { " * 5000 + "}" * 5000 + " }\n", "nested more than 64 levels deep"),
    "deep_nesting_angle": (CAFFE_INPUT + 'layer < name: "r" type: "ReLU" bottom: "data" top: "r" '
                           + "convolution_param < " * 5000 + ">" * 5000 + " >\n", "nested more than 64 levels deep"),
    "escaped_backslashes": (CAFFE_INPUT + 'layer { name: "' + "\\\\" * 200_000 + '" type: "ReLU" bottom: "data" '
                            'top: "r" }\n', "backslashes in a row"),
    "huge_blob_dims": (CAFFE_INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                       'convolution_param { num_output: 2 kernel_size: 1 } '
                       'blobs { shape { dim: 4611686018427387904 dim: 4611686018427387904 dim: 16 } } '
                       'blobs { shape { dim: 2 } data: 0 data: 0 } }\n',
                       "layer 'c' blob 0 has shape [4611686018427387904, 4611686018427387904, 16]"),
    "huge_layer_name": (CAFFE_INPUT + 'layer { name: "' + "n" * 600_000 + '" type: "ReLU" bottom: "data" top: "r" }\n',
                        "LNE reads names of at most 4096 characters"),
    "rank_9_input": ('layer { name: "data" type: "Input" top: "data" input_param { shape { '
                     + "dim: 1 " * 9 + "} } }\n", "input 'data' has 9 dimensions; LNE compiles tensors of at most 8"),
    "reshape_rank_21": (CAFFE_INPUT + 'layer { name: "rs" type: "Reshape" bottom: "data" top: "r" '
                        'reshape_param { shape { ' + "dim: 1 " * 20 + "dim: 32 } } }\n",
                        "layer 'rs' (Reshape): output would have 21 dimensions"),
    # 6,000 in-place layers of one name, then a broken one: was quadratic (tens of seconds)
    "in_place_chain": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "data" }\n' * 6000
                       + 'layer { name: "bad" type: "ReLU" bottom: "nowhere" top: "data" }\n',
                       "bottom 'nowhere' is not produced"),
}


def main() -> None:
    lines = ["# Malformed models and the error each must produce (a substring of LNE's message).",
             "# Written by make_corpus.py; checked by test_corpus.py.  path: expected error"]
    (HERE / "onnx").mkdir(exist_ok=True)
    for stem, (data, error) in ONNX.items():
        (HERE / "onnx" / f"{stem}.onnx").write_bytes(data if data is not None else SPECIAL[stem]())
        lines.append(f"onnx/{stem}.onnx: {error}")
    (HERE / "caffe").mkdir(exist_ok=True)
    for stem, (text, error) in CAFFE.items():
        (HERE / "caffe" / f"{stem}.prototxt").write_bytes(text.encode("utf-8", "surrogateescape"))
        lines.append(f"caffe/{stem}.prototxt: {error}")
    (HERE / "expected.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
