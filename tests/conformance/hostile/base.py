"""Shared pieces of the hostile inputs: constants, writers, the tiny valid model."""
import os
import struct
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
