"""`lne inspect`: a readable account of a bundle (or of a model compiled in memory)."""
from __future__ import annotations

from pathlib import Path

from .errors import LNEError
from .limits import plain, show


def manifest_for(path: Path, target: str = "host", input_shapes=None) -> dict:
    from .session import find_manifest

    if path.is_dir():
        return find_manifest(path)
    from . import targets
    from .codegen.bundle import _weights, manifest
    from .compiler import load_model
    from .passes import run

    tgt = targets.get(target)
    g = load_model(path, None, input_shapes)
    run(g, {"isa": tgt.isa})
    blob, _, fingerprint = _weights(g)
    return manifest(g, path.stem, tgt, len(blob), fingerprint, False)


def weight_storage(g, by_dtype: bool = False):
    """Bytes of the model's parameters as stored: the constants the nodes compute with, in their
    own dtype (int8 / int16 weights, int32 biases, float32 elsewhere), before any kernel packing
    or Winograd transform (those are in the weights blob size)."""
    sizes: dict[str, int] = {}
    seen = set()
    for node in g.nodes:
        for name in node.inputs:
            t = g.tensors.get(name) if name else None
            if t is None or not t.is_const or name in seen or t.dtype == "int64":
                continue  # int64 constants are shapes and indices, not parameters
            seen.add(name)
            sizes[t.dtype] = sizes.get(t.dtype, 0) + t.nbytes
    return sizes if by_dtype else sum(sizes.values())


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def describe(m: dict) -> str:
    """The table `lne inspect` prints. Names come from the model (or a manifest file): each is
    printed escaped and cut (limits.plain / show), so none can move the terminal or add lines."""
    if "nodes" not in m or "memory" not in m:
        raise LNEError("not an LNE manifest")
    rows = [("#", "layer", "op", "kernel", "output", "MMACs")]
    for i, n in enumerate(m["nodes"]):
        rows.append((str(i), plain(n["name"], 40), plain(n["op"], 40), plain(n["kernel"], 60),
                     plain("x".join(map(str, n["shape"])), 60), f"{n['macs'] / 1e6:.3f}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [f"{plain(m['name'])} (target {plain(m['target'])}{', debug' if m.get('debug') else ''})"]
    for io in ("inputs", "outputs"):
        for t in m[io]:
            lines.append(f"  {io[:-1]} {show(t['name'])}: float32[{plain('x'.join(map(str, t['shape'])), 60)}]")
    lines.append("")
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    mem = m["memory"]
    total_macs = sum(n["macs"] for n in m["nodes"])
    ratio = mem["arena_size"] / mem["lower_bound"] if mem["lower_bound"] else 1.0
    lines += ["", f"total MACs: {total_macs / 1e6:,.2f} M",
              f"weights:    {_kib(m['weights_size'])}",
              *([f"parameters: {_kib(sum(m['parameters'].values()))}  ("
                 + ", ".join(f"{plain(k, 20)} {_kib(v)}" for k, v in sorted(m['parameters'].items())) + ")"]
                if m.get("parameters") else []),
              "memory plan:",
              f"  arena             {_kib(mem['arena_size'])}  ({plain(mem['algorithm'], 40)})",
              f"  live-set bound    {_kib(mem['lower_bound'])}  (arena / bound = {ratio:.3f})",
              f"  naive sum         {_kib(mem['naive_size'])}  (no sharing)",
              f"  buffers           {len(mem['buffers'])}"]
    return "\n".join(lines)
