"""Read Caffe files: a text prototxt (layer by layer, so one unknown field inside an unsupported
or TRAIN-only layer does not hide the real problem) and a binary caffemodel (blobs by layer
name, new `layer` and old V1 `layers` format). Every problem is an LNEError naming the file,
the line and column for text, and the layer for blobs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from lne.errors import LNEError

from .schema import NetParameter

V1_HELP = ("it uses the old V1 format (`layers { type: CONVOLUTION ... }`); upgrade it with Caffe's tools: "
           "`upgrade_net_proto_text old.prototxt new.prototxt` (and `upgrade_net_proto_binary` for a "
           "V1 caffemodel, which LNE can also read as it is)")


@dataclass
class Layer:
    """One `layer { }` block: its message, the line it starts on and, when the block does not
    parse strictly, the syntax error (the message then holds what a lenient parse could read)."""
    msg: object
    line: int
    error: str | None = None


def read_prototxt(path: Path) -> tuple[object, list[Layer]]:
    """(header NetParameter without layers, the layer blocks in order)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LNEError(f"{path}: not a text prototxt (is it a binary caffemodel? pass that with --weights)") from None
    except OSError as e:
        raise LNEError(f"{path}: cannot read: {e.strerror}") from None
    blocks = _top_level_blocks(text)
    if blocks is None:  # unbalanced braces or quotes: let the protobuf parser say where
        _parse(path, text, NetParameter())
        raise LNEError(f"{path}: unbalanced braces")  # pragma: no cover - the parse above raises
    if any(kind == "layers" for kind, _, _ in blocks):
        raise LNEError(f"{path}: {V1_HELP}")
    parts, prev = [], 0
    for _, start, end in blocks:  # the header keeps the line numbers: blocks become their newlines
        parts += [text[prev:start], "\n" * text.count("\n", start, end)]
        prev = end
    header = _parse(path, "".join(parts) + text[prev:], NetParameter())
    layers = []
    for _, start, end in blocks:
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1)
        block = "\n" * (line - 1) + " " * col + text[start:end]
        net = NetParameter()
        try:
            text_format.Parse(block, net)
            layers.append(Layer(net.layer[0], line))
        except text_format.ParseError as e:
            lenient = NetParameter()
            try:
                text_format.Parse(block, lenient, allow_unknown_field=True)
            except text_format.ParseError:
                _parse(path, block, NetParameter())  # a real syntax error: report it
            layers.append(Layer(lenient.layer[0], line, _where(path, e)))
    return header, layers


def _parse(path, text, msg):
    try:
        return text_format.Parse(text, msg)
    except text_format.ParseError as e:
        raise LNEError(_where(path, e)) from None


def _where(path, e) -> str:
    line, col = e.GetLine(), e.GetColumn()
    msg = str(e)
    if line is not None and msg.startswith(f"{line}:"):  # drop the parser's own "line:col : " prefix
        msg = msg.split(":", 2)[-1].lstrip(" :")
    if "has no field named" in msg:
        msg += " (misspelt, or a field LNE's Caffe schema does not read)"
    return f"{path}:{line}:{col}: syntax error: {msg}" if line is not None else f"{path}: syntax error: {msg}"


def _top_level_blocks(text: str):
    """[(kind, start, end)] of the top-level `layer { ... }` / `layers { ... }` blocks, or None
    when braces or quotes do not balance."""
    blocks, depth, i, n = [], 0, 0, len(text)
    word, word_start, block = None, 0, None
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None
            i, word = j + 1, None
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_."):
                j += 1
            if depth == 0:
                word, word_start = text[i:j], i
            i = j
            continue
        if c == "{":
            if depth == 0:
                block = (word, word_start) if word in ("layer", "layers") else None
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0 and block is not None:
                blocks.append((block[0], block[1], i + 1))
                block = None
        elif not c.isspace() and c != ":":
            word = None
        i += 1
    return blocks if depth == 0 else None


# -- caffemodel --------------------------------------------------------------------------------
def read_caffemodel(path: Path) -> dict[str, list]:
    """{layer name: [BlobProto]} of every layer with blobs (first occurrence of a name wins)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LNEError(f"{path}: cannot read weights: {e.strerror}") from None
    net = NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise LNEError(f"{path}: not a valid binary caffemodel (protobuf parse failed: {e}; "
                       "is the file truncated, or a text prototxt?)") from None
    out: dict[str, list] = {}
    for layer in list(net.layer) + list(net.layers):
        if layer.blobs and layer.name not in out:
            out[layer.name] = list(layer.blobs)
    if not out:
        raise LNEError(f"{path}: the caffemodel holds no weights (no layer has blobs; "
                       "is it truncated, or not a caffemodel?)")
    return out


def blob_array(blob, where: str) -> np.ndarray:
    """A BlobProto as a float32 array of its declared shape; `where` names it in errors."""
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    elif blob.num or blob.channels or blob.height or blob.width:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    else:
        shape = (len(blob.data) or len(blob.double_data),)
    values = blob.data if len(blob.data) or not len(blob.double_data) else blob.double_data
    if any(d < 0 for d in shape):
        raise LNEError(f"{where} has a negative dimension in shape {list(shape)}")
    need = int(np.prod(shape, dtype=np.int64))
    if len(values) != need:
        raise LNEError(f"{where} holds {len(values)} values but its shape {list(shape)} needs {need} "
                       "(truncated or corrupt weights)")
    return np.array(values, dtype=np.float32).reshape(shape)
