"""Model mutators for the fuzz tests: each takes a Chooser (every random decision goes through
it, so hypothesis can drive and shrink them, or a seeded random.Random can, for long runs) and
returns the mutated file's bytes.

Families (what a corrupt, hand-edited or hostile model gets wrong): dims (rank blowups
included), data lengths (external data anywhere), attributes (tensor attributes with external
data, deeply nested Caffe messages), graph wiring, names (huge, escape codes), and raw bytes.
"""
from __future__ import annotations

import random
import re

FAMILIES = ("dims", "data", "attrs", "wiring", "names", "bytes")

# Values that break naive arithmetic: zero, negatives, off-by-one, overflow of int32/int64/size_t.
EDGE_INTS = (0, 1, -1, 2, 3, 7, 64, -2, 2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, -(2**63))
EDGE_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e-45, 1e38, -1e38, float("inf"), float("-inf"), float("nan"))
# Names that break naive code generation, paths and terminals (and the name length limit,
# lne.limits.MAX_NAME: 4096 characters).
EDGE_NAMES = ("", " ", "x" * 5000, "*/ #include <stdio.h> /*", "a\"b", "a\nb", "../../../etc/passwd", "/abs",
              "é中文", "\x00", "%s%n", "main", "delete", "0abc", "input", "output", "$(rm -rf)", "a\\",
              "x" * 4096, "y" * 100_000, "\x1b[2J\x1b]0;owned\x07", "\\" * 100, "lne_status")
# External data locations: outside the model's folder, relative to the current folder (a user's
# key), the model file itself (inside: readable), absolute, empty, too long.
EDGE_LOCATIONS = ("../secret.bin", "../../../../etc/passwd", ".ssh/id_rsa", "model.onnx", "net.caffemodel",
                  "/etc/passwd", "", "w\0.bin", "x" * 5000, ".", "sub/../model.onnx")


class Chooser:
    """Random decisions from a random.Random (hypothesis supplies one it controls)."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd

    def int(self, lo: int, hi: int) -> int:
        return self.rnd.randint(lo, hi)

    def choice(self, seq):
        seq = list(seq)
        return seq[self.rnd.randrange(len(seq))]

    def bool(self) -> bool:
        return self.rnd.random() < 0.5

    def edge_int(self) -> int:
        return self.choice(EDGE_INTS) if self.bool() else self.int(-4, 300)

    def edge_float(self) -> float:
        return self.choice(EDGE_FLOATS) if self.bool() else self.rnd.uniform(-10, 10)

    def name(self, existing=()) -> str:
        pool = list(EDGE_NAMES) + list(existing)
        return self.choice(pool) if self.bool() else "".join(
            self.choice("abcXYZ_09.-/: ") for _ in range(self.int(0, 12)))


def mutate_bytes(c: Chooser, data: bytes) -> bytes:
    """Flip, drop, duplicate or truncate bytes of any file."""
    b = bytearray(data)
    for _ in range(c.int(1, 4)):
        if not b:
            break
        kind, pos = c.int(0, 4), c.int(0, len(b) - 1)
        if kind == 0:
            b[pos] ^= 1 << c.int(0, 7)
        elif kind == 1:
            del b[pos:pos + c.int(1, 64)]
        elif kind == 2:
            b[pos:pos] = b[pos:pos + c.int(1, 64)]
        elif kind == 3:
            del b[pos:]
        else:
            b[pos] = c.int(0, 255)
    return bytes(b)


# -- ONNX ----------------------------------------------------------------------------------------
def _tensor_names(g) -> list[str]:
    names = [vi.name for vi in g.input] + [i.name for i in g.initializer]
    return names + [o for n in g.node for o in n.output]


def _onnx_dims(c, m):
    g = m.graph
    targets = [vi for vi in list(g.input) + list(g.output) + list(g.value_info) if vi.type.HasField("tensor_type")]
    if c.int(0, 7) == 0:  # a rank blowup (LNE compiles at most 8 dimensions)
        rank = c.choice([9, 65, 100])
        if c.bool() and g.initializer:
            t = c.choice(g.initializer)
            ints = t.data_type == 7 and len(t.dims) == 1  # an INT64 shape / axes operand: more entries
            if ints:
                from onnx import numpy_helper
                import numpy as np
                t.CopyFrom(numpy_helper.from_array(np.ones(rank, np.int64), t.name))
            else:
                t.dims.extend([1] * (rank - len(t.dims)))
        elif targets:
            shape = c.choice(targets).type.tensor_type.shape
            for _ in range(rank - len(shape.dim)):
                shape.dim.add().dim_value = 1
        return
    if c.bool() and g.initializer:
        t = c.choice(g.initializer)
        if t.dims and c.bool():
            t.dims[c.int(0, len(t.dims) - 1)] = c.edge_int()
        elif t.dims and c.bool():
            del t.dims[c.int(0, len(t.dims) - 1)]
        else:
            t.dims.append(c.edge_int())
    elif targets:
        shape = c.choice(targets).type.tensor_type.shape
        if shape.dim and c.int(0, 3):
            d = shape.dim[c.int(0, len(shape.dim) - 1)]
            if c.bool():
                d.dim_value = c.edge_int()
            else:
                d.dim_param = c.name()
        elif shape.dim and c.bool():
            del shape.dim[c.int(0, len(shape.dim) - 1)]
        else:
            shape.dim.add().dim_value = c.edge_int()


def _onnx_data(c, m):
    from onnx import TensorProto
    g = m.graph
    if not g.initializer:
        return
    t = c.choice(g.initializer)
    kind = c.int(0, 5)
    if kind == 0 and t.raw_data:
        t.raw_data = t.raw_data[:c.int(0, len(t.raw_data))]
    elif kind == 1:
        t.raw_data = t.raw_data + bytes(c.int(1, 9))
    elif kind == 2:
        t.data_type = c.choice([0, 2, 3, 6, 7, 8, 9, 10, 11, 14, 16, 17, 23, 99, -1])
    elif kind == 3:
        t.ClearField("raw_data")
        t.float_data.extend([c.edge_float() for _ in range(c.int(0, 5))])
    elif kind == 4:
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        for key in ("location", "offset", "length"):
            if c.bool():
                e = t.external_data.add()
                e.key = key
                e.value = (c.choice(EDGE_LOCATIONS) if c.bool() else c.name()) if key == "location" \
                    else str(c.edge_int())
    else:
        t.raw_data = bytes(c.int(0, 255) for _ in range(len(t.raw_data)))  # NaN/inf weights


def _onnx_attrs(c, m):
    from onnx import AttributeProto, helper
    nodes = [n for n in m.graph.node]
    if not nodes:
        return
    n = c.choice(nodes)
    kind = c.int(0, 5)
    if kind == 5:  # a tensor attribute (a Constant's value) whose data is external
        _external_attribute(c, n)
        return
    if kind == 0 or not n.attribute:
        name = c.choice(["kernel_shape", "strides", "pads", "dilations", "group", "axis", "axes", "perm",
                         "alpha", "beta", "transA", "transB", "auto_pad", "mode", "ceil_mode", "epsilon",
                         "size", "to", "value", "shape", "allowzero", "count_include_pad", c.name()])
        value = c.choice([c.edge_int(), [c.edge_int() for _ in range(c.int(1, 5))], c.edge_float(), c.name(),
                          [c.edge_float() for _ in range(c.int(1, 3))]])
        n.attribute.append(helper.make_attribute(name, value))
        return
    a = c.choice(n.attribute)
    if kind == 1:
        n.attribute.remove(a)
    elif kind == 2 and a.type == AttributeProto.INTS and a.ints:
        if c.bool():
            a.ints[c.int(0, len(a.ints) - 1)] = c.edge_int()
        elif c.bool():
            del a.ints[c.int(0, len(a.ints) - 1)]
        else:
            a.ints.append(c.edge_int())
    elif kind == 2 and a.type == AttributeProto.INT:
        a.i = c.edge_int()
    elif kind == 2 and a.type == AttributeProto.FLOAT:
        a.f = c.edge_float()
    elif kind == 2 and a.type == AttributeProto.STRING:
        a.s = c.name().encode("utf-8", "surrogatepass")
    else:  # the right name with a value of another type
        new = helper.make_attribute(a.name, c.choice([c.edge_int(), c.edge_float(), c.name(), [c.edge_int()],
                                                      [c.edge_float(), c.edge_float()]]))
        n.attribute.remove(a)
        n.attribute.append(new)


def _external_attribute(c, n):
    """Point a node's tensor attribute (a Constant's `value`, or a new one) at external data: it
    must be read from the model's folder only, with the initializers' guards, or refused."""
    from onnx import AttributeProto, TensorProto, helper

    tensors = [a for a in n.attribute if a.type == AttributeProto.TENSOR]
    if tensors:
        t = c.choice(tensors).t
    else:
        t = TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[c.int(1, 4)])
        n.attribute.append(helper.make_attribute(c.choice(["value", "sparse_value", c.name()]), t))
        t = n.attribute[-1].t
    for field in ("raw_data", "float_data", "int64_data", "int32_data", "double_data"):
        t.ClearField(field)
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    item_bytes = 8 if t.data_type in (7, 11) else 4
    count = 1
    for d in t.dims:
        count *= max(d, 0)
    for key, value in (("location", c.choice(EDGE_LOCATIONS)), ("offset", str(c.choice([0, 0, 1, -1, 2**40]))),
                       ("length", str(c.choice([count * item_bytes, 0, -1, 2**62])))):
        if c.int(0, 3):
            e = t.external_data.add()
            e.key, e.value = key, value


def _onnx_wiring(c, m):
    g = m.graph
    names = _tensor_names(g)
    if not g.node:
        return
    n = c.choice(g.node)
    kind = c.int(0, 7)
    if kind == 0 and n.input:
        n.input[c.int(0, len(n.input) - 1)] = c.choice(names + ["", "nowhere", n.output[0] if n.output else ""])
    elif kind == 1 and n.output:
        n.output[c.int(0, len(n.output) - 1)] = c.choice(names + [""])
    elif kind == 2:
        n.input.append(c.choice(names + [""]))
    elif kind == 3 and n.input:
        del n.input[c.int(0, len(n.input) - 1)]
    elif kind == 4:
        g.node.remove(n)
    elif kind == 5:
        g.node.append(n)  # a second node defining the same outputs
    elif kind == 6 and g.output:
        g.output[c.int(0, len(g.output) - 1)].name = c.choice(names + ["nowhere"])
    else:
        i, j = c.int(0, len(g.node) - 1), c.int(0, len(g.node) - 1)
        a, b = type(n)(), type(n)()
        a.CopyFrom(g.node[i])
        b.CopyFrom(g.node[j])
        g.node[i].CopyFrom(b)
        g.node[j].CopyFrom(a)


def _onnx_names(c, m):
    g = m.graph
    names = _tensor_names(g)
    kind = c.int(0, 5)
    if kind == 0 and names:  # rename a tensor everywhere it appears
        old, new = c.choice(names), c.name(names)
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            vi.name = new if vi.name == old else vi.name
        for t in g.initializer:
            t.name = new if t.name == old else t.name
        for n in g.node:
            n.input[:] = [new if x == old else x for x in n.input]
            n.output[:] = [new if x == old else x for x in n.output]
    elif kind == 1 and g.node:
        c.choice(g.node).name = c.name([n.name for n in g.node])
    elif kind == 2 and g.node:
        n = c.choice(g.node)
        n.op_type = c.choice([n.op_type.lower(), n.op_type + " ", "", "Loop", "If", "Scan", "Custom", c.name()])
    elif kind == 3 and g.node:
        c.choice(g.node).domain = c.choice(["com.microsoft", "ai.onnx.ml", "x", ""])
    elif kind == 4:
        g.name = c.name()
    else:
        if c.bool() and m.opset_import:
            m.opset_import[0].version = c.choice([0, 1, 6, 7, 21, 28, 29, 10**6, -5])
        elif m.opset_import:
            del m.opset_import[:]
        m.ir_version = c.choice([m.ir_version, 0, 3, 11, 99])


_ONNX = {"dims": _onnx_dims, "data": _onnx_data, "attrs": _onnx_attrs, "wiring": _onnx_wiring,
         "names": _onnx_names}


def mutate_onnx(c: Chooser, seed: bytes, family: str) -> bytes:
    import onnx

    if family == "bytes":
        return mutate_bytes(c, seed)
    m = onnx.ModelProto()
    m.ParseFromString(seed)
    for _ in range(c.int(1, 3)):
        _ONNX[family](c, m)
    return m.SerializeToString()


# -- Caffe ---------------------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<=:)\s*-?\d+(\.\d*)?(e-?\d+)?")
_STRING = re.compile(r'"[^"\n]*"')


def mutate_prototxt(c: Chooser, text: str, family: str) -> str:
    """Token-level edits of a prototxt: numbers (dims, params), quoted names (wiring, names),
    field lines (attributes), or raw characters."""
    if family == "bytes":
        return mutate_bytes(c, text.encode()).decode("utf-8", "replace")
    for _ in range(c.int(1, 3)):
        lines = text.split("\n")
        if family in ("dims", "data"):
            spots = [m for m in _NUMBER.finditer(text)]
            if spots:
                s = c.choice(spots)
                text = text[:s.start()] + " " + str(c.choice([c.edge_int(), c.edge_float()])) + text[s.end():]
        elif family in ("wiring", "names"):
            spots = [m for m in _STRING.finditer(text)]
            if spots:
                s = c.choice(spots)
                names = [m.group()[1:-1] for m in spots]
                new = c.choice(names) if family == "wiring" else c.name(names)
                new = new.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                text = text[:s.start()] + '"' + new + '"' + text[s.end():]
        else:  # attrs: drop, duplicate or invent a field line, or nest messages deeply
            i = c.int(0, len(lines) - 1)
            kind = c.int(0, 3)
            if kind == 3:
                depth, (open_, close) = c.choice([3, 64, 65, 2000]), c.choice([("{", "}"), ("<", ">")])
                lines.insert(i, "  convolution_param " + f"weight_filler {open_} " * depth + close * depth)
            elif kind == 0:
                del lines[i]
            elif kind == 1:
                lines.insert(i, lines[c.int(0, len(lines) - 1)])
            else:
                field = c.choice(["num_output", "kernel_size", "stride", "pad", "group", "axis", "pool",
                                  "operation", "local_size", "bias_term", "dim", "engine", "global_pooling",
                                  "negative_slope", "eps", "coeff", "order", "slice_point", "top", "bottom"])
                lines.insert(i, f"  {field}: {c.choice([str(c.edge_int()), 'MAX', 'true', repr(c.name())])}")
            text = "\n".join(lines)
    return text


def mutate_caffemodel(c: Chooser, data: bytes, net_cls) -> bytes:
    """Blob-level edits of a caffemodel: data lengths, blob shapes, blob counts, layer names."""
    net = net_cls()
    net.ParseFromString(data)
    layers = [layer for layer in net.layer if layer.blobs]
    if not layers or c.int(0, 4) == 0:
        return mutate_bytes(c, data)
    layer = c.choice(layers)
    blob = c.choice(layer.blobs)
    kind = c.int(0, 6)
    if kind == 6:  # a rank blowup, or dims whose product overflows int64
        blob.shape.dim.extend([1] * c.choice([9, 64, 100]) if c.bool() else [2**62, 2**62])
    elif kind == 0:
        del blob.data[c.int(0, len(blob.data)):]
    elif kind == 1:
        blob.data.extend([c.edge_float() for _ in range(c.int(1, 5))])
    elif kind == 2 and blob.shape.dim:
        blob.shape.dim[c.int(0, len(blob.shape.dim) - 1)] = c.edge_int()
    elif kind == 3:
        layer.blobs.add().data.extend([1.0] * c.int(0, 3))
    elif kind == 4:
        layer.name = c.choice([x.name for x in net.layer] + [c.name()])
    else:
        blob.double_data.extend([c.edge_float() for _ in range(c.int(0, 4))])
    return net.SerializeToString()
