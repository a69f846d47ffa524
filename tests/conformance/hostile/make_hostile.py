"""Crafted hostile inputs for every `lne` command (issue 14), written at test time.

    python -m tests.conformance.hostile.make_hostile DIR [NAME ...]   # write them (all, or NAME...)

Nothing here is checked in but this generator: each input is a few bytes to under 1 MB and is
made deterministically (no randomness, no clock) into a folder. ``INPUTS`` maps a name to a
function ``make(d, case) -> Path`` that writes the input into folder ``d`` and returns its
main path; ``case`` is the case's root folder (for inputs that name absolute paths inside it).
tests/conformance/test_hostile.py runs each command line on them under a 1 GB / 30 s budget.

Classes (issue 14 and more in its spirit):

- ONNX: folding blowups of a few bytes (ConstantOfShape, Expand, Tile, Range, broadcast),
  folds that are cheap to declare and slow to compute (Conv / MatMul on ConstantOfShape), a
  50,000-node Relu chain (the largest under 1 MB; 100,000 nodes is 1.9 MB, made separately for
  the compile-time acceptance check), huge names, terminal escapes in names, rank 100,
  duplicate graph inputs, an INT4 initializer, external data pointing outside the model's
  folder (initializers and Constant attributes, relative / absolute / `..` / symlink), strides,
  dilations and pads near INT64_MAX, a model called lne_status.
- Caffe: deep nesting (header and inside a layer), 20,000 in-place ReLU layers, a string of
  escaped backslashes, a long string, caffemodel blobs with dims overflowing int64 or claiming
  billions of values, an Input layer with a huge dim.
- .npy: a header claiming 10^12 elements, string / struct / complex / object dtypes, truncated
  data, a deeply nested header, not .npy at all, big-endian (valid), wrong shape.
- plan.json: 35,000 nodes (the largest under 1 MB), deep nesting, wrong types, a huge string.
- bundle manifests (inside a copy of a real bundle, written by the test): see ``MANIFEST_EDITS``.
- workflow YAML: billion laughs, deep flow and block nesting, `name: ../../victim`, an absolute
  name, a huge name, `tool: lne.pipeline.tool:Tool`, `tool: os:system`, an unknown module, wrong
  types; a Speech Commands folder with FIFOs for a WAV, a background-noise file and a list file.
- FIFOs: as a model, a prototxt, a caffemodel, a plan, an .npy input, a calibration file, a member
  of a calibration folder, a workflow, an output.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import wave
from pathlib import Path

import numpy as np

MB = 1_000_000              # "a crafted file of under 1 MB"
INT64_MAX = 2**63 - 1
SECRET = b"LNE-HOSTILE-SECRET:" + bytes(range(65, 65 + 45))  # 64 bytes: 16 float32 values
ESC_NAME = "relu\x1b[2J\x1b]0;pwned\x07\x1b[31mRED\r\nerror: fake\x9b1m"


# ------------------------------------------------------------------------------------------------
# helpers

def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


def onnx_bytes(nodes, inputs=(("x", [1, 4]),), outputs=(("y", None),), inits=(), opset=17,
               graph_name="hostile", elem=None, value_info=()) -> bytes:
    """A model from plain parts: inputs / outputs as (name, shape) (float), inits as
    (name, array) or TensorProto. Not checked (crafted models are often invalid on purpose)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    elem = elem or TensorProto.FLOAT
    ins = [helper.make_tensor_value_info(n, elem, s) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, elem, s) for n, s in outputs]
    tensors = [t if isinstance(t, TensorProto) else numpy_helper.from_array(np.asarray(t[1]), t[0])
               for t in inits]
    g = helper.make_graph(nodes, graph_name, ins, outs, tensors, value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="hostile")
    m.ir_version = min(m.ir_version, 10)  # onnxruntime 1.17+ reads IR 10
    return m.SerializeToString()


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _node(op, ins, outs, name="", **attrs):
    _, _, helper, _ = _onnx()
    return helper.make_node(op, ins, outs, name=name, **attrs)


def _i64(name, values):
    return (name, np.asarray(values, np.int64))


def _cos(shape_name, out, value=None):
    """ConstantOfShape(shape_name) -> out, value a float32 scalar tensor."""
    _, TensorProto, helper, _ = _onnx()
    v = helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0 if value is None else value])
    return _node("ConstantOfShape", [shape_name], [out], value=v)


def _short_names(n: int, alphabet: str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    """n distinct shortest names (deterministic)."""
    out, width = [], 1
    while len(out) < n:
        count = len(alphabet) ** width
        for i in range(count):
            s, k = "", i
            for _ in range(width):
                s = alphabet[k % len(alphabet)] + s
                k //= len(alphabet)
            out.append(s)
            if len(out) == n:
                break
        width += 1
    return out


def mkfifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.mkfifo(path)
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())
    return path


def npy_header(shape, descr="<f4", fortran=False, version=(1, 0), pad_to=64) -> bytes:
    """The bytes of a .npy header (magic, version, length, dict), as numpy writes it."""
    d = "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, repr(tuple(shape)))
    hlen_size = 2 if version == (1, 0) else 4
    total = 6 + 2 + hlen_size + len(d) + 1
    d += " " * ((-total) % pad_to) + "\n"
    fmt = "<H" if version == (1, 0) else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(d)) + d.encode("latin1")


# ------------------------------------------------------------------------------------------------
# valid building blocks (the tiny model the other inputs are fed to)

TINY_SHAPE = [1, 1, 4, 4]


def tiny_bytes() -> bytes:
    """Conv 3x3 (2 channels, pad 1) + Relu on x [1, 1, 4, 4] -> y [1, 2, 4, 4]: compiles, validates,
    quantizes and tunes in seconds."""
    w = (np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3) - 9) / 10
    return onnx_bytes([_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                       _node("Relu", ["c"], ["y"], name="relu")],
                      inputs=(("x", TINY_SHAPE),), outputs=(("y", [1, 2, 4, 4]),),
                      inits=(("w", w), ("b", np.array([0.1, -0.1], np.float32))))


def tiny(d, case):
    return _write(d / "tiny.onnx", tiny_bytes())


def tiny_prototxt(d, case):
    return _write(d / "tiny.prototxt", 'name: "tiny"\nlayer { name: "data" type: "Input" top: "d" '
                  'input_param { shape { dim: 1 dim: 4 } } }\nlayer { name: "r" type: "ReLU" bottom: "d" top: "y" }\n')


def good_npy(d, case):
    p = d / "good.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, (np.arange(16, dtype=np.float32).reshape(TINY_SHAPE) - 8) / 4)
    return p


def calib_npy(d, case):
    p = d / "calib.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, (np.arange(8 * 16, dtype=np.float32).reshape(8, 1, 4, 4) % 7 - 3) / 3)
    return p


# ------------------------------------------------------------------------------------------------
# ONNX: folding blowups (a few hundred bytes each)

def _fold_model(nodes, inits, big="big", x_shape=(1, 1)):
    return onnx_bytes(nodes + [_node("Add", ["x", big], ["y"], name="add")],
                      inputs=(("x", list(x_shape)),), inits=inits)


def onnx_cos_4g(d, case):
    """ConstantOfShape [65536, 65536]: 2^32 float32 elements (16 GB) from 200 bytes."""
    return _write(d / "cos_4g.onnx", _fold_model([_cos("s", "big")], [_i64("s", [65536, 65536])]))


def onnx_cos_1g(d, case):
    """ConstantOfShape [32768, 32768]: 2^30 elements, under the 2^31-1 element limit, 4 GB of float32."""
    return _write(d / "cos_1g.onnx", _fold_model([_cos("s", "big")], [_i64("s", [32768, 32768])]))


def onnx_cos_rank8(d, case):
    """ConstantOfShape of rank 8 with dims 16: 2^32 elements, each dim small."""
    return _write(d / "cos_rank8.onnx", _fold_model([_cos("s", "big")], [_i64("s", [16] * 8)], x_shape=[1] * 8))


def onnx_expand(d, case):
    return _write(d / "expand.onnx", _fold_model([_node("Expand", ["one", "s"], ["big"])],
                                                 [("one", np.ones([1], np.float32)), _i64("s", [65536, 65536])]))


def onnx_tile(d, case):
    return _write(d / "tile.onnx", _fold_model([_node("Tile", ["one", "r"], ["big"])],
                                               [("one", np.ones([1, 1], np.float32)), _i64("r", [65536, 65536])]))


def onnx_range(d, case):
    """Range(0, 2^32, 1) in int64 (32 GB), cast to float."""
    return _write(d / "range.onnx", _fold_model(
        [_node("Range", ["a", "b", "c"], ["r"]), _node("Cast", ["r"], ["big"], to=1)],
        [("a", np.array(0, np.int64)), ("b", np.array(2**32, np.int64)), ("c", np.array(1, np.int64))],
        x_shape=[1]))


def onnx_range_float(d, case):
    """Range(0, 1e12, 1) in float32."""
    return _write(d / "range_float.onnx", _fold_model(
        [_node("Range", ["a", "b", "c"], ["big"])],
        [("a", np.array(0, np.float32)), ("b", np.array(1e12, np.float32)), ("c", np.array(1, np.float32))],
        x_shape=[1]))


def onnx_broadcast(d, case):
    """Mul of [65536, 1] and [1, 65536] constants (ConstantOfShape): 2^32 elements."""
    return _write(d / "broadcast.onnx", _fold_model(
        [_cos("s1", "a"), _cos("s2", "b"), _node("Mul", ["a", "b"], ["big"])],
        [_i64("s1", [65536, 1]), _i64("s2", [1, 65536])]))


def onnx_broadcast_1g(d, case):
    """Add of [32768, 1] and [1, 32768] initializers (128 KB each): 2^30 elements (4 GB)."""
    return _write(d / "broadcast_1g.onnx", _fold_model(
        [_node("Add", ["a", "b"], ["big"])],
        [("a", np.ones([32768, 1], np.float32)), ("b", np.ones([1, 32768], np.float32))]))


def onnx_conv_fold(d, case):
    """Conv on ConstantOfShape inputs: X [1, 64, 512, 512], W [64, 64, 3, 3]: 9.7 G multiply-adds for
    the numpy reference, from about 400 bytes."""
    return _write(d / "conv_fold.onnx", _fold_model(
        [_cos("xs", "cx"), _cos("ws", "cw"), _node("Conv", ["cx", "cw"], ["big"], pads=[1, 1, 1, 1])],
        [_i64("xs", [1, 64, 512, 512]), _i64("ws", [64, 64, 3, 3])], x_shape=[1, 1, 1, 1]))


def onnx_matmul_fold(d, case):
    """MatMul of two ConstantOfShape [8192, 8192]: 5.5e11 multiply-adds, 256 MB each operand."""
    return _write(d / "matmul_fold.onnx", _fold_model(
        [_cos("s", "a"), _cos("s", "b"), _node("MatMul", ["a", "b"], ["big"])], [_i64("s", [8192, 8192])]))


def onnx_declared_huge_input(d, case):
    """A graph input declared [65536, 65536] (no constant: the arena would be 16 GB)."""
    return _write(d / "declared_huge_input.onnx", onnx_bytes([_node("Relu", ["x"], ["y"])],
                                                             inputs=(("x", [65536, 65536]),)))


def onnx_reshape_huge(d, case):
    """Reshape to a shape of 2^62 elements (wrong count, but the product overflows int64 first)."""
    return _write(d / "reshape_huge.onnx", onnx_bytes([_node("Reshape", ["x", "s"], ["y"])],
                                                      inits=(_i64("s", [2**31, 2**31, 2**31]),)))


# ------------------------------------------------------------------------------------------------
# ONNX: size of the graph, names

CHAIN_NODES = 50_000   # the largest Relu chain under 1 MB (about 0.9 MB); 100,000 nodes is 1.9 MB


def relu_chain_bytes(n: int) -> bytes:
    names = ["x"] + ["t" + s for s in _short_names(n - 1)] + ["y"]
    nodes = [_node("Relu", [names[i]], [names[i + 1]]) for i in range(n)]
    return onnx_bytes(nodes, inputs=(("x", [1, 4]),), outputs=(("y", [1, 4]),))


def onnx_relu_chain(d, case):
    return _write(d / "relu_chain.onnx", relu_chain_bytes(CHAIN_NODES))


def onnx_relu_chain_100k(d, case):
    """Not under 1 MB (1.9 MB): the acceptance check that a 100,000-node chain compiles in 30 s."""
    return _write(d / "relu_chain_100k.onnx", relu_chain_bytes(100_000))


HUGE = 900_000  # characters of a huge name: the file stays under 1 MB


def onnx_huge_node_name(d, case):
    """An unsupported op whose node name is 900,000 characters: the error must not echo it whole."""
    return _write(d / "huge_node_name.onnx", onnx_bytes([_node("Erf", ["x"], ["y"], name="N" * HUGE)]))


def onnx_huge_undefined_input(d, case):
    """A node reading an undefined tensor whose name is 900,000 characters."""
    return _write(d / "huge_undefined_input.onnx", onnx_bytes([_node("Add", ["x", "U" * HUGE], ["y"])]))


def onnx_huge_input_name(d, case):
    """A valid Relu model whose graph input is named with 900,000 characters."""
    big = "I" * (HUGE // 2)  # (it is stored twice)
    return _write(d / "huge_input_name.onnx", onnx_bytes([_node("Relu", [big], ["y"])], inputs=((big, [1, 4]),)))


def onnx_escape_names(d, case):
    """A valid model whose node, tensor and graph names hold terminal escape codes, CR/LF and a C1 CSI."""
    return _write(d / "escape_names.onnx", onnx_bytes(
        [_node("Relu", ["x"], [ESC_NAME + "_t"], name=ESC_NAME), _node("Sigmoid", [ESC_NAME + "_t"], ["y"],
                                                                       name=ESC_NAME + "2")],
        graph_name=ESC_NAME))


def onnx_escape_error(d, case):
    """An unsupported op and an undefined input, named with terminal escape codes."""
    return _write(d / "escape_error.onnx", onnx_bytes([_node("Erf", ["x", ESC_NAME], ["y"], name=ESC_NAME)]))


def onnx_rank100(d, case):
    return _write(d / "rank100.onnx", onnx_bytes([_node("Relu", ["x"], ["y"])], inputs=(("x", [1] * 100),),
                                                 outputs=(("y", [1] * 100),)))


def onnx_duplicate_inputs(d, case):
    """The graph input 'x' listed twice."""
    return _write(d / "duplicate_inputs.onnx", onnx_bytes([_node("Add", ["x", "x"], ["y"])],
                                                          inputs=(("x", [1, 4]), ("x", [1, 4]))))


def onnx_duplicate_init_input(d, case):
    """An initializer and a graph input of the same name but different shapes."""
    return _write(d / "duplicate_init_input.onnx", onnx_bytes(
        [_node("Add", ["x", "b"], ["y"])], inputs=(("x", [1, 4]), ("b", [1, 4])),
        inits=(("b", np.ones([3, 3], np.float32)),)))


def onnx_int4(d, case):
    """A valid INT4 initializer (4 values packed in 2 bytes) dequantized and added to x (opset 21)."""
    _, TensorProto, helper, _ = _onnx()
    w = helper.make_tensor("w", TensorProto.INT4, [4], [1, -2, 3, -4])
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.5])
    return _write(d / "int4.onnx", onnx_bytes(
        [_node("DequantizeLinear", ["w", "s"], ["dw"]), _node("Add", ["x", "dw"], ["y"])],
        inputs=(("x", [4]),), outputs=(("y", [4]),), inits=(w, s), opset=21))


# ------------------------------------------------------------------------------------------------
# ONNX: external data pointing outside the model's folder (the secret lives in the case's cwd)

def _external_tensor(name, location):
    _, TensorProto, _, _ = _onnx()
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend([len(SECRET) // 4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(SECRET)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _secret_in_cwd(case: Path) -> Path:
    return _write(case / "cwd" / "secret.bin", SECRET)


def _ext_attr_model(d, stem, location):
    _, _, helper, _ = _onnx()
    const = helper.make_node("Constant", [], ["c"], name="leak", value=_external_tensor("c", location))
    return _write(d / "model" / f"{stem}.onnx", onnx_bytes([const, _node("Add", ["x", "c"], ["y"])],
                                                           inputs=(("x", [16]),), outputs=(("y", [16]),)))


def _ext_init_model(d, stem, location):
    return _write(d / "model" / f"{stem}.onnx", onnx_bytes([_node("Add", ["x", "c"], ["y"])],
                                                           inputs=(("x", [16]),), outputs=(("y", [16]),),
                                                           inits=(_external_tensor("c", location),)))


def onnx_ext_attr_cwd(d, case):
    """A Constant attribute with external data 'secret.bin': not beside the model, but in the cwd."""
    _secret_in_cwd(case)
    return _ext_attr_model(d, "ext_attr_cwd", "secret.bin")


def onnx_ext_init_cwd(d, case):
    _secret_in_cwd(case)
    return _ext_init_model(d, "ext_init_cwd", "secret.bin")


def onnx_ext_attr_abs(d, case):
    secret = _secret_in_cwd(case)
    return _ext_attr_model(d, "ext_attr_abs", str(secret.resolve()))


def onnx_ext_init_abs(d, case):
    secret = _secret_in_cwd(case)
    return _ext_init_model(d, "ext_init_abs", str(secret.resolve()))


def onnx_ext_attr_dotdot(d, case):
    _secret_in_cwd(case)
    return _ext_attr_model(d, "ext_attr_dotdot", "../../cwd/secret.bin")


def onnx_ext_init_dotdot(d, case):
    _secret_in_cwd(case)
    return _ext_init_model(d, "ext_init_dotdot", "../../cwd/secret.bin")


def onnx_ext_attr_symlink(d, case):
    """The location is a plain name beside the model, but a symbolic link to the secret."""
    secret = _secret_in_cwd(case)
    link = d / "model" / "link.bin"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(secret.resolve())
    return _ext_attr_model(d, "ext_attr_symlink", "link.bin")


def onnx_ext_init_symlink(d, case):
    secret = _secret_in_cwd(case)
    link = d / "model" / "link.bin"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(secret.resolve())
    return _ext_init_model(d, "ext_init_symlink", "link.bin")


def onnx_ext_attr_fifo(d, case):
    """The external data file beside the model is a FIFO."""
    mkfifo(d / "model" / "pipe.bin")
    return _ext_attr_model(d, "ext_attr_fifo", "pipe.bin")


def onnx_ext_attr_beside(d, case):
    """Control: the external data file is a regular file beside the model (valid: must compile)."""
    _write(d / "model" / "data.bin", np.arange(16, dtype=np.float32).tobytes())
    return _ext_attr_model(d, "ext_attr_beside", "data.bin")


def onnx_ext_huge_length(d, case):
    """External data beside the model claiming offset 0, length 2^62."""
    _, TensorProto, _, _ = _onnx()
    _write(d / "model" / "small.bin", bytes(64))
    t = _external_tensor("c", "small.bin")
    t.dims[:] = [2**31 - 1, 2**31 - 1]
    for e in t.external_data:
        if e.key == "length":
            e.value = str(2**62)
    return _write(d / "model" / "ext_huge_length.onnx", onnx_bytes(
        [_node("Add", ["x", "c"], ["y"])], inputs=(("x", [1]),), inits=(t,)))


# ------------------------------------------------------------------------------------------------
# ONNX: geometry that overflows the C++ types, a name that collides with the runtime

def _conv_model(**attrs):
    w = np.ones([1, 1, 1, 1], np.float32)
    return onnx_bytes([_node("Conv", ["x", "w"], ["y"], **attrs)], inputs=(("x", [1, 1, 4, 4]),), inits=(("w", w),))


def onnx_strides_int64max(d, case):
    return _write(d / "strides_int64max.onnx", _conv_model(strides=[INT64_MAX, 1]))


def onnx_strides_2p31(d, case):
    return _write(d / "strides_2p31.onnx", _conv_model(strides=[2**31, 2**31 + 1]))


def onnx_dilations_int64max(d, case):
    return _write(d / "dilations_int64max.onnx", _conv_model(dilations=[INT64_MAX, INT64_MAX]))


def onnx_pads_int64max(d, case):
    return _write(d / "pads_int64max.onnx", _conv_model(pads=[0, 0, INT64_MAX, 0]))


def onnx_pool_strides_int64max(d, case):
    return _write(d / "pool_strides_int64max.onnx", onnx_bytes(
        [_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[INT64_MAX, INT64_MAX])],
        inputs=(("x", [1, 1, 4, 4]),)))


def onnx_lne_status(d, case):
    """A valid model whose file name makes the bundle (and header guard) `lne_status`."""
    return _write(d / "lne_status.onnx", onnx_bytes([_node("Relu", ["x"], ["y"])], outputs=(("y", [1, 4]),)))


# ------------------------------------------------------------------------------------------------
# Caffe

_CAFFE_INPUT = 'name: "n"\nlayer { name: "data" type: "Input" top: "d" input_param { shape { dim: 1 dim: 4 } } }\n'


def caffe_deep_header(d, case):
    """30,000 nested unknown messages at the top level (100 KB)."""
    return _write(d / "deep_header.prototxt", _CAFFE_INPUT + "a {" * 30000 + "}" * 30000 + "\n")


def caffe_deep_layer(d, case):
    """30,000 nested unknown messages inside a layer block."""
    return _write(d / "deep_layer.prototxt", _CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "d" top: "y" '
                  + "p {" * 30000 + "}" * 30000 + " }\n")


def caffe_deep_known(d, case):
    """Nesting through known fields and then a deep unknown value list."""
    return _write(d / "deep_known.prototxt", _CAFFE_INPUT + 'layer { name: "r" type: "ReLU" bottom: "d" top: "y" '
                  'relu_param { ' + "x: [" * 30000 + "]" * 30000 + " } }\n")


CAFFE_INPLACE = 20_000


def caffe_inplace_relu(d, case):
    """20,000 in-place ReLU layers on one blob (valid; about 0.9 MB)."""
    names = _short_names(CAFFE_INPLACE)
    body = "".join(f'layer{{name:"{n}"type:"ReLU"bottom:"d"top:"d"}}\n' for n in names)
    return _write(d / "inplace_relu.prototxt", _CAFFE_INPUT + body)


def caffe_backslashes(d, case):
    """A layer name of 450,000 escaped backslashes (900 KB): quadratic in protobuf's unescaping."""
    return _write(d / "backslashes.prototxt", _CAFFE_INPUT + 'layer { name: "' + "\\\\" * 450_000
                  + '" type: "ReLU" bottom: "d" top: "y" }\n')


def caffe_long_string(d, case):
    """A layer name of 900,000 characters."""
    return _write(d / "long_string.prototxt", _CAFFE_INPUT + 'layer { name: "' + "L" * HUGE
                  + '" type: "ReLU" bottom: "d" top: "y" }\n')


def caffe_escape_names(d, case):
    """A valid net whose layer names hold terminal escapes (as protobuf text escapes)."""
    esc = ESC_NAME.encode("utf-8").decode("latin1")
    quoted = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\%03o" % ord(c) for c in esc)
    return _write(d / "escape_names.prototxt", _CAFFE_INPUT + f'layer {{ name: "{quoted}" type: "ReLU" '
                  'bottom: "d" top: "y" }\n')


def caffe_huge_input_dim(d, case):
    return _write(d / "huge_input_dim.prototxt", 'name: "n"\nlayer { name: "data" type: "Input" top: "d" '
                  'input_param { shape { dim: 4611686018427387904 dim: 4 } } }\n'
                  'layer { name: "r" type: "ReLU" bottom: "d" top: "y" }\n')


_CAFFE_IP = _CAFFE_INPUT + ('layer { name: "ip" type: "InnerProduct" bottom: "d" top: "y" '
                            'inner_product_param { num_output: 2 } }\n')


def _caffemodel(d, stem, dims, data=()):
    from lne.frontends.caffe.schema import NetParameter

    net = NetParameter()
    net.name = "n"
    layer = net.layer.add()
    layer.name, layer.type = "ip", "InnerProduct"
    blob = layer.blobs.add()
    blob.shape.dim.extend(dims)
    blob.data.extend(data)
    _write(d / f"{stem}.prototxt", _CAFFE_IP)
    return _write(d / f"{stem}.caffemodel", net.SerializeToString())


def caffe_blob_overflow(d, case):
    """A caffemodel blob of shape [2^62, 2^62] (the product overflows int64)."""
    return _caffemodel(d, "blob_overflow", [2**62, 2**62])


def caffe_blob_billions(d, case):
    """A caffemodel blob claiming [65536, 65536] values with none stored."""
    return _caffemodel(d, "blob_billions", [65536, 65536])


def caffe_blob_negative(d, case):
    return _caffemodel(d, "blob_negative", [-1, 4], [1.0] * 4)


# ------------------------------------------------------------------------------------------------
# .npy inputs (for the tiny model: x [1, 1, 4, 4] float32)

def npy_huge_header(d, case):
    """A header claiming 10^12 float32 elements, and no data."""
    return _write(d / "huge_header.npy", npy_header((10**12,)))


def npy_huge_header_4d(d, case):
    """A header claiming [1, 1, 10^6, 10^6] (the model's rank), and 64 bytes of data."""
    return _write(d / "huge_header_4d.npy", npy_header((1, 1, 10**6, 10**6)) + bytes(64))


def npy_overflow_header(d, case):
    """A shape whose product overflows int64."""
    return _write(d / "overflow_header.npy", npy_header((2**62, 2**62, 16)))


def npy_negative_dim(d, case):
    return _write(d / "negative_dim.npy", npy_header((1, 1, -4, 4)) + bytes(64))


def npy_string(d, case):
    p = d / "string.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.array([["abcd"] * 4] * 4).reshape(TINY_SHAPE))
    return p


def npy_bytes_dtype(d, case):
    p = d / "bytes_dtype.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.array([b"ab"] * 16).reshape(TINY_SHAPE))
    return p


def npy_struct(d, case):
    p = d / "struct.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.zeros(TINY_SHAPE, dtype=[("a", "<f4"), ("b", "<i4")]))
    return p


def npy_subarray(d, case):
    """A dtype with a sub-array: '(4,4)f4' elements of shape [1, 1]."""
    return _write(d / "subarray.npy", npy_header((1, 1), descr=[("", "<f4", (4, 4))]) + bytes(64))


def npy_complex(d, case):
    p = d / "complex.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, (np.arange(16) * (1 + 1j)).astype(np.complex64).reshape(TINY_SHAPE))
    return p


def npy_object(d, case):
    """An object array (a pickle inside): must never be unpickled."""
    p = d / "object.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    a = np.empty(TINY_SHAPE, dtype=object)
    a[...] = 1.0
    np.save(p, a, allow_pickle=True)
    return p


def npy_datetime(d, case):
    p = d / "datetime.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.zeros(TINY_SHAPE, dtype="datetime64[s]"))
    return p


def npy_truncated(d, case):
    """A header for [1, 1, 4, 4] float32 (64 bytes of data) with 10 bytes."""
    return _write(d / "truncated.npy", npy_header(TINY_SHAPE) + bytes(10))


def npy_truncated_header(d, case):
    return _write(d / "truncated_header.npy", npy_header(TINY_SHAPE)[:20])


def npy_deep_header(d, case):
    """A v2 header of 200,000 nested tuples in the shape."""
    body = "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 100_000 + ")" * 100_000 + ", }\n"
    return _write(d / "deep_header.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", len(body)) + body.encode())


def npy_huge_header_len(d, case):
    """A v3 header whose length field claims 4 GB."""
    return _write(d / "huge_header_len.npy", b"\x93NUMPY\x03\x00" + struct.pack("<I", 2**32 - 1) + b"{'descr'")


def npy_not_npy(d, case):
    return _write(d / "not_npy.npy", b"PK\x03\x04" + bytes(60))


def npy_bigendian(d, case):
    """Valid: big-endian float32 [1, 1, 4, 4]."""
    p = d / "bigendian.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, (np.arange(16, dtype=">f4").reshape(TINY_SHAPE) - 8) / 4)
    return p


def npy_float64(d, case):
    """Valid numbers, another width: float64 [1, 1, 4, 4]."""
    p = d / "float64.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, (np.arange(16, dtype=np.float64).reshape(TINY_SHAPE) - 8) / 4)
    return p


def npy_wrong_shape(d, case):
    p = d / "wrong_shape.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, np.zeros([2, 3], np.float32))
    return p


def npy_nan(d, case):
    """Valid: NaN and infinities (validate must say something sensible, not crash)."""
    p = d / "nan.npy"
    p.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros(TINY_SHAPE, np.float32)
    a.flat[:4] = [np.nan, np.inf, -np.inf, 1e38]
    np.save(p, a)
    return p


def npy_fifo(d, case):
    return mkfifo(d / "fifo.npy")


def calib_folder_fifo(d, case):
    """A calibration folder: one good .npy and a FIFO named .npy."""
    f = d / "calib_fifo"
    f.mkdir(parents=True, exist_ok=True)
    np.save(f / "a.npy", np.zeros(TINY_SHAPE, np.float32))
    mkfifo(f / "b.npy")
    return f


def calib_folder_huge(d, case):
    """A calibration folder with a .npy claiming 10^12 elements."""
    f = d / "calib_huge"
    f.mkdir(parents=True, exist_ok=True)
    np.save(f / "a.npy", np.zeros(TINY_SHAPE, np.float32))
    _write(f / "b.npy", npy_header((10**12,)))
    return f


def calib_folder_string(d, case):
    f = d / "calib_string"
    f.mkdir(parents=True, exist_ok=True)
    np.save(f / "a.npy", np.array(["abcd"] * 16).reshape(TINY_SHAPE))
    return f


def calib_folder_many(d, case):
    """A calibration folder of 5,000 tiny .npy files (each [1, 1, 4, 4]; 0.96 MB in all)."""
    f = d / "calib_many"
    f.mkdir(parents=True, exist_ok=True)
    data = npy_header(TINY_SHAPE) + np.zeros(16, "<f4").tobytes()
    for i in range(5_000):
        (f / f"{i:05d}.npy").write_bytes(data)
    return f


# ------------------------------------------------------------------------------------------------
# plan.json (for `lne compile tiny.onnx --plan`)

PLAN_NODES = 35_000   # the largest plan of distinct node names under 1 MB


def _plan(doc) -> str:
    return json.dumps({"format": "lne-plan", "version": 1, **doc}, separators=(",", ":"))


def plan_many_nodes(d, case):
    nodes = [{"name": n, "kernel": "k"} for n in _short_names(PLAN_NODES)]
    return _write(d / "many_nodes.plan.json", _plan({"nodes": nodes}))


def plan_deep(d, case):
    return _write(d / "deep.plan.json", '{"format":"lne-plan","version":1,"nodes":' + "[" * 200_000
                  + "]" * 200_000 + "}")


def plan_deep_object(d, case):
    return _write(d / "deep_object.plan.json", '{"format":"lne-plan","version":1,"x":' + '{"a":' * 100_000
                  + "1" + "}" * 100_000 + ',"nodes":[]}')


def plan_wrong_types(d, case):
    return _write(d / "wrong_types.plan.json", _plan({"nodes": "conv", "plugins": {"a": 1}}))


def plan_wrong_node_types(d, case):
    return _write(d / "wrong_node_types.plan.json", _plan({"nodes": [{"name": 1, "kernel": ["x"]}, 5, None]}))


def plan_wrong_version(d, case):
    return _write(d / "wrong_version.plan.json", json.dumps({"format": "lne-plan", "version": "1" * 100_000,
                                                             "nodes": []}))


def plan_huge_string(d, case):
    return _write(d / "huge_string.plan.json", _plan({"nodes": [{"name": "conv", "kernel": "K" * HUGE},
                                                                {"name": "relu", "kernel": "x"}]}))


def plan_escape(d, case):
    return _write(d / "escape.plan.json", _plan({"target": ESC_NAME,
                                                 "nodes": [{"name": ESC_NAME, "kernel": ESC_NAME}]}))


def plan_fifo(d, case):
    return mkfifo(d / "fifo.plan.json")


# ------------------------------------------------------------------------------------------------
# bundle manifests: edits applied to <name>.json of a copy of a real bundle (by the test)

MANIFEST_EDITS = {
    # name -> (kind, value): "set" a top-level field, or "text" to replace the whole file
    "wrong_types": ("set", {"arena_size": "64", "inputs": {"x": 1}}),
    "inputs_not_objects": ("set", {"inputs": [1, 2]}),
    "bad_shape": ("set", {"inputs": [{"name": "x", "shape": [-1, 2**70]}]}),
    "huge_shape": ("set", {"inputs": [{"name": "x", "shape": [65536, 65536, 65536]}]}),
    "huge_arena": ("set", {"arena_size": 2**39}),
    "arena_too_small": ("set", {"arena_size": 1}),
    "huge_weights_size": ("set", {"weights_size": 2**39}),
    "huge_name": ("set", {"name": "N" * HUGE}),
    "bad_name": ("set", {"name": "../../evil"}),
    "escape_names": ("nodes_escape", None),
    "many_nodes": ("many_nodes", 20_000),
    "deep": ("text", '{"lne_version":"0.1.0","name":"tiny","x":' + "[" * 200_000 + "]" * 200_000 + "}"),
    "deep_inside": ("deep_field", 100_000),
    "not_json": ("text", "\x00\x01garbage"),
    "fifo": ("fifo", None),
}


def edit_manifest(bundle: Path, edit: str) -> Path:
    """Apply MANIFEST_EDITS[edit] to the manifest of the bundle copy ``bundle``."""
    kind, value = MANIFEST_EDITS[edit]
    (manifest,) = [p for p in bundle.glob("*.json") if p.name != "package.json"]
    m = json.loads(manifest.read_text())
    if kind == "set":
        m.update(value)
        text = json.dumps(m)
    elif kind == "nodes_escape":
        for n in m["nodes"]:
            n["name"] = ESC_NAME + n["name"]
            n["kernel"] = ESC_NAME
        m["steps"] = [ESC_NAME + s for s in m.get("steps", [])]
        text = json.dumps(m)
    elif kind == "many_nodes":
        m["nodes"] = [{"name": n, "op": "Relu", "kernel": "k", "macs": 0} for n in _short_names(value)]
        text = json.dumps(m, separators=(",", ":"))
    elif kind == "deep_field":
        text = json.dumps(m)[:-1] + ',"extra":' + "[" * value + "]" * value + "}"
    elif kind == "text":
        text = value
    elif kind == "fifo":
        manifest.unlink()
        mkfifo(manifest)
        return manifest
    else:  # pragma: no cover
        raise ValueError(kind)
    manifest.write_text(text)
    return manifest


# ------------------------------------------------------------------------------------------------
# workflows (YAML) and a Speech Commands-layout folder

def mini_speech(root: Path) -> Path:
    """Two words, two speakers each, one background noise file: ingest takes a second."""
    for w in ("yes", "no"):
        for s in ("aaaa1111", "bbbb2222"):
            write_wav(root / w / f"{s}_nohash_0.wav", np.full(16000, 7 if w == "yes" else -7, np.int16))
    write_wav(root / "_background_noise_" / "hum.wav", (np.arange(48000) % 200 - 100).astype(np.int16))
    return root


INGEST_STEP = ("steps:\n  dataset:\n    tool: ingest-speech-commands\n    params:\n"
               "      source: {src}\n      silence_percentage: 50.0\n")


def _wf(d, stem, text):
    return _write(d / f"{stem}.yml", text)


def wf_billion_laughs(d, case):
    lines = ['name: laughs', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("parameters:\n  p: *i\nsteps:\n  s: {tool: ingest-speech-commands}\n")
    return _wf(d, "billion_laughs", "\n".join(lines))


def wf_deep_flow(d, case):
    return _wf(d, "deep_flow", "name: deep\nparameters:\n  p: " + "[" * 50_000 + "]" * 50_000 + "\nsteps: {}\n")


def wf_deep_block(d, case):
    """1,000 levels of block mappings (indentation): about 500 KB."""
    lines = ["name: deepblock", "parameters:"]
    for i in range(1000):
        lines.append(" " * (i + 1) + "k:")
    lines[-1] += " 1"
    return _wf(d, "deep_block", "\n".join(lines) + "\nsteps: {}\n")


def wf_name_dotdot(d, case):
    src = mini_speech(d / "speech")
    victim = case / "cwd" / "a" / "victim"       # runs/../../victim from the cwd case/cwd/a/b
    _write(victim / "precious.txt", "keep me")
    return _wf(d, "name_dotdot", "name: ../../victim\n" + INGEST_STEP.format(src=json.dumps(str(src))))


def wf_name_abs(d, case):
    src = mini_speech(d / "speech")
    victim = case / "cwd" / "abs_victim"
    _write(victim / "precious.txt", "keep me")
    return _wf(d, "name_abs", f"name: {json.dumps(str(victim))}\n" + INGEST_STEP.format(src=json.dumps(str(src))))


def wf_name_huge(d, case):
    return _wf(d, "name_huge", "name: " + "n" * HUGE + "\nsteps:\n  s: {tool: ingest-speech-commands}\n")


def wf_name_escape(d, case):
    return _wf(d, "name_escape", "name: " + json.dumps(ESC_NAME) + "\nsteps:\n  s: {tool: ingest-speech-commands}\n")


def _tool_wf(d, stem, tool):
    return _wf(d, stem, f"name: {stem}\nsteps:\n  s:\n    tool: {json.dumps(tool)}\n")


def wf_tool_abstract(d, case):
    return _tool_wf(d, "tool_abstract", "lne.pipeline.tool:Tool")


def wf_tool_os_system(d, case):
    return _tool_wf(d, "tool_os_system", "os:system")


def wf_tool_unknown_module(d, case):
    return _tool_wf(d, "tool_unknown_module", "no_such_module_lne_hostile:Thing")


def wf_tool_dotted_attr(d, case):
    return _tool_wf(d, "tool_dotted_attr", "os:path.join")


def wf_tool_bad_syntax(d, case):
    return _tool_wf(d, "tool_bad_syntax", "../../x:Y")


def wf_wrong_types(d, case):
    return _wf(d, "wrong_types", "name: [1, 2]\nparameters: 5\nsteps: {s: {tool: 3, inputs: 7, params: [1]}}\n")


def wf_steps_not_mapping(d, case):
    return _wf(d, "steps_not_mapping", "name: x\nsteps: [1, 2, 3]\n")


def wf_not_yaml(d, case):
    return _wf(d, "not_yaml", "name: x\nsteps: {a: [}\n\x00\x1b[2J")


def wf_tags(d, case):
    """Python tags must never run."""
    return _wf(d, "tags", "name: !!python/object/apply:os.system ['touch PWNED']\nsteps: {}\n")


def wf_fifo(d, case):
    return mkfifo(d / "fifo.yml")


def _dataset_wf(d, stem, root):
    return _wf(d, stem, f"name: {stem}\n" + INGEST_STEP.format(src=json.dumps(str(root))))


def wf_dataset_fifo_wav(d, case):
    """A Speech Commands folder with a FIFO named like a keyword clip and one in the noise folder."""
    root = mini_speech(d / "speech")
    mkfifo(root / "yes" / "cccc3333_nohash_0.wav")
    mkfifo(root / "_background_noise_" / "pipe.wav")
    return _dataset_wf(d, "dataset_fifo_wav", root)


def wf_dataset_fifo_list(d, case):
    root = mini_speech(d / "speech")
    mkfifo(root / "testing_list.txt")
    return _dataset_wf(d, "dataset_fifo_list", root)


def wf_dataset_fifo_archive(d, case):
    mkfifo(d / "speech.tar.gz")
    return _dataset_wf(d, "dataset_fifo_archive", d / "speech.tar.gz")


def wf_dataset_huge_wav(d, case):
    """A keyword clip whose header claims 2^31 frames (a few bytes on disk)."""
    root = mini_speech(d / "speech")
    p = write_wav(root / "yes" / "dddd4444_nohash_0.wav", np.full(100, 5, np.int16))
    data = bytearray(p.read_bytes())
    data[40:44] = struct.pack("<I", 0xFFFFFFF0)
    data[4:8] = struct.pack("<I", 0xFFFFFFF8)
    p.write_bytes(bytes(data))
    return _dataset_wf(d, "dataset_huge_wav", root)


def wf_dataset_ok(d, case):
    """Control: the mini folder as it is (must ingest)."""
    return _dataset_wf(d, "dataset_ok", mini_speech(d / "speech"))


def artifact_deep(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", '{"format":"x","x":' + "[" * 200_000 + "]" * 200_000 + "}")
    (a / "data").mkdir(exist_ok=True)
    return a


def artifact_wrong_types(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", json.dumps({"format": 5, "tool": ["x"], "step": {"a": 1}, "hash": 7,
                                            "inputs": "no", "params": 3}))
    (a / "data").mkdir(exist_ok=True)
    return a


def artifact_escape(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", json.dumps({"format": ESC_NAME, "tool": ESC_NAME, "step": ESC_NAME,
                                            "hash": ESC_NAME, "key": ESC_NAME, "inputs": {}, "params": {}}))
    _write(a / "data" / (ESC_NAME.replace("/", "_").replace("\x00", "") + ".txt"), "x")
    return a


# ------------------------------------------------------------------------------------------------
# FIFOs as inputs

def fifo_onnx(d, case):
    return mkfifo(d / "fifo.onnx")


def fifo_prototxt(d, case):
    return mkfifo(d / "fifo.prototxt")


def fifo_caffemodel(d, case):
    _write(d / "for_fifo.prototxt", _CAFFE_IP)
    return mkfifo(d / "fifo.caffemodel")


# ------------------------------------------------------------------------------------------------

INPUTS = {name: fn for name, fn in list(globals().items())
          if callable(fn) and getattr(fn, "__module__", None) == __name__ and fn.__code__.co_argcount == 2
          and fn.__code__.co_varnames[:2] == ("d", "case")}

# Inputs that are over 1 MB on purpose (exempt from the size check; say why)
OVER_1MB = {"onnx_relu_chain_100k": "the 100,000-node compile-time acceptance check (1.9 MB)"}


def make(name: str, case: Path) -> Path:
    """Write input ``name`` into ``case/in`` (``case`` the case's root folder); returns its path."""
    d = case / "in"
    d.mkdir(parents=True, exist_ok=True)
    (case / "cwd").mkdir(parents=True, exist_ok=True)
    return INPUTS[name](d, case)


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every regular file under a folder (FIFOs and links count 0)."""
    path = Path(path)
    if path.is_symlink() or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return 0


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.split("\n\n")[1])
        raise SystemExit(2)
    out = Path(argv[0])
    names = argv[1:] or sorted(INPUTS)
    for n in names:
        case = out / n
        p = make(n, case)
        print(f"{n:32s} {tree_size(p):>9d} B  {p}")


if __name__ == "__main__":
    main()
