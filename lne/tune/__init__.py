"""`lne tune`: per-layer primitive search on the target (QS-DNN).

candidates (layers and the kernels that apply to each) -> measure (each candidate timed on its
layer's shapes, cached) -> search (tabular Q-learning on the table; DP optimum, random search
and single-library baselines) -> plan.json + plots; `lne compile --plan` reads the plan back.
Submodules import lazily, so `lne --help` stays fast."""
from __future__ import annotations


def __getattr__(name):
    if name == "tune":
        from .tuner import tune
        return tune
    if name in ("plan_for_model", "read_plan"):
        from . import plan
        return getattr(plan, name)
    raise AttributeError(name)
