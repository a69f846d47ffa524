"""`lne convert`: write the graph a frontend reads (a Caffe net, or an ONNX model) as an ONNX
model, opset 17.

The graph is taken after shape inference and constant folding, before any fusion, so every
node is still a standard ONNX op: attributes the IR keeps as attributes but ONNX 17 takes as
inputs (Reshape shape, Split split, Clip min/max, Pad pads/value, Squeeze/Unsqueeze axes) become
constant inputs again. The file is written atomically: an error leaves nothing behind; an
existing file is replaced only if LNE wrote it (producer "lne"), or with force (never the input).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import LNEError

OPSET = 17
MAX_BYTES = 2**31 - 1  # a single protobuf message

# IR attribute -> ONNX input position, for ops whose opset-17 form takes it as an input
_AS_INPUT = {
    "Reshape": [("shape", np.int64)],
    "Split": [("split", np.int64)],
    "Clip": [("min", np.float32), ("max", np.float32)],
    "Pad": [("pads", np.int64), ("value", np.float32)],
    "Squeeze": [("axes", np.int64)],
    "Unsqueeze": [("axes", np.int64)],
}
# attributes that are IR bookkeeping, not ONNX (None-valued ones are dropped too)
_DROP = {"MaxPool": {"count_include_pad"}, "Dropout": {"ratio", "seed"}}


def check_onnx_output(out, inputs, force: bool = False, what: str = "-o") -> Path:
    """Check an ONNX file to write before any work: not one of ``inputs`` (even with force), and
    replacing an existing file only if LNE wrote it (or with force). Returns its absolute path."""
    from .limits import plain
    from .outputs import check_file, onnx_is_ours, same_file

    for f in inputs:
        if f and same_file(out, f):
            raise LNEError(f"{what} {plain(str(out), 200)}: that is the input {plain(str(f), 200)}; "
                           "write the result to another file")
    return check_file(out, "an ONNX model", force, onnx_is_ours, what=f"{what}")


def convert(model, out, weights=None, input_shapes=None, force: bool = False) -> Path:
    """Read `model` (with `weights` for Caffe) and write it as ONNX to `out`; returns the path."""
    import onnx

    from .compiler import load_model
    from .outputs import onnx_is_ours, output_file
    from .passes.fold import eliminate_dead_code, infer_and_fold, skip_identities

    out = Path(out)
    check_onnx_output(out, (model, weights), force)
    g = load_model(model, weights, input_shapes)
    for step in (infer_and_fold, skip_identities, eliminate_dead_code):
        step(g, {})
    g.verify()
    size = sum(t.nbytes for t in g.tensors.values() if t.is_const)
    if size > MAX_BYTES:
        raise LNEError(f"{model}: the ONNX model would be over {size / 2**30:.1f} GiB, past protobuf's 2 GiB limit")
    data = to_onnx(g).SerializeToString()
    try:
        onnx.checker.check_model(data)
    except onnx.checker.ValidationError as e:  # a bug in this writer, stated plainly
        raise LNEError(f"internal error: the converted model is not valid ONNX: {e}") from None
    with output_file(out, "an ONNX model", force, onnx_is_ours, what="-o") as tmp:
        tmp.write_bytes(data)
    return out


def to_onnx(g):
    """An onnx.ModelProto of graph `g` (standard ops only, shapes known)."""
    from onnx import helper

    from . import ops

    nodes, inits, used = [], {}, set()

    def const(name_hint: str, value, dtype) -> str:
        name = f"{name_hint}__{len(inits) + 1}"
        inits[name] = np.asarray(value, dtype=dtype)
        return name

    for node in g.nodes:
        opdef = ops.get(node.op)
        if opdef.internal or not opdef.runtime:
            raise LNEError(f"node {node.name!r}: {node.op} has no ONNX form (made by a compiler pass)")
        attrs = {k: _attr(v) for k, v in node.attrs.items()
                 if v is not None and k not in _DROP.get(node.op, set())}
        if attrs.pop("act", None) is not None:
            raise LNEError(f"node {node.name!r}: a fused activation has no ONNX form")
        inputs = list(node.inputs)
        for attr, dtype in _AS_INPUT.get(node.op, []):
            if attr in attrs:
                inputs.append(const(f"{node.name}/{attr}", attrs.pop(attr), dtype))
            else:
                inputs.append("")
        while inputs and not inputs[-1]:
            inputs.pop()
        op = "Identity" if node.op == "Dropout" else node.op
        if node.op == "AveragePool" and attrs.pop("dilations", [1, 1]) != [1, 1]:
            raise LNEError(f"node {node.name!r}: a dilated AveragePool needs opset 19")
        if attrs.pop("coerce_2d", 0) and op in ("Softmax", "LogSoftmax"):
            nodes += _coerced_softmax(g, node, attrs, const)
            used.update(i for i in inputs if i)
            continue
        used.update(i for i in inputs if i)
        nodes.append(helper.make_node(op, inputs, list(node.outputs), name=node.name, **attrs))

    for name in sorted(used - set(inits)):
        t = g.tensors[name]
        if t.is_const:
            inits[name] = np.asarray(t.data)

    def info(name):
        t = g.tensors[name]
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), list(t.shape))

    graph = helper.make_graph(nodes, g.name, [info(i) for i in g.inputs], [info(o) for o in g.outputs])
    for name, value in inits.items():  # filled in place: no copy of large weights
        t = graph.initializer.add(name=name, data_type=helper.np_dtype_to_tensor_dtype(value.dtype))
        t.dims.extend(value.shape)
        t.raw_data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lne")
    model.ir_version = 8
    return model


def _attr(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_attr(x) for x in v]
    return v


def _coerced_softmax(g, node, attrs, const):
    """Opset < 13 Softmax (over the flattened trailing axes) in opset 17 terms."""
    from onnx import helper

    x, y = node.inputs[0], node.outputs[0]
    shape = g.tensors[x].shape
    axis = attrs.get("axis", 1) % len(shape)
    flat, soft = f"{node.name}/flat", f"{node.name}/soft"
    return [helper.make_node("Flatten", [x], [flat], name=f"{node.name}/flatten", axis=axis),
            helper.make_node(node.op, [flat], [soft], name=node.name, axis=1),
            helper.make_node("Reshape", [soft, const(f"{node.name}/shape", list(shape), np.int64)], [y],
                             name=f"{node.name}/reshape")]
