"""Test utility: write binary caffemodels straight from numpy arrays (no torch needed).

A packed repeated float field is its raw little-endian bytes after a length, so a blob is
encoded without going through protobuf's per-value containers: AlexNet's 244 MB of weights
take a second, not minutes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lne.frontends.caffe.schema import BlobShape


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        byte, v = v & 0x7F, v >> 7
        out.append(byte | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def blob_bytes(a: np.ndarray) -> bytes:
    """A serialized BlobProto: shape (field 7) and packed float data (field 5)."""
    return field(7, BlobShape(dim=list(a.shape)).SerializeToString()) + \
        field(5, np.ascontiguousarray(a, "<f4").tobytes())


def layer_field(head: bytes, blobs) -> bytes:
    """NetParameter.layer (field 100): a serialized LayerParameter `head` plus its blobs (field 7)."""
    return field(100, head + b"".join(field(7, blob_bytes(np.asarray(a, np.float32))) for a in blobs))


def write_blobs(path, blobs: dict[str, list]) -> Path:
    """A caffemodel holding just these blobs by layer name (LayerParameter.name is field 1)."""
    path = Path(path)
    path.write_bytes(b"".join(layer_field(field(1, name.encode()), arrays) for name, arrays in blobs.items()))
    return path
