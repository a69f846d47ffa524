"""The QS-DNN search on SYNTHETIC measurement tables: Q-learning against the exact optimum
(dynamic programming, itself checked by brute force), determinism, baselines."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lne.tune import search
from lne.tune.candidates import Layer


def synthetic(seed: int, n_layers: int, max_choices: int = 4, blocked: bool = True) -> search.Problem:
    """A synthetic table: random kernel times (log-uniform, 0.01..10 ms), some kernels in a
    second layout with random conversion costs between neighbours."""
    rng = np.random.default_rng(seed)
    choices, times, layouts, convert = [], [], [], {}
    for i in range(n_layers):
        k = int(rng.integers(1, max_choices + 1))
        choices.append([f"k{i}_{j}" for j in range(k)])
        times.append(list(10 ** rng.uniform(-2, 1, k)))
        layouts.append(["nchw8c" if blocked and rng.random() < 0.4 else "nchw" for _ in range(k)])
    for i in range(n_layers + 1):
        for src, dst in (("nchw", "nchw8c"), ("nchw8c", "nchw")):
            convert[(i, src, dst)] = float(10 ** rng.uniform(-2, 0.5))
    return search.Problem([f"n{i}" for i in range(n_layers)], choices, times, layouts, convert)


def brute_force(p: search.Problem) -> float:
    return min(p.cost(list(plan)) for plan in itertools.product(*(range(len(c)) for c in p.choices)))


@pytest.mark.parametrize("seed", range(4))
def test_dynamic_programming_is_the_brute_force_optimum(seed):
    p = synthetic(seed, 6, 3)
    plan, cost = search.optimum(p)
    assert cost == pytest.approx(brute_force(p), rel=1e-12)
    assert p.cost(plan) == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("seed,n_layers", [(0, 8), (1, 15), (2, 30), (3, 60)])
def test_q_learning_reaches_the_optimum_on_synthetic_tables(seed, n_layers):
    p = synthetic(seed, n_layers)
    _, best = search.optimum(p)
    r = search.q_learning(p, episodes=1500, seed=seed)
    assert r.cost == pytest.approx(best, rel=1e-9)
    assert p.cost(r.plan) == pytest.approx(r.cost, rel=1e-12)
    assert len(r.history) == 1500 and r.explore_episodes == 450
    # it learned: the exploitation phase's episodes are far better than the exploration's
    assert np.median(r.history[-100:]) < np.median(r.history[:450])


def test_same_seed_and_table_give_the_same_plan():
    p = synthetic(7, 25)
    a = search.q_learning(p, episodes=400, seed=3)
    b = search.q_learning(p, episodes=400, seed=3)
    assert a.plan == b.plan and a.history == b.history
    assert search.random_search(p, 200, seed=3) == search.random_search(p, 200, seed=3)


def test_random_search_with_the_same_budget_is_no_better_than_q_learning():
    p = synthetic(11, 40)
    q = search.q_learning(p, episodes=1000, seed=0)
    _, rnd_cost, hist = search.random_search(p, 1000, seed=0)
    assert len(hist) == 1000 and rnd_cost == min(hist)
    assert q.cost <= rnd_cost


def test_epsilon_schedule_explores_then_decays():
    eps = search.epsilon_schedule(100, 0.3, 0.05)
    assert eps[:30] == [1.0] * 30
    assert all(a >= b for a, b in zip(eps[30:], eps[31:]))
    assert eps[-1] == pytest.approx(0.05) and eps[30] < 1.0


def test_single_library_configurations_fall_back_to_the_default():
    layers = [Layer("conv", "Conv", "s0", ("d",) * 4, ("c_ref", "c_gemm", "c_wino43", "c_wino23"),
                    ("ref", "lne", "winograd", "winograd"), ("nchw",) * 4, "c_gemm"),
              Layer("pool", "MaxPool", "s1", ("d",) * 2, ("p_ref", "p_fast"), ("ref", "lne"), ("nchw",) * 2, "p_fast")]
    table = {"conv": {"c_ref": 9.0, "c_gemm": 2.0, "c_wino43": 1.5, "c_wino23": 1.0},
             "pool": {"p_ref": 0.3, "p_fast": 0.1}}
    libs = search.single_library(layers, table)
    assert libs == {"lne": {"conv": "c_gemm", "pool": "p_fast"},
                    "ref": {"conv": "c_ref", "pool": "p_ref"},
                    "winograd": {"conv": "c_wino23", "pool": "p_fast"}}  # fastest own kernel; default elsewhere
    p = search.from_table(layers, table)
    assert p.cost(p.index(libs["winograd"])) == pytest.approx(1.1)
    assert search.optimum(p)[1] == pytest.approx(1.1)
