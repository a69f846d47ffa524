"""Hostile ONNX models: folding blowups, graph size and names, external data, geometry."""
from pathlib import Path

import numpy as np

from .base import (INT64_MAX, SECRET, ESC_NAME, _onnx, onnx_bytes, _write, _node, _i64, _cos, _short_names, mkfifo)


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
