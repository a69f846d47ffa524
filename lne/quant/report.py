"""The sensitivity report: a text table and a bar chart (PNG, matplotlib)."""
from __future__ import annotations

from pathlib import Path

from lne.errors import LNEError


def table(rows: list[dict], float_layers: list[str], fp_acc: float | None) -> str:
    """One line per layer: op, SQNR alone quantized, top-1 change, whether the plan keeps it float."""
    width = max([len("layer")] + [len(r["layer"]) for r in rows])
    acc = fp_acc is not None
    head = f"{'layer':{width}s}  {'op':6s}  {'SQNR dB':>8s}" + (f"  {'top-1':>7s}  {'change':>7s}" if acc else "") + \
        "  plan"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = f"{r['layer']:{width}s}  {r['op']:6s}  {r['sqnr_db']:8.2f}"
        if acc:
            line += f"  {r['top1']:7.2f}  {r['delta']:+7.2f}"
        lines.append(line + ("  float" if r["layer"] in float_layers else "  quantized"))
    return "\n".join(lines)


def bar_chart(rows: list[dict], float_layers: list[str], path: Path, title: str) -> None:
    """Horizontal bars of per-layer SQNR (and top-1 change with labels); float layers in orange."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LNEError("the sensitivity chart needs matplotlib: pip install matplotlib "
                       "(or pass --no-plot)") from None
    acc = "delta" in (rows[0] if rows else {})
    names = [r["layer"] for r in rows]
    colors = ["tab:orange" if n in float_layers else "tab:blue" for n in names]
    fig, axes = plt.subplots(1, 2 if acc else 1, figsize=(11 if acc else 7, 1.2 + 0.32 * len(rows)), squeeze=False)
    ax = axes[0][0]
    ax.barh(range(len(rows)), [r["sqnr_db"] for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("output SQNR with only this layer quantized (dB; lower = more sensitive)")
    if acc:
        ax2 = axes[0][1]
        ax2.barh(range(len(rows)), [r["delta"] for r in rows], color=colors)
        ax2.set_yticks(range(len(rows)), [""] * len(rows))
        ax2.invert_yaxis()
        ax2.axvline(0, color="black", lw=0.5)
        ax2.set_xlabel("top-1 change (points)")
    fig.suptitle(title + "  (orange: kept in float by the plan)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
