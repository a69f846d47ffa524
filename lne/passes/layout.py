"""assign_layouts: run chains of pointwise / depthwise convs in the blocked NCHW8c layout.

On AVX2 targets a vector is 8 floats, and NCHW8c (8 channels innermost) lets the pointwise and
depthwise conv kernels of lne/kernels/nchwc.py work on whole pixel vectors: no shuffles for
stride 2, no edge waste on 7x7 planes. Which tensors are blocked, in topological order:
  - a conv with an NCHW8c kernel (pointwise_ok / depthwise_ok) is blocked when its input already
    is, or when one of its consumers is such a conv (so a lone conv pays no conversion);
  - an elementwise node (residual Add, standalone activation) is blocked when every operand is
    a blocked, same-shaped run-time tensor;
  - everything else reads and writes NCHW; GlobalAveragePool reads either (its [n, c, 1, 1]
    result is the same bytes in both layouts).
Where a node reads a tensor in the other layout, a Reorder node converts it (one per tensor
and direction); graph outputs stay NCHW. Costed by construction: a conversion is only made
where it buys at least one more blocked conv, and each is one streaming pass over the tensor.
Skipped for debug bundles, whose intermediate tensors are read back in NCHW."""
from __future__ import annotations

from ..ir.graph import Node, Tensor
from ..kernels.nchwc import BLOCK, depthwise_ok, keeps_zero, pointwise_ok

BLOCKED = "nchw8c"
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                "HardSwish"}


def _conv_ok(node, g) -> bool:
    return node.op == "Conv" and (pointwise_ok(node, g) or depthwise_ok(node, g))


def _starts(node, g, blocked: set, consumers) -> bool:
    """A group-1 conv from an NCHW tensor that feeds a blocked-capable conv: it writes its output
    blocked (conv2d_f32_im2col_nchw8c) instead of a Reorder pass after it."""
    y = g.tensors[node.outputs[0]].shape
    return (node.op == "Conv" and node.attrs["group"] == 1 and node.inputs[0] not in blocked
            and len(y) == 4 and (y[1] % BLOCK == 0 or keeps_zero(node.attrs.get("act")))
            and g.const(node.inputs[1]) is not None
            and any(_conv_ok(c, g) for c in consumers.get(node.outputs[0], [])))


def _elementwise_ok(node, g, blocked: set) -> bool:
    ins = [i for i in node.inputs if i]
    shape = g.tensors[node.outputs[0]].shape
    return (node.op in _ELEMENTWISE and len(node.outputs) == 1 and all(i in blocked for i in ins)
            and all(g.tensors[i].shape == shape for i in ins) and shape[1] % BLOCK == 0)


def assign_layouts(g, options) -> None:
    if "avx2" not in options.get("isa", ()) or options.get("debug"):
        return
    consumers = g.consumers()
    blocked: set[str] = set()      # tensors in NCHW8c
    wants: dict[str, str] = {}     # node name -> the layout it reads
    for node in g.nodes:
        if _conv_ok(node, g):
            x, y = node.inputs[0], node.outputs[0]
            if x in blocked or any(_conv_ok(c, g) for c in consumers.get(y, [])):
                blocked.add(y)
                wants[node.name] = BLOCKED
        elif _starts(node, g, blocked, consumers):
            blocked.add(node.outputs[0])
            wants[node.name] = "nchw"
        elif _elementwise_ok(node, g, blocked):
            blocked.add(node.outputs[0])
            wants[node.name] = BLOCKED
        elif node.op == "GlobalAveragePool":
            wants[node.name] = "any"
    _keep_depthwise_regions(g, blocked, wants, consumers)
    if blocked:
        _insert_reorders(g, blocked, wants)


def _keep_depthwise_regions(g, blocked: set, wants: dict, consumers) -> None:
    """Keep only the connected blocked regions that contain a depthwise conv: there the blocked
    kernels win clearly (stride-2 and small-plane depthwise); elsewhere NCHW im2col / Winograd
    kernels are as fast and a region would only add conversions."""
    producers = g.producers()
    parent: dict[str, str] = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for t in blocked:
        for c in consumers.get(t, []):
            if c.name in wants:
                parent[find(c.name)] = find(producers[t].name)
    good = {find(n.name) for n in g.nodes if n.name in wants and n.op == "Conv" and depthwise_ok(n, g)}
    for t in list(blocked):
        if find(producers[t].name) not in good:
            blocked.discard(t)
    for node in g.nodes:
        if node.name in wants and wants[node.name] != "any" and find(node.name) not in good:
            del wants[node.name]


def _insert_reorders(g, blocked: set, wants: dict) -> None:
    """Mark blocked tensors, route every read through a Reorder where the layouts differ, and
    keep graph outputs in NCHW."""
    names = {n.name for n in g.nodes}
    made: dict[tuple[str, str], str] = {}  # (tensor, layout) -> converted tensor
    extra: list[Node] = []

    def convert(src: str, to: str) -> str:
        if (src, to) not in made:
            t = g.tensors[src]
            dst = g.add_tensor(Tensor(g.fresh_name(f"{src}_{to}"), t.shape, t.dtype, layout=to)).name
            name, i = f"{src}/reorder_{to}", 1
            while name in names:
                name, i = f"{src}/reorder_{to}_{i}", i + 1
            names.add(name)
            extra.append(Node(name, "Reorder", [src], [dst], {"to": to}))
            made[(src, to)] = dst
        return made[(src, to)]

    twins: dict[str, str] = {}
    for out in dict.fromkeys(g.outputs):  # a blocked graph output: the producer writes a blocked twin
        if out in blocked:
            twin = g.add_tensor(Tensor(g.fresh_name(f"{out}_{BLOCKED}"), g.tensors[out].shape,
                                       g.tensors[out].dtype)).name
            twins[out] = twin
            blocked.discard(out)
            blocked.add(twin)
            extra.append(Node(f"{out}/reorder_nchw", "Reorder", [twin], [out], {"to": "nchw"}))
            names.add(extra[-1].name)
    if twins:  # one rename walk for all of them (was one walk per output)
        for node in g.nodes:
            node.outputs = [twins.get(o, o) for o in node.outputs]
            node.inputs = [twins.get(i, i) for i in node.inputs]
    for name in blocked:
        g.tensors[name].layout = BLOCKED
    for node in list(g.nodes):
        want = wants.get(node.name, "nchw")
        for k, i in enumerate(node.inputs):
            if not i or g.tensors[i].is_const or want == "any":
                continue
            have = g.tensors[i].layout
            if have != want:
                node.inputs[k] = convert(i, want)
    g.nodes.extend(extra)
    g.toposort()
