"""Read a Caffe deploy net into an lne.ir.Graph in the IR's ONNX op conventions.

Order of checks, each a clear LNEError before any work: the files read and parse (syntax
errors with line and column; V1 nets told how to upgrade), layers excluded from the TEST phase
are dropped, every remaining layer type is supported (all unsupported ones listed at once),
inputs have shapes. Then each layer is lowered in order (see layers/), with its blobs checked
against the shapes the layer needs. The net's outputs are Caffe's: the blobs no later layer
consumes, in name order.
"""
from __future__ import annotations

from pathlib import Path

from lne import limits
from lne.errors import LNEError
from lne.ir import Graph, Node, Tensor
from lne.limits import MAX_NAME, MAX_RANK, plain, show

from .builder import Builder
from .layers import LOWERINGS, TRAINING_ONLY
from .layers.norm import merge_batchnorm_scale
from .reader import read_caffemodel, read_prototxt

TEST = 1  # caffe.Phase


def supported_layers() -> list[str]:
    return sorted(set(LOWERINGS) | {"Input"})


def load(path, weights=None, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    path = Path(path)
    limits.check_regular(path, "the prototxt")  # a FIFO or a device would block: regular files only
    weights_path = Path(weights) if weights is not None else None
    if weights_path is not None:
        limits.check_regular(weights_path, "the caffemodel")
    header, blocks = read_prototxt(path)
    _check_names(path, header, blocks)
    level, stages = (header.state.level, set(header.state.stage)) if header.HasField("state") else (0, set())
    kept = [blk for blk in blocks if _included(blk.msg, level, stages)]
    _check_types(path, kept)
    for blk in kept:
        if blk.error:
            raise LNEError(blk.error)
    if not kept:
        raise LNEError(f"{plain(str(path), 200)}: the net has no layers (for the TEST phase)")
    weight_map = read_caffemodel(weights_path) if weights_path is not None else None
    layers = [blk.msg for blk in kept]

    g = Graph(_graph_name(path, header))
    shapes = dict(input_shapes or {})
    reserved = set(header.input) | {n for layer in layers for n in list(layer.top) + list(layer.bottom)}
    last_writer = {name: -1 for name in header.input}
    for i, layer in enumerate(layers):
        for top in layer.top:
            last_writer[top] = i
    b = Builder(path, g, weight_map, weights_path, reserved, last_writer)
    available: dict[str, None] = {}  # Caffe's "available blobs": produced and not yet consumed
    for name, shape in _header_inputs(path, header, shapes):
        _add_input(b, name, shape)
        available[name] = None
    for i, layer in enumerate(layers):
        b.begin(i, layer)
        if layer.type == "Input":
            for name, shape in _input_layer_shapes(b, layer, shapes):
                _add_input(b, name, shape)
        else:
            b.commit(LOWERINGS[layer.type](b))
        for blob in layer.bottom:
            available.pop(blob, None)
        for blob in layer.top:
            available[blob] = None
    unknown = set(shapes) - set(g.inputs)
    if unknown:
        raise LNEError(f"{plain(str(path), 200)}: --input-shape names [{', '.join(show(n) for n in sorted(unknown))}], "
                       f"but the net's inputs are [{', '.join(show(n) for n in g.inputs)}]")
    if not g.inputs:
        raise LNEError(f"{plain(str(path), 200)}: the net has no inputs (give `input:` + `input_shape`, or an Input "
                       "layer)")
    _set_outputs(b, sorted(available))
    merge_batchnorm_scale(g)
    return g


def _check_names(path, header, blocks) -> None:
    """Net, input, layer and blob names at most MAX_NAME characters (they end up in messages,
    tensor names and the generated code's comments)."""
    where = plain(str(path), 200)
    for name in [header.name, *header.input]:
        if len(name) > MAX_NAME:
            raise LNEError(f"{where}: the name {show(name)} is too long; LNE reads names of at most {MAX_NAME} "
                           "characters")
    for blk in blocks:
        layer = blk.msg
        for field, name in [("name", layer.name), ("type", layer.type), *(("top", t) for t in layer.top),
                            *(("bottom", b) for b in layer.bottom)]:
            if len(name) > MAX_NAME:
                raise LNEError(f"{where}:{blk.line}: the layer's {field} {show(name)} is too long; LNE reads names "
                               f"of at most {MAX_NAME} characters")


def _included(layer, level: int, stages: set[str]) -> bool:
    """Caffe's NetStateRule logic for the TEST phase."""
    def meets(rule) -> bool:
        return ((not rule.HasField("phase") or rule.phase == TEST)
                and (not rule.HasField("min_level") or level >= rule.min_level)
                and (not rule.HasField("max_level") or level <= rule.max_level)
                and all(s in stages for s in rule.stage) and not any(s in stages for s in rule.not_stage))
    if layer.include:
        return any(meets(r) for r in layer.include)
    return not any(meets(r) for r in layer.exclude)


def _check_types(path, kept) -> None:
    unsupported: dict[str, list[str]] = {}
    for blk in kept:
        t = blk.msg.type
        if t != "Input" and t not in LOWERINGS:
            unsupported.setdefault(plain(t) if t else "(no type)", []).append(blk.msg.name or f"line {blk.line}")
    if not unsupported:
        return
    lines = [f"{plain(str(path), 200)}: {len(unsupported)} unsupported Caffe layer type(s):"]
    for t, names in sorted(unsupported.items()):
        shown = ", ".join(show(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        hint = " (a training layer: keep it out of the TEST phase with include { phase: TRAIN })" \
            if t in TRAINING_ONLY else ""
        lines.append(f"  {t}: layers {shown}{hint}")
    lines.append("Supported layer types: " + ", ".join(supported_layers()))
    raise LNEError("\n".join(lines))


def _header_inputs(path, header, overrides):
    names = list(header.input)
    if header.input_shape and len(header.input_shape) != len(names):
        raise LNEError(f"{path}: {len(names)} `input` names but {len(header.input_shape)} `input_shape` entries")
    if header.input_dim and len(header.input_dim) != 4 * len(names):
        raise LNEError(f"{path}: `input_dim` needs 4 values per input ({4 * len(names)}), "
                       f"has {len(header.input_dim)}")
    for i, name in enumerate(names):
        if name in overrides:
            shape = overrides[name]
        elif header.input_shape:
            shape = tuple(header.input_shape[i].dim)
        elif header.input_dim:
            shape = tuple(header.input_dim[4 * i: 4 * i + 4])
        else:
            raise LNEError(f"{plain(str(path), 200)}: input {show(name)} has no shape; add input_shape "
                           f"{{ dim: ... }} or pass --input-shape {plain(name)}=1x3x224x224")
        yield name, _positive(path, name, shape)


def _input_layer_shapes(b, layer, overrides):
    given = list(layer.input_param.shape)
    if given and len(given) not in (1, len(layer.top)):
        raise b.error(f"input_param has {len(given)} shapes for {len(layer.top)} tops (give 1 or one per top)")
    for k, name in enumerate(layer.top):
        if name in overrides:
            shape = overrides[name]
        elif given:
            shape = tuple(given[k if len(given) > 1 else 0].dim)
        else:
            raise b.error(f"input_param gives no shape for top {show(name)}; add input_param "
                          f"{{ shape {{ dim: ... }} }} "
                          f"or pass --input-shape {plain(name)}=1x3x224x224")
        yield name, _positive(b.path, name, shape)


def _positive(path, name, shape) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if len(shape) > MAX_RANK:
        raise LNEError(f"{plain(str(path), 200)}: input {show(name)} has {len(shape)} dimensions; LNE compiles "
                       f"tensors of at most {MAX_RANK}")
    if not shape or any(d <= 0 for d in shape):
        raise LNEError(f"{plain(str(path), 200)}: input {show(name)} has shape {list(shape)}; every dimension must "
                       "be positive")
    return shape


def _add_input(b, name: str, shape) -> None:
    if name in b.g.tensors:
        raise LNEError(f"{plain(str(b.path), 200)}: input {show(name)} is declared twice")
    b.g.add_tensor(Tensor(name, shape, "float32"))
    b.g.inputs.append(name)
    b.current[name] = name


def _set_outputs(b, blobs: list[str]) -> None:
    """Graph outputs for the net's output blobs; an Identity where a blob's tensor is a graph
    input or already another output (Split or Dropout tops alias their bottom)."""
    g = b.g
    renames: dict[str, str] = {}
    inputs, outputs = set(g.inputs), set()
    for blob in blobs:
        tensor = b.current[blob]
        tensor = renames.get(tensor, tensor)
        if tensor in inputs or tensor in outputs:
            out = blob if blob not in g.tensors else g.fresh_name(f"{blob}_output")
            src = g.tensors[tensor]
            g.add_tensor(Tensor(out, src.shape, src.dtype))
            g.nodes.append(Node(g.fresh_name(f"{blob}/output"), "Identity", [tensor], [out]))
            tensor = out
        elif tensor != blob and blob not in g.tensors:  # its last writer was an alias (Dropout...)
            t = g.tensors.pop(tensor)
            t.name = blob
            g.tensors[blob] = t
            renames[tensor] = blob
            tensor = blob
        g.outputs.append(tensor)
        outputs.add(tensor)
    if renames:  # one pass over the nodes for all of them
        for node in g.nodes:
            node.inputs = [renames.get(i, i) for i in node.inputs]
            node.outputs = [renames.get(o, o) for o in node.outputs]
        b.current = {k: renames.get(v, v) for k, v in b.current.items()}
    if not g.outputs:
        raise LNEError(f"{plain(str(b.path), 200)}: the net has no outputs")


def _graph_name(path: Path, header) -> str:
    return path.stem if path.stem not in ("deploy", "") or not header.name else header.name
