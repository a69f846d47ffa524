"""The figures of `lne tune` (PNG, matplotlib's Agg backend): the search's convergence (episode vs
network time, exploration phase shaded, as QS-DNN's Fig. 11) and a per-layer bar chart of the
plan beside every single-library configuration (Fig. 13)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LNEError


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise LNEError("lne tune draws its plots with matplotlib: pip install 'lne[tune]' "
                       "(or pass --no-plots)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def convergence(path, history, explore_episodes: int, random_history=None, optimum=None,
                title: str = "") -> Path:
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(1, len(history) + 1)
    if explore_episodes:
        ax.axvspan(0.5, explore_episodes + 0.5, color="0.9", label="exploration (epsilon = 1)")
    ax.plot(x, history, lw=0.6, color="tab:blue", alpha=0.6, label="Q-learning: episode")
    ax.plot(x, np.minimum.accumulate(history), lw=1.6, color="tab:blue", label="Q-learning: best so far")
    if random_history:
        ax.plot(np.arange(1, len(random_history) + 1), np.minimum.accumulate(random_history), lw=1.2,
                color="tab:orange", ls="--", label="random search: best so far")
    if optimum is not None:
        ax.axhline(optimum, color="tab:green", lw=1, ls=":", label="optimum (dynamic programming)")
    ax.set_xlabel("episode")
    ax.set_ylabel("predicted network time (ms)")
    ax.set_yscale("log")
    ax.set_title(title or "QS-DNN search convergence")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def per_layer(path, layers, table: dict, configs: dict[str, dict[str, str]], title: str = "") -> Path:
    """Grouped bars: per layer (that takes time), the ms of each configuration's kernel."""
    plt = require_matplotlib()
    shown = [l for l in layers if max(table[l.name].values()) > 0]
    width = 0.8 / max(1, len(configs))
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(shown) * max(1, len(configs)) ** 0.5), 4.8))
    x = np.arange(len(shown))
    for j, (label, plan) in enumerate(configs.items()):
        ys = [table[l.name][plan[l.name]] for l in shown]
        ax.bar(x + (j - (len(configs) - 1) / 2) * width, ys, width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{i} {l.op}" for i, l in enumerate(shown)], rotation=90, fontsize=6)
    ax.set_ylabel("measured layer time (ms)")
    ax.set_yscale("log")
    ax.set_title(title or "per-layer time: tuned plan vs single-library configurations")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
