"""Read an ONNX model into an lne.ir.Graph.

Everything a user can get wrong is checked here, before any work, with the file, node or
tensor named: not an ONNX file, opset out of range, unsupported ops (all listed at once),
symbolic or non-positive dimensions, initializers whose data is shorter than their shape,
external data outside the model's folder.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from lne import limits, ops
from lne.errors import LNEError, UnsupportedOpsError
from lne.ir import Graph, Node, Tensor
from lne.limits import MAX_ELEMENTS, MAX_NAME, MAX_NODES, MAX_RANK, SHOW, plain, show

# Every op LNE supports has the same signature and semantics from opset 21 to 28: the later
# versions only add element types (bfloat16, float8, float4, int2) that LNE rejects anyway
# (tests/conformance/test_onnx_node.py checks this against the installed ONNX schemas).
MIN_OPSET, MAX_OPSET = 7, 28
_ONNX_DOMAINS = ("", "ai.onnx")
MAX_MODEL_BYTES = 2**31 - 1  # protobuf parses no larger message (external data files are not bounded by it)


def load(path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    import onnx

    path = Path(path)
    where = plain(str(path), 200)
    model = _parse(path, where)
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise LNEError(f"{where}: not a valid ONNX model (no graph; is the file truncated or of another format?)")
    _check_counts(where, model)
    _check_text(where, model, "model")
    opset = _opset(where, model)
    if model.functions:
        import onnx.inliner

        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as e:  # the inliner raises plain C++ errors on malformed functions
            raise LNEError(f"{where}: cannot inline model-local functions: {plain(e, 300)}") from None
        if len(model.graph.node) > MAX_NODES:  # pragma: no cover - _check_counts bounds it before
            raise LNEError(f"{where}: {len(model.graph.node)} nodes once functions are inlined; at most {MAX_NODES}")
    return _Importer(path, model, opset, input_shapes or {}).run()


def _check_counts(where: str, model) -> None:
    """Bound the graph's node and tensor counts before any work, functions counted as they will
    be once inlined (a function calling another twice, nested 30 deep, is a billion nodes)."""
    g = model.graph
    for what, items in (("initializers", g.initializer), ("inputs", g.input), ("outputs", g.output),
                        ("value_info entries", g.value_info)):
        if len(items) > MAX_NODES:
            raise LNEError(f"{where}: the graph has {len(items)} {what}; LNE reads at most {MAX_NODES}")
    functions = {(f.domain, f.name, getattr(f, "overload", "")): f for f in model.functions}
    if len(functions) > MAX_NODES:
        raise LNEError(f"{where}: the model has {len(functions)} functions; LNE reads at most {MAX_NODES}")

    def calls(nodes):
        """(nodes that are not calls, [callee keys]) of a node list, subgraphs included."""
        plain_nodes, callees, stack = 0, [], [nodes]
        while stack:
            for n in stack.pop():
                key = (n.domain, n.op_type, getattr(n, "overload", ""))
                if key in functions:
                    callees.append(key)
                else:
                    plain_nodes += 1
                for a in n.attribute:
                    if a.HasField("g"):
                        stack.append(a.g.node)
                    stack.extend(sub.node for sub in a.graphs)
        return plain_nodes, callees

    size: dict = {}
    body = {k: calls(f.node) for k, f in functions.items()}
    for root in functions:  # iterative post-order, memoized; the inliner itself reports cycles
        stack, active = [(root, False)], set()
        while stack:
            key, done = stack.pop()
            if key in size:
                continue
            own, callees = body[key]
            if done:
                active.discard(key)
                size[key] = min(MAX_NODES + 1, own + sum(size.get(c, 1) for c in callees))
                continue
            if key in active:
                continue  # a cycle: counted once; inline_local_functions refuses it
            active.add(key)
            stack.append((key, True))
            stack.extend((c, False) for c in set(callees) if c not in size and c not in active)
    own, callees = calls(g.node)
    total = own + sum(size.get(c, 1) for c in callees)
    if total > MAX_NODES:
        extra = " once its functions are inlined" if callees else ""
        count = f"more than {MAX_NODES}" if callees else str(total)  # function sizes are capped
        raise LNEError(f"{where}: the graph has {count} nodes{extra}; LNE compiles graphs of at most {MAX_NODES} "
                       "nodes")


# string fields holding a name: bounded by MAX_NAME (doc strings and attribute values are not)
_NAME_FIELDS = frozenset({"name", "input", "output", "op_type", "domain", "dim_param", "ref_attr_name",
                          "overload", "attribute_proto_name"})


def _check_text(where: str, msg, label: str) -> None:
    """Every string field must be UTF-8 (protobuf hands invalid ones over as bytes, not str), and
    every name at most MAX_NAME characters. Iterative: no recursion on nested graphs."""
    from google.protobuf.descriptor import FieldDescriptor

    stack = [(msg, label)]
    while stack:
        m, at = stack.pop()
        for field, value in m.ListFields():
            repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
            if field.type == FieldDescriptor.TYPE_STRING:
                for i, item in enumerate(value if repeated else [value]):
                    if not isinstance(item, str):
                        spot = f"{at}.{field.name}" + (f"[{i}]" if repeated and len(value) > 1 else "")
                        raise LNEError(f"{where}: {spot} is not valid UTF-8 text ({item[:60]!r}); "
                                       "is the file corrupt?")
                    if len(item) > MAX_NAME and field.name in _NAME_FIELDS:
                        spot = f"{at}.{field.name}" + (f"[{i}]" if repeated and len(value) > 1 else "")
                        raise LNEError(f"{where}: {spot} is too long: {show(item)}; LNE reads names of at "
                                       f"most {MAX_NAME} characters")
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                items = value if repeated else [value]
                for i, item in reversed(list(enumerate(items))):  # reported in file order
                    stack.append((item, f"{at}.{field.name}[{i}]" if len(items) > 1 else f"{at}.{field.name}"))


def _opset(path, model) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise LNEError(f"{path}: the model imports no version of the default ONNX opset")
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise LNEError(f"{path}: opset {version} is not supported (LNE reads opsets {MIN_OPSET} to {MAX_OPSET}); "
                       "convert it with onnx.version_converter")
    return version


def _cut(name: str) -> str:
    """A name short enough for a message that quotes it itself (UnsupportedOpsError)."""
    return name if len(name) <= SHOW else name[:SHOW] + "..."


# element types LNE refuses by name at load: packed sub-byte types (their data is not one value per
# element, so a count check would call a valid tensor corrupt) and strings
_REFUSED_TYPES = ("STRING", "UINT4", "INT4", "FLOAT4E2M1", "UINT2", "INT2")


class _Importer:
    def __init__(self, path: Path, model, opset: int, input_shapes):
        self.path, self.model, self.opset, self.input_shapes = path, model, opset, dict(input_shapes)
        self.where = plain(str(path), 200)
        self.base = path.resolve().parent  # external data is read from the model's folder only
        self.graph = Graph(_graph_name(path))

    def run(self) -> Graph:
        g, mg, where = self.graph, self.model.graph, self.where
        self._check_ops()
        if mg.sparse_initializer:
            raise LNEError(f"{where}: sparse initializer {show(mg.sparse_initializer[0].values.name)}: "
                           "sparse tensors are not supported")
        # attribute tensors are read (guarded) before the schema checker sees the nodes: the checker
        # would look for their external data relative to the current folder
        attrs = [self._attrs(np_, i) for i, np_ in enumerate(mg.node)]
        self._check_schemas()
        init_names = set()
        for init in mg.initializer:
            if init.name in init_names:
                raise LNEError(f"{where}: initializer {show(init.name)} is defined twice")
            init_names.add(init.name)
            g.add_const(init.name, self._tensor(init, f"initializer {show(init.name)}"))
        for vi in mg.input:
            if vi.name in init_names:
                continue  # IR < 4 lists initializers as inputs too
            if not vi.name:
                raise LNEError(f"{where}: a graph input has an empty name")
            if vi.name in g.tensors:
                raise LNEError(f"{where}: the graph declares input {show(vi.name)} twice")
            dtype = _elem_dtype(where, vi)
            g.add_tensor(Tensor(vi.name, self._input_shape(vi), dtype))
            g.inputs.append(vi.name)
        unknown = set(self.input_shapes) - set(g.inputs)
        if unknown:
            raise LNEError(f"{where}: --input-shape names [{', '.join(show(n) for n in sorted(unknown))}], but the "
                           f"model's inputs are [{', '.join(show(n) for n in g.inputs)}]")
        if not g.inputs:
            raise LNEError(f"{where}: the graph has no run-time inputs")
        used_names = set()
        for i, np_ in enumerate(mg.node):
            name = np_.name or f"{np_.op_type}_{i}"
            while name in used_names:
                name = f"{name}_{i}"
            used_names.add(name)
            node = Node(name, np_.op_type, list(np_.input), list(np_.output), attrs[i])
            if np_.op_type in ("Softmax", "LogSoftmax") and self.opset < 13:
                node.attrs["coerce_2d"] = 1
            for o in node.outputs:
                if o:
                    if o in g.tensors:
                        raise LNEError(f"{where}: node {show(name)} redefines tensor {show(o)}")
                    g.add_tensor(Tensor(o))
            g.nodes.append(node)
        g.outputs = [vi.name for vi in mg.output]
        if not g.outputs:
            raise LNEError(f"{where}: the graph declares no outputs")
        if len(set(g.outputs)) != len(g.outputs):
            seen = set()
            twice = next(o for o in g.outputs if o in seen or seen.add(o))
            raise LNEError(f"{where}: the graph declares output {show(twice)} twice")
        return g

    def _check_ops(self):
        unsupported: dict[str, list[str]] = {}
        known = ops.all_ops()
        for i, n in enumerate(self.model.graph.node):
            internal = n.op_type in known and known[n.op_type].internal
            if n.domain not in _ONNX_DOMAINS or n.op_type not in known or internal:
                key = n.op_type if n.domain in _ONNX_DOMAINS else f"{n.domain}.{n.op_type}"
                unsupported.setdefault(_cut(key), []).append(_cut(n.name) if n.name else f"#{i}")
        if unsupported:
            raise UnsupportedOpsError(self.where, unsupported)

    def _check_schemas(self):
        """Each node against its ONNX schema: input and output counts, required operands present,
        attribute names and types, required attributes (values are checked by the ops)."""
        import onnx.defs
        from onnx import checker

        ctx = checker.C.CheckerContext()
        ctx.ir_version = self.model.ir_version
        ctx.opset_imports = {o.domain: o.version for o in self.model.opset_import}
        optional = onnx.defs.OpSchema.FormalParameterOption.Optional
        for i, n in enumerate(self.model.graph.node):
            try:
                checker.check_node(_without_external_data(n), ctx, checker.C.LexicalScopeContext())
                formal = onnx.defs.get_schema(n.op_type, self.opset, "").inputs
                for k, name in enumerate(n.input):  # the checker lets variadic operands be empty
                    if not name and formal and formal[min(k, len(formal) - 1)].option != optional:
                        raise ValueError(f"input {k} is required but has an empty name")
            except Exception as e:  # ValidationError; the C++ checker may raise others on odd protos
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise LNEError(f"{self.where}: node {show(n.name or f'{n.op_type}_{i}')} ({show(n.op_type)}) does "
                               f"not follow the ONNX spec: {plain(msg, 300)}") from None

    def _input_shape(self, vi) -> tuple[int, ...]:
        where, name = self.where, show(vi.name)
        if vi.name in self.input_shapes:
            shape = tuple(self.input_shapes[vi.name])
        else:
            tt = vi.type.tensor_type
            if not tt.HasField("shape"):
                raise LNEError(f"{where}: input {name} has no shape; pass --input-shape {plain(vi.name)}=1x...")
            if len(tt.shape.dim) > MAX_RANK:
                raise LNEError(f"{where}: input {name} has {len(tt.shape.dim)} dimensions; LNE compiles tensors "
                               f"of at most {MAX_RANK}")
            shape = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(d.dim_value)
                else:
                    raise LNEError(f"{where}: input {name} has a symbolic dimension {show(d.dim_param or '?')}; "
                                   f"give a size with --input-shape {plain(vi.name)}=1x3x224x224")
            shape = tuple(shape)
        if len(shape) > MAX_RANK:
            raise LNEError(f"{where}: input {name} has {len(shape)} dimensions; LNE compiles tensors "
                           f"of at most {MAX_RANK}")
        if any(d <= 0 for d in shape):
            raise LNEError(f"{where}: input {name} has a non-positive dimension in shape {list(shape)}")
        if math.prod(shape) > MAX_ELEMENTS:
            raise LNEError(f"{where}: input {name} of shape {list(shape)} has more than {MAX_ELEMENTS} elements")
        return shape

    def _tensor(self, t, what: str) -> np.ndarray:
        """An initializer or an attribute's tensor, checked (rank, dims, element count, type, data
        length) before its data is read; external data through the guarded path only."""
        from onnx import TensorProto, helper, numpy_helper

        where = self.where
        if len(t.dims) > MAX_RANK:
            raise LNEError(f"{where}: {what} has {len(t.dims)} dimensions; LNE compiles tensors of at most "
                           f"{MAX_RANK}")
        if any(d < 0 for d in t.dims):
            raise LNEError(f"{where}: {what} has a negative dimension {list(t.dims)}")
        count = math.prod(t.dims)  # Python ints: no int64 overflow on hostile dims
        if count > MAX_ELEMENTS:
            raise LNEError(f"{where}: {what} of shape {list(t.dims)} has more than {MAX_ELEMENTS} elements")
        type_name = TensorProto.DataType.Name(t.data_type) if t.data_type in TensorProto.DataType.values() else None
        if type_name in _REFUSED_TYPES:
            raise LNEError(f"{where}: {what} holds {type_name} values: {type_name} is not supported (LNE reads "
                           "float, integer and bool tensors)")
        if t.data_location == TensorProto.EXTERNAL:
            return self._external(t, what, count)
        try:
            np_dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
        except (KeyError, ValueError, TypeError):
            raise LNEError(f"{where}: {what} has unknown data type {t.data_type}") from None
        if t.HasField("raw_data"):
            have = len(t.raw_data) // max(1, np.dtype(np_dtype).itemsize)
        else:
            field = helper.tensor_dtype_to_field(t.data_type)
            have = len(getattr(t, field))
            if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
                have //= 2
        if have != count:
            raise LNEError(f"{where}: {what} holds {have} values but its shape {list(t.dims)} needs {count} "
                           "(truncated or corrupt model)")
        try:
            return numpy_helper.to_array(t)
        except Exception as e:
            raise LNEError(f"{where}: cannot read {what}: {plain(e, 200)}") from None

    def _external(self, t, what: str, count: int) -> np.ndarray:
        """External data, resolved against the model's folder only: no absolute path, no `..` or
        link out of it, a regular file, the declared range inside it."""
        from onnx import helper

        where, base = self.where, self.base
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        target = _external_target(base, location, where, what)
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
            offset = int(info.get("offset", 0))
            length = int(info.get("length", count * dtype.itemsize))
        except (KeyError, ValueError, TypeError):
            raise LNEError(f"{where}: {what}: unreadable external data description "
                           f"{plain(info, 300)} (data type {t.data_type})") from None
        with limits.open_regular(target, f"the external data of {what}") as f:
            size = os.fstat(f.fileno()).st_size
            if length != count * dtype.itemsize or offset < 0 or offset + length > size:
                raise LNEError(f"{where}: external data of {what} ({show(location)}, offset {offset}, "
                               f"length {length}) does not hold {count} values of {dtype}")
            try:
                f.seek(offset)
                data = f.read(length)
            except OSError as e:
                raise LNEError(f"{where}: cannot read external data {show(location)}: {e.strerror}") from None
        if len(data) != length:
            raise LNEError(f"{where}: external data {show(location)} of {what} shrank while being read")
        return np.frombuffer(data, dtype=dtype).reshape(tuple(t.dims)).copy()

    def _attrs(self, node_proto, index: int) -> dict:
        from onnx import AttributeProto, helper

        where = self.where
        node = show(node_proto.name or f"{node_proto.op_type}_{index}")
        out = {}
        for a in node_proto.attribute:
            what = f"node {node} attribute {show(a.name)}"
            if a.ref_attr_name:
                raise LNEError(f"{where}: {what} refers to a function attribute {show(a.ref_attr_name)} outside "
                               "a function")
            if a.type in (AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS) \
                    or a.HasField("sparse_tensor") or len(a.sparse_tensors):
                raise LNEError(f"{where}: {what}: sparse tensors are not supported")
            if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or a.HasField("g") or len(a.graphs):
                # no op LNE compiles has a subgraph; the ONNX checker would look for the external
                # data of the subgraph's tensors relative to the current folder
                raise LNEError(f"{where}: {what} is a graph; LNE compiles no op with subgraphs")
            if a.type == AttributeProto.TENSOR or (a.type == AttributeProto.UNDEFINED and a.HasField("t")):
                out[a.name] = self._tensor(a.t, what)
                continue
            if a.type == AttributeProto.TENSORS:
                out[a.name] = [self._tensor(t, f"{what}[{k}]") for k, t in enumerate(a.tensors)]
                continue
            try:
                v = helper.get_attribute_value(a)
            except Exception as e:
                raise LNEError(f"{where}: {what} is unreadable: {plain(e, 200)}") from None
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list):
                v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
            out[a.name] = v
        return out


def _external_target(base: Path, location: str, where: str, what: str) -> Path:
    """The file of a tensor's external data: inside the model's folder ``base`` (resolved: no
    absolute path, no `..`, no link out of it), existing."""
    if not location or "\0" in location or os.path.isabs(location):
        target = None
    else:
        try:
            target = (base / location).resolve()
        except (OSError, RuntimeError):  # a loop of links
            target = None
    if target is None or base not in target.parents:
        raise LNEError(f"{where}: {what} points to external data {show(location)} outside the model's folder; "
                       "refusing to read it")
    try:
        os.stat(target)
    except FileNotFoundError:
        raise LNEError(f"{where}: external data file {show(location)} of {what} is missing (it is read from "
                       "the model's folder)") from None
    except OSError as e:  # a name too long...
        raise LNEError(f"{where}: external data file {show(location)} of {what}: {e.strerror}") from None
    return target


def _all_tensors(graph):
    """Every TensorProto of a graph: initializers and tensor attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from _all_tensors(a.g)
            for g in a.graphs:
                yield from _all_tensors(g)


def _parse(path: Path, where: str):
    """The ModelProto of a regular file (a FIFO would block), bounded by what protobuf can parse
    at all; external data not read."""
    import onnx
    from google.protobuf.message import DecodeError

    data = limits.read_bytes(path, "the model", MAX_MODEL_BYTES)
    try:
        return onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError, OSError) as e:
        raise LNEError(f"{where}: not a valid ONNX model (protobuf parse failed: {plain(e, 200)})") from None


def load_proto(path):
    """The whole ModelProto for onnxruntime and the quantizer (which read the model as it is):
    a regular file of bounded size, its external data (initializers and attributes alike)
    read only from inside the model's folder."""
    from onnx import TensorProto, external_data_helper

    path = Path(path)
    where = plain(str(path), 200)
    model = _parse(path, where)
    base = path.resolve().parent
    graphs = [model.graph] + [f for f in model.functions]
    external = False
    for g in graphs:
        for t in (_all_tensors(g) if hasattr(g, "initializer") else
                  (a.t for n in g.node for a in n.attribute if a.HasField("t"))):
            if t.data_location == TensorProto.EXTERNAL:
                location = {e.key: e.value for e in t.external_data}.get("location", "")
                target = _external_target(base, location, where, f"tensor {show(t.name)}")
                limits.check_regular(target, f"the external data of tensor {show(t.name)}")
                external = True
    if external:
        try:
            external_data_helper.load_external_data_for_model(model, str(base))
        except (OSError, ValueError) as e:
            raise LNEError(f"{where}: cannot read its external data: {plain(e, 200)}") from None
    return model


def _without_external_data(node):
    """`node`, or a copy of it whose tensor attributes hold no external data references (so the
    ONNX checker does not look for their files relative to the current folder)."""
    from onnx import TensorProto

    def external(t):
        return t.data_location == TensorProto.EXTERNAL

    if not any(external(a.t) or any(external(t) for t in a.tensors) for a in node.attribute):
        return node
    copy = type(node)()
    copy.CopyFrom(node)
    for a in copy.attribute:
        for t in [a.t, *a.tensors]:
            if external(t):
                t.ClearField("data_location")
                del t.external_data[:]
                _zero_fill(t)
    return copy


def _zero_fill(t) -> None:
    """Give a tensor stripped of its external data a one-value payload, so the checker (which
    wants one data field, as long as the dims need) has something to look at: the data itself
    was read and checked through the guarded path already."""
    from onnx import helper

    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, ValueError, TypeError):
        return
    del t.dims[:]
    t.raw_data = bytes(itemsize)


def _elem_dtype(where: str, vi) -> str:
    from onnx import helper

    kind = vi.type.WhichOneof("value")
    if kind != "tensor_type":
        raise LNEError(f"{where}: input {show(vi.name)} is a {kind or 'value of no type'}; LNE compiles tensor "
                       "inputs only")
    et = vi.type.tensor_type.elem_type
    try:
        dtype = str(np.dtype(helper.tensor_dtype_to_np_dtype(et)))
    except (KeyError, ValueError, TypeError):
        raise LNEError(f"{where}: input {show(vi.name)} has an unsupported element type {et}") from None
    if dtype != "float32":
        raise LNEError(f"{where}: input {show(vi.name)} is {dtype}; LNE compiles float32 inputs")
    return dtype


def _graph_name(path: Path) -> str:
    return path.stem
