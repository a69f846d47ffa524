"""Read Caffe files: a text prototxt (layer by layer, so one unknown field inside an unsupported
or TRAIN-only layer does not hide the real problem) and a binary caffemodel (blobs by layer
name, new `layer` and old V1 `layers` format). Every problem is an LNEError naming the file,
the line and column for text, and the layer for blobs."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from lne import limits
from lne.errors import LNEError
from lne.limits import MAX_DEPTH, MAX_ELEMENTS, MAX_NODES, MAX_RANK, MAX_STRING, plain

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


# Runs of backslashes in one string literal: protobuf's text parser unescapes them in time
# quadratic in the run (a 200 KB run takes minutes); real prototxts have a few at most.
MAX_BACKSLASHES = 64
MAX_CAFFEMODEL_BYTES = 2**31 - 1  # protobuf parses no larger message


def read_prototxt(path: Path) -> tuple[object, list[Layer]]:
    """(header NetParameter without layers, the layer blocks in order). The text's size, its
    nesting depth, its strings and its layer count are bounded before protobuf parses it."""
    data = limits.read_bytes(path, "the prototxt")
    where = plain(str(path), 200)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LNEError(f"{where}: not a text prototxt (is it a binary caffemodel? pass that with --weights)") from None
    del data
    blocks = _top_level_blocks(text, where)
    if blocks is None:  # unbalanced braces or quotes: let the protobuf parser say where
        _parse(where, text, NetParameter())
        raise LNEError(f"{where}: unbalanced braces")  # pragma: no cover - the parse above raises
    if len(blocks) > MAX_NODES:
        raise LNEError(f"{where}: the net has {len(blocks)} layers; LNE compiles nets of at most {MAX_NODES}")
    if any(kind == "layers" for kind, _, _ in blocks):
        raise LNEError(f"{where}: {V1_HELP}")
    parts, prev = [], 0
    for _, start, end in blocks:  # the header keeps the line numbers: blocks become their newlines
        parts += [text[prev:start], "\n" * text.count("\n", start, end)]
        prev = end
    header = _parse(where, "".join(parts) + text[prev:], NetParameter())
    layers = []
    line, counted = 1, 0  # line numbers counted incrementally: linear in the text
    for _, start, end in blocks:
        line += text.count("\n", counted, start)
        counted = start
        col = start - (text.rfind("\n", 0, start) + 1)
        block = text[start:end]  # parsed alone; errors get the block's line and column added
        net = NetParameter()
        try:
            text_format.Parse(block, net)
            layers.append(Layer(net.layer[0], line))
        except text_format.ParseError as e:
            lenient = NetParameter()
            try:
                text_format.Parse(block, lenient, allow_unknown_field=True)
            except text_format.ParseError:
                _parse(where, block, NetParameter(), line, col)  # a real syntax error: report it
            layers.append(Layer(lenient.layer[0], line, _where(where, e, line, col)))
        except RecursionError:  # pragma: no cover - _top_level_blocks bounds the depth
            raise LNEError(f"{where}:{line}: the layer is nested too deeply to read") from None
    return header, layers


def _parse(where, text, msg, line: int = 1, col: int = 0):
    try:
        return text_format.Parse(text, msg)
    except text_format.ParseError as e:
        raise LNEError(_where(where, e, line, col)) from None
    except RecursionError:  # pragma: no cover - _top_level_blocks bounds the depth
        raise LNEError(f"{where}: nested too deeply to read") from None


def _where(where, e, line0: int = 1, col0: int = 0) -> str:
    """The parser's error at its place in the file: a block parsed alone starts at line `line0`,
    column `col0` (0-based) of the file."""
    line, col = e.GetLine(), e.GetColumn()
    msg = str(e)
    if line is not None and msg.startswith(f"{line}:"):  # drop the parser's own "line:col : " prefix
        msg = msg.split(":", 2)[-1].lstrip(" :")
    if "has no field named" in msg:
        msg += " (misspelt, or a field LNE's Caffe schema does not read)"
    msg = plain(msg, 300)
    if line is None:
        return f"{where}: syntax error: {msg}"
    if col is not None and line == 1:
        col += col0
    return f"{where}:{line + line0 - 1}:{col}: syntax error: {msg}"


def _top_level_blocks(text: str, where: str = "the prototxt"):
    """[(kind, start, end)] of the top-level `layer { ... }` / `layers { ... }` blocks, or None
    when braces or quotes do not balance. One linear scan that also bounds what protobuf's text
    parser would choke on: nesting depth ({ } and < >), string length, backslash runs."""
    blocks, depth, nest, i, n = [], 0, 0, 0, len(text)
    word, word_start, block = None, 0, None

    def line_of(pos):
        return text.count("\n", 0, pos) + 1

    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            j, run, longest = i + 1, 0, 0
            while j < n and text[j] != c:
                if text[j] == "\\":
                    run = run + 1 if j + 1 < n and text[j + 1] == "\\" else 0  # an escaped backslash
                    longest = max(longest, run)
                    j += 2
                else:
                    j += 1
                    run = 0
            if j >= n:
                return None
            if j - i - 1 > MAX_STRING:
                raise LNEError(f"{where}:{line_of(i)}: a string of {j - i - 1} characters; LNE reads strings of "
                               f"at most {MAX_STRING}")
            if 2 * longest > MAX_BACKSLASHES:
                raise LNEError(f"{where}:{line_of(i)}: a string with {2 * longest} backslashes in a row; LNE "
                               f"reads at most {MAX_BACKSLASHES} (is the file corrupt?)")
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
        if c in "{<":
            nest += 1
            if nest > MAX_DEPTH:
                raise LNEError(f"{where}:{line_of(i)}: messages nested more than {MAX_DEPTH} levels deep")
        elif c in "}>":
            nest -= 1
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
    data = limits.read_bytes(path, "the weights", MAX_CAFFEMODEL_BYTES)
    where = plain(str(path), 200)
    net = NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise LNEError(f"{where}: not a valid binary caffemodel (protobuf parse failed: {plain(e, 200)}; "
                       "is the file truncated, or a text prototxt?)") from None
    del data
    out: dict[str, list] = {}
    for layer in list(net.layer) + list(net.layers):
        if layer.blobs and layer.name not in out:
            out[layer.name] = list(layer.blobs)
    if not out:
        raise LNEError(f"{where}: the caffemodel holds no weights (no layer has blobs; "
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
    if len(shape) > MAX_RANK:
        raise LNEError(f"{where} has {len(shape)} dimensions; LNE compiles tensors of at most {MAX_RANK}")
    if any(d < 0 for d in shape):
        raise LNEError(f"{where} has a negative dimension in shape {list(shape)}")
    need = math.prod(shape)  # Python ints: dims near INT64_MAX do not wrap around
    if need > MAX_ELEMENTS:
        raise LNEError(f"{where} has shape {list(shape)} ({need} elements); LNE compiles tensors of at most "
                       f"{MAX_ELEMENTS} elements")
    if len(values) != need:
        raise LNEError(f"{where} holds {len(values)} values but its shape {list(shape)} needs {need} "
                       "(truncated or corrupt weights)")
    return np.array(values, dtype=np.float32).reshape(shape)
