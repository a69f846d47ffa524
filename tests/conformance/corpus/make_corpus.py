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
                         "strides=[0, 1] must be two positive integers"),
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


SPECIAL = {"external_data_null_byte": lambda: _external("w\0.bin"),
           "external_data_traversal": lambda: _external("../../../../etc/passwd"),
           "external_data_long_name": lambda: _external("x" * 5000),
           "invalid_utf8_name": _invalid_utf8, "initializer_short_data": _short_initializer}

CAFFE_INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
CAFFE = {  # file stem -> (prototxt, the error it must produce)
    "unbalanced_braces": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r"\n', "prototxt"),
    "v1_layers": ('layers { name: "r" type: RELU bottom: "data" top: "r" }\n', "V1 format"),
    "unknown_layer": (CAFFE_INPUT + 'layer { name: "x" type: "Frobnicate" bottom: "data" top: "x" }\n', "Frobnicate"),
    "missing_bottom": (CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "nowhere" top: "r" }\n', "nowhere"),
    "conv_without_weights": (CAFFE_INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                             'convolution_param { num_output: 2 kernel_size: 1 } }\n', "has no weights"),
    "not_utf8": ("layer { name: \"\udcff\" }\n", "not a text prototxt"),
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
