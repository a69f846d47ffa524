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

from lne import ops
from lne.errors import LNEError, UnsupportedOpsError
from lne.ir import Graph, Node, Tensor

# Every op LNE supports has the same signature and semantics from opset 21 to 28: the later
# versions only add element types (bfloat16, float8, float4, int2) that LNE rejects anyway
# (tests/conformance/test_onnx_node.py checks this against the installed ONNX schemas).
MIN_OPSET, MAX_OPSET = 7, 28
_ONNX_DOMAINS = ("", "ai.onnx")


def load(path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise LNEError(f"{path}: no such model file")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError, OSError) as e:
        raise LNEError(f"{path}: not a valid ONNX model (protobuf parse failed: {e})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise LNEError(f"{path}: not a valid ONNX model (no graph; is the file truncated or of another format?)")
    _check_text(path, model, "model")
    opset = _opset(path, model)
    if model.functions:
        import onnx.inliner

        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as e:  # the inliner raises plain C++ errors on malformed functions
            raise LNEError(f"{path}: cannot inline model-local functions: {e}") from None
    return _Importer(path, model, opset, input_shapes or {}).run()


def _check_text(path, msg, where: str) -> None:
    """Every string field must be UTF-8: protobuf hands invalid ones over as bytes, not str."""
    from google.protobuf.descriptor import FieldDescriptor

    for field, value in msg.ListFields():
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
        items = value if repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            for item in items:
                if not isinstance(item, str):
                    raise LNEError(f"{path}: {where}.{field.name} is not valid UTF-8 text ({item[:60]!r}); "
                                   "is the file corrupt?")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for i, item in enumerate(items):
                _check_text(path, item, f"{where}.{field.name}[{i}]" if len(items) > 1 else f"{where}.{field.name}")


def _opset(path, model) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise LNEError(f"{path}: the model imports no version of the default ONNX opset")
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise LNEError(f"{path}: opset {version} is not supported (LNE reads opsets {MIN_OPSET} to {MAX_OPSET}); "
                       "convert it with onnx.version_converter")
    return version


class _Importer:
    def __init__(self, path: Path, model, opset: int, input_shapes):
        self.path, self.model, self.opset, self.input_shapes = path, model, opset, dict(input_shapes)
        self.graph = Graph(_graph_name(path))

    def run(self) -> Graph:
        g, mg = self.graph, self.model.graph
        self._check_ops()
        self._check_schemas()
        for init in mg.initializer:
            g.add_const(init.name, self._initializer(init))
        for vi in mg.input:
            if vi.name in g.tensors:
                continue  # IR < 4 lists initializers as inputs too
            dtype = _elem_dtype(self.path, vi)
            g.add_tensor(Tensor(vi.name, self._input_shape(vi), dtype))
            g.inputs.append(vi.name)
        unknown = set(self.input_shapes) - set(g.inputs)
        if unknown:
            raise LNEError(f"{self.path}: --input-shape names {sorted(unknown)}, but the model's inputs are "
                           f"{g.inputs}")
        if not g.inputs:
            raise LNEError(f"{self.path}: the graph has no run-time inputs")
        used_names = set()
        for i, np_ in enumerate(mg.node):
            name = np_.name or f"{np_.op_type}_{i}"
            while name in used_names:
                name = f"{name}_{i}"
            used_names.add(name)
            node = Node(name, np_.op_type, list(np_.input), list(np_.output), self._attrs(np_))
            if np_.op_type in ("Softmax", "LogSoftmax") and self.opset < 13:
                node.attrs["coerce_2d"] = 1
            for o in node.outputs:
                if o:
                    if o in g.tensors:
                        raise LNEError(f"{self.path}: node {name!r} redefines tensor {o!r}")
                    g.add_tensor(Tensor(o))
            g.nodes.append(node)
        g.outputs = [vi.name for vi in mg.output]
        if not g.outputs:
            raise LNEError(f"{self.path}: the graph declares no outputs")
        return g

    def _check_ops(self):
        unsupported: dict[str, list[str]] = {}
        known = ops.all_ops()
        for i, n in enumerate(self.model.graph.node):
            internal = n.op_type in known and known[n.op_type].internal
            if n.domain not in _ONNX_DOMAINS or n.op_type not in known or internal:
                key = n.op_type if n.domain in _ONNX_DOMAINS else f"{n.domain}.{n.op_type}"
                unsupported.setdefault(key, []).append(n.name or f"#{i}")
        if unsupported:
            raise UnsupportedOpsError(self.path, unsupported)

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
                checker.check_node(n, ctx, checker.C.LexicalScopeContext())
                formal = onnx.defs.get_schema(n.op_type, self.opset, "").inputs
                for k, name in enumerate(n.input):  # the checker lets variadic operands be empty
                    if not name and formal and formal[min(k, len(formal) - 1)].option != optional:
                        raise ValueError(f"input {k} is required but has an empty name")
            except Exception as e:  # ValidationError; the C++ checker may raise others on odd protos
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise LNEError(f"{self.path}: node {n.name or f'{n.op_type}_{i}'!r} ({n.op_type}) does not follow "
                               f"the ONNX spec: {msg}") from None

    def _input_shape(self, vi) -> tuple[int, ...]:
        if vi.name in self.input_shapes:
            shape = tuple(self.input_shapes[vi.name])
        else:
            tt = vi.type.tensor_type
            if not tt.HasField("shape"):
                raise LNEError(f"{self.path}: input {vi.name!r} has no shape; pass --input-shape {vi.name}=1x...")
            shape = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(d.dim_value)
                else:
                    raise LNEError(f"{self.path}: input {vi.name!r} has a symbolic dimension "
                                   f"{d.dim_param or '?'!r}; give a size with --input-shape {vi.name}=1x3x224x224")
            shape = tuple(shape)
        if any(d <= 0 for d in shape):
            raise LNEError(f"{self.path}: input {vi.name!r} has a non-positive dimension in shape {list(shape)}")
        if math.prod(shape) > ops.base.MAX_ELEMENTS:
            raise LNEError(f"{self.path}: input {vi.name!r} of shape {list(shape)} has more than "
                           f"{ops.base.MAX_ELEMENTS} elements")
        return shape

    def _initializer(self, init) -> np.ndarray:
        from onnx import TensorProto, helper, numpy_helper

        if any(d < 0 for d in init.dims):
            raise LNEError(f"{self.path}: initializer {init.name!r} has a negative dimension {list(init.dims)}")
        if init.data_location == TensorProto.EXTERNAL:
            return self._external(init)
        try:
            np_dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
        except (KeyError, ValueError):
            raise LNEError(f"{self.path}: initializer {init.name!r} has unknown data type {init.data_type}") from None
        count = math.prod(init.dims)  # Python ints: no int64 overflow on hostile dims
        if init.HasField("raw_data"):
            have = len(init.raw_data) // max(1, np.dtype(np_dtype).itemsize)
        else:
            field = helper.tensor_dtype_to_field(init.data_type) if init.data_type != TensorProto.STRING else None
            have = len(getattr(init, field)) if field else count
            if init.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
                have //= 2
        if have != count:
            raise LNEError(f"{self.path}: initializer {init.name!r} holds {have} values but its shape "
                           f"{list(init.dims)} needs {count} (truncated or corrupt model)")
        try:
            return numpy_helper.to_array(init)
        except Exception as e:
            raise LNEError(f"{self.path}: cannot read initializer {init.name!r}: {e}") from None

    def _external(self, init) -> np.ndarray:
        from onnx import helper

        info = {e.key: e.value for e in init.external_data}
        base = self.path.resolve().parent
        location = info.get("location", "")
        if not location or "\0" in location or os.path.isabs(location):
            target = None
        else:
            try:
                target = (base / location).resolve()
            except (OSError, RuntimeError):  # a loop of links
                target = None
        if target is None or base not in target.parents:
            raise LNEError(f"{self.path}: initializer {init.name!r} points to external data {location!r} "
                           "outside the model's folder; refusing to read it")
        try:
            size = target.stat().st_size if target.is_file() else None
        except OSError as e:  # a name too long...
            raise LNEError(f"{self.path}: external data file {location!r} of initializer {init.name!r}: "
                           f"{e.strerror}") from None
        if size is None:
            raise LNEError(f"{self.path}: external data file {location!r} of initializer {init.name!r} is missing")
        count = math.prod(init.dims)
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type))
            offset = int(info.get("offset", 0))
            length = int(info.get("length", count * dtype.itemsize))
        except (KeyError, ValueError, TypeError):
            raise LNEError(f"{self.path}: initializer {init.name!r}: unreadable external data description "
                           f"{info} (data type {init.data_type})") from None
        if length != count * dtype.itemsize or offset < 0 or offset + length > size:
            raise LNEError(f"{self.path}: external data of initializer {init.name!r} ({location!r}, offset {offset}, "
                           f"length {length}) does not hold {count} values of {dtype}")
        try:
            with open(target, "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except OSError as e:
            raise LNEError(f"{self.path}: cannot read external data {location!r}: {e.strerror}") from None
        return np.frombuffer(data, dtype=dtype).reshape(tuple(init.dims)).copy()

    def _attrs(self, node_proto) -> dict:
        from onnx import helper, numpy_helper

        out = {}
        for a in node_proto.attribute:
            if a.ref_attr_name:
                raise LNEError(f"{self.path}: node {node_proto.name!r} refers to a function attribute "
                               f"{a.ref_attr_name!r} outside a function")
            try:
                v = helper.get_attribute_value(a)
            except Exception as e:
                raise LNEError(f"{self.path}: node {node_proto.name!r} attribute {a.name!r} is unreadable: {e}") from None
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif hasattr(v, "dims") and hasattr(v, "data_type"):
                v = numpy_helper.to_array(v)
            elif isinstance(v, list):
                v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
            out[a.name] = v
        return out


def _elem_dtype(path, vi) -> str:
    from onnx import helper

    kind = vi.type.WhichOneof("value")
    if kind != "tensor_type":
        raise LNEError(f"{path}: input {vi.name!r} is a {kind or 'value of no type'}; LNE compiles tensor inputs only")
    et = vi.type.tensor_type.elem_type
    try:
        dtype = str(np.dtype(helper.tensor_dtype_to_np_dtype(et)))
    except (KeyError, ValueError, TypeError):
        raise LNEError(f"{path}: input {vi.name!r} has an unsupported element type {et}") from None
    if dtype != "float32":
        raise LNEError(f"{path}: input {vi.name!r} is {dtype}; LNE compiles float32 inputs")
    return dtype


def _graph_name(path: Path) -> str:
    return path.stem
