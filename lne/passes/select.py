"""Kernel selection: one kernel per node, recorded in node.kernel.

Default: the highest-priority kernel that applies and that the target's ISA can run.
options["kernels"] = {node name: kernel name} forces choices (a plan from `lne tune`)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import LNEError
from ..ops.base import OpError


def pretranspose_weights(g) -> None:
    """Store a constant transB Gemm weight transposed once at compile time, so the fast kernel
    (which reads B as [k, n]) applies: the AOT compiler pays the transpose, not every run. A
    weight shared by several Gemms is transposed once (not once per node: memory)."""
    done: dict[str, str] = {}
    for node in g.nodes:
        if node.op == "Gemm" and node.attrs["transB"] and g.const(node.inputs[1]) is not None:
            src = node.inputs[1]
            if src not in done:
                w = g.const(src)
                done[src] = g.add_const(g.fresh_name(src + "_t"), np.ascontiguousarray(w.T)).name
            node.inputs[1] = done[src]
            node.attrs["transB"] = 0


def candidates(node, g, options) -> list:
    """The kernels that can run `node` on the target `options` describe (ISA, plugins; with
    options["exact"] only kernels that compute integer ops bit for bit)."""
    isa = set(options.get("isa", ())) | {"generic"}
    plugins = set(options.get("plugins", ()))
    exact = bool(options.get("exact"))
    return [k for k in kernels.for_op(node.op)
            if k.isa in isa and k.priority >= 0 and (k.plugin is None or k.plugin in plugins)
            and (k.exact or not exact)
            and _dtype_ok(k, node, g) and _layout_ok(k, node, g) and k.applies(node, g)]


def _layout_ok(k, node, g) -> bool:
    """A kernel reads and writes the layout it declares; "any" kernels (elementwise) take blocked
    tensors only when every run-time operand has the output's shape."""
    if k.layout == "mixed":
        return True
    tensors = [g.tensors[t] for t in list(node.inputs) + list(node.outputs) if t and not g.tensors[t].is_const]
    layouts = {t.layout for t in tensors}
    if k.layout == "any":
        return layouts <= {"nchw"} or (len(layouts) == 1 and len({t.shape for t in tensors}) == 1)
    return layouts <= {k.layout}


def _dtype_ok(k, node, g) -> bool:
    """float32 kernels run nodes whose run-time tensors are all float32 (quantized graphs hold
    int8 / int16 tensors too); kernels that emit no code (views) take any dtype; the others
    (int8 / int16) check dtypes in their own applies()."""
    if k.dtype != "float32" or k.header is None:
        return True
    return all(g.tensors[t].dtype == "float32" for t in list(node.inputs) + list(node.outputs)
               if t and not g.tensors[t].is_const)


def _prepare_key(kernel, node, g):
    """What a kernel's compile-time weight transform (prepare) depends on: the kernel, the
    node's constant operands, the shapes and layouts of all its tensors and its attributes.
    Nodes that agree on all of it share the packed constants (a weight shared by many nodes is
    packed once, not once per node: a small file could otherwise ask for gigabytes)."""
    try:
        attrs = repr(sorted((k, v) for k, v in node.attrs.items() if k != "packed"))
    except TypeError:
        return None
    operands = []
    for t in list(node.inputs) + list(node.outputs):
        tensor = g.tensors[t] if t else None
        operands.append(None if tensor is None else
                        (t if tensor.is_const else None, tensor.shape, tensor.dtype, tensor.layout))
    return kernel.name, tuple(operands), attrs


def select_kernels(g, options) -> None:
    pretranspose_weights(g)
    forced = options.get("kernels", {})
    packed_for: dict = {}
    for node in g.nodes:
        candidates_ = candidates(node, g, options)
        if node.name in forced:
            chosen = [k for k in candidates_ if k.name == forced[node.name]]
            if not chosen:
                raise LNEError(f"plan asks kernel {forced[node.name]!r} for node {node.name!r} ({node.op}), "
                               f"which does not apply; candidates: {[k.name for k in candidates_]}")
            kernel = chosen[0]
        elif not candidates_:
            raise OpError(node, "no kernel implements this configuration")
        else:
            kernel = max(candidates_, key=lambda k: k.priority)
        node.kernel = kernel.name
        node.attrs.pop("packed", None)
        if kernel.prepare is not None:
            key = _prepare_key(kernel, node, g)
            if key is None or key not in packed_for:
                packed = kernel.prepare(node, g)
                if key is None:
                    node.attrs["packed"] = packed
                    continue
                packed_for[key] = packed
            node.attrs["packed"] = dict(packed_for[key])


def kernel_inputs(node) -> list[str]:
    """The tensors a node's kernel reads: its inputs, with compile-time packed constants
    (KernelDef.prepare) in place of the originals they were made from."""
    packed = node.attrs.get("packed") or {}
    return [packed.get(i, name) for i, name in enumerate(node.inputs)]
