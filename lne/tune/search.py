"""Search of `lne tune` on a measured table: QS-DNN tabular Q-learning, the exact optimum by
dynamic programming (the oracle the tests hold Q-learning to), random search with the same
budget, and the single-library and default-heuristic configurations.

The network is walked layer by layer in execution order. The agent's state is the layer index
and the data layout the previous layer's choice left (the network input is NCHW); its action is
this layer's kernel; the reward is minus the kernel's measured time plus the time of converting
the previous layout into the one the kernel reads (0 when they match). After the last layer the
output is converted back to NCHW. Everything here is pure and deterministic for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .candidates import DEFAULT_LAYOUT


@dataclass
class Problem:
    names: list[str]                       # layer (node) names, in execution order
    choices: list[list[str]]               # candidate kernels per layer
    times: list[list[float]]               # measured ms per candidate
    layouts: list[list[str]]               # layout of each candidate
    convert: dict = field(default_factory=dict)  # (layer index, from layout, to layout) -> ms;
                                           # index len(names) is the final conversion to NCHW

    def conversion(self, i: int, src: str, dst: str) -> float:
        if src == dst:
            return 0.0
        return float(self.convert.get((i, src, dst), 0.0))

    def cost(self, plan: list[int]) -> float:
        """Predicted network time (ms) of a plan given as one choice index per layer."""
        total, prev = 0.0, DEFAULT_LAYOUT
        for i, a in enumerate(plan):
            total += self.times[i][a] + self.conversion(i, prev, self.layouts[i][a])
            prev = self.layouts[i][a]
        return total + self.conversion(len(plan), prev, DEFAULT_LAYOUT)

    def kernels(self, plan: list[int]) -> dict[str, str]:
        return {n: self.choices[i][a] for i, (n, a) in enumerate(zip(self.names, plan))}

    def index(self, kernels: dict[str, str]) -> list[int]:
        return [self.choices[i].index(kernels[n]) for i, n in enumerate(self.names)]


def from_table(layers, table: dict, convert=None) -> Problem:
    """A Problem from candidates.Layer objects and table[node][kernel] = ms."""
    return Problem([l.name for l in layers], [list(l.kernels) for l in layers],
                   [[float(table[l.name][k]) for k in l.kernels] for l in layers],
                   [list(l.layouts) for l in layers], dict(convert or {}))


def optimum(p: Problem) -> tuple[list[int], float]:
    """Exact optimum by dynamic programming over the chain (state: the layout left behind)."""
    best = {DEFAULT_LAYOUT: (0.0, [])}
    for i in range(len(p.names)):
        nxt: dict[str, tuple[float, list[int]]] = {}
        for a, (t, lay) in enumerate(zip(p.times[i], p.layouts[i])):
            for prev, (c, plan) in best.items():
                c2 = c + t + p.conversion(i, prev, lay)
                if lay not in nxt or c2 < nxt[lay][0]:
                    nxt[lay] = (c2, plan + [a])
        best = nxt
    n = len(p.names)
    final = min(((c + p.conversion(n, lay, DEFAULT_LAYOUT), plan) for lay, (c, plan) in best.items()),
                key=lambda x: x[0])
    return final[1], final[0]


def random_search(p: Problem, episodes: int, seed: int = 0) -> tuple[list[int], float, list[float]]:
    """Uniformly random plans, same budget: (best plan, its cost, cost of every episode)."""
    rng = np.random.default_rng(seed)
    best, best_cost, history = None, np.inf, []
    for _ in range(episodes):
        plan = [int(rng.integers(len(c))) for c in p.choices]
        c = p.cost(plan)
        history.append(c)
        if c < best_cost:
            best, best_cost = plan, c
    return best, best_cost, history


@dataclass
class QResult:
    plan: list[int]
    cost: float
    history: list[float]       # network time of each episode's walk
    epsilons: list[float]
    explore_episodes: int


def epsilon_schedule(episodes: int, explore: float, eps_min: float) -> list[float]:
    """epsilon = 1 for the exploration phase, then a linear decay to eps_min."""
    n_explore = int(round(episodes * explore))
    rest = episodes - n_explore
    decay = [1.0 - (1.0 - eps_min) * (k + 1) / rest for k in range(rest)] if rest else []
    return [1.0] * n_explore + decay


def q_learning(p: Problem, episodes: int = 2000, seed: int = 0, lr: float = 0.5, discount: float = 1.0,
               explore: float = 0.3, eps_min: float = 0.02, replay: int = 8, progress=None) -> QResult:
    """Tabular Q-learning (QS-DNN). Q[i][layout, action] estimates minus the time from layer i to
    the end. After each episode one of the `replay` best episodes so far is replayed. The plan
    returned is the better of the best episode seen and the final greedy walk."""
    rng = np.random.default_rng(seed)
    n = len(p.names)
    vocab = sorted({DEFAULT_LAYOUT} | {lay for ls in p.layouts for lay in ls})
    lid = {lay: j for j, lay in enumerate(vocab)}
    q = [np.zeros((len(vocab), len(c))) for c in p.choices]
    act_layout = [[lid[lay] for lay in ls] for ls in p.layouts]
    rewards = [[[-(p.times[i][a] + p.conversion(i, src, p.layouts[i][a])) for a in range(len(p.choices[i]))]
                for src in vocab] for i in range(n)]
    final_conv = [-p.conversion(n, src, DEFAULT_LAYOUT) for src in vocab]

    def update(i: int, s: int, a: int) -> int:
        s2 = act_layout[i][a]
        future = discount * (q[i + 1][s2].max() if i + 1 < n else final_conv[s2])
        q[i][s, a] += lr * (rewards[i][s][a] + future - q[i][s, a])
        return s2

    def greedy(i: int, s: int) -> int:
        row = q[i][s]
        ties = np.flatnonzero(row == row.max())
        return int(ties[0]) if len(ties) == 1 else int(rng.choice(ties))

    eps = epsilon_schedule(episodes, explore, eps_min)
    best_plan, best_cost, history, memory = None, np.inf, [], []
    for e in range(episodes):
        s, plan = lid[DEFAULT_LAYOUT], []
        coin, pick = rng.random(n), rng.random(n)
        for i in range(n):
            a = int(pick[i] * len(p.choices[i])) if coin[i] < eps[e] else greedy(i, s)
            plan.append(a)
            s = update(i, s, a)
        c = p.cost(plan)
        history.append(c)
        if c < best_cost:
            best_plan, best_cost = plan, c
        memory = sorted(memory + [(c, e, plan)])[:replay] if replay else []
        if memory:
            _, _, again = memory[int(rng.integers(len(memory)))]
            s = lid[DEFAULT_LAYOUT]
            for i, a in enumerate(again):
                s = update(i, s, a)
        if progress is not None:
            progress(e)
    s, walk = lid[DEFAULT_LAYOUT], []
    for i in range(n):
        a = int(np.argmax(q[i][s]))
        walk.append(a)
        s = act_layout[i][a]
    if best_plan is None or p.cost(walk) < best_cost:
        best_plan, best_cost = walk, p.cost(walk)
    return QResult(best_plan, best_cost, history, eps, int(round(episodes * explore)))


def single_library(layers, table: dict) -> dict[str, dict[str, str]]:
    """{library: {node: kernel}}: every layer on that library's fastest measured kernel for it,
    the default kernel where the library has none."""
    libs = sorted({lib for l in layers for lib in l.libraries})
    out = {}
    for lib in libs:
        plan = {}
        for l in layers:
            own = [k for k, kl in zip(l.kernels, l.libraries) if kl == lib]
            plan[l.name] = min(own, key=lambda k: table[l.name][k]) if own else l.default
        out[lib] = plan
    return out


def default_plan(layers) -> dict[str, str]:
    return {l.name: l.default for l in layers}
