"""Hostile Caffe prototxts and caffemodels."""
import struct

import numpy as np

from .base import (ESC_NAME, _write, _short_names, mkfifo, npy_header, TINY_SHAPE)
from .onnx_inputs import (HUGE)


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
