"""`tune()`: candidates -> measured table -> QS-DNN search -> end-to-end check -> plan.json + plots."""
from __future__ import annotations

import time
from pathlib import Path

from ..errors import LNEError
from . import search
from .candidates import available_plugins, check_model_file, fingerprint, model_layers
from .measure import Cache, Runner, cache_dir, measure_plans, measure_table
from .plan import plan_text
from .progress import Counter

LIBRARY_MARGIN = 1.25


def plot_paths(output) -> tuple[Path, Path]:
    out = Path(output)
    stem = out.with_suffix("") if out.suffix == ".json" else out
    return Path(f"{stem}.convergence.png"), Path(f"{stem}.layers.png")


def output_specs(output, plots: bool, force: bool = False) -> list[tuple]:
    """What tune writes (for lne.outputs.output_files): the plan, and with plots its two PNGs;
    each replaced only if LNE wrote it (or with force)."""
    from ..outputs import png_is_ours
    from .plan import is_plan

    specs = [(Path(output), "a plan", force, is_plan, "plan")]
    if plots:
        specs += [(png, "a tuning chart", force, png_is_ours, "chart") for png in plot_paths(output)]
    return specs


def check_outputs(output, inputs, plots: bool, force: bool = False) -> None:
    """Before any work: no output is one of the ``inputs`` (not even with force); each may be written."""
    from ..limits import plain
    from ..outputs import check_file, same_file

    for path, kind, f, is_ours, what in output_specs(output, plots, force):
        for src in inputs:
            if src and same_file(path, src):
                raise LNEError(f"{what} {plain(str(path), 200)}: that is the input {plain(str(src), 200)}; "
                               "write the plan to another file")
        check_file(path, kind, f, is_ours, what)


def tune(model, output, target: str = "host", *, plugins=None, input_shapes=None, weights=None,
         episodes: int = 2000, seed: int = 0, lr: float = 0.5, discount: float = 1.0, explore: float = 0.3,
         replay: int = 8, runs: int = 10, warmup: int = 2, rounds: int = 3, min_time: float = 0.3,
         remote=None, ssh_options=(), cache=None, fresh: bool = False, end_to_end: bool = True,
         all_libraries: bool = False, time_random: bool = False, plots: bool = True, progress: bool = True,
         force: bool = False, log=lambda msg: None) -> dict:
    """Tune `model` for `target` and write the plan to `output` (plus two PNGs unless plots=False).
    End to end, in the same run: the plan, the default heuristic, the single-library
    configurations predicted within LIBRARY_MARGIN of the best one (all of them with
    all_libraries) and, with time_random, random search's plan. Returns the summary (also what
    `lne tune --json` prints)."""
    t_start = time.perf_counter()
    model = check_model_file(model)
    if episodes < 1 or runs < 1 or warmup < 0 or rounds < 1:
        raise LNEError("--episodes, --runs and --rounds must be >= 1, --warmup >= 0")
    if not 0 < lr <= 1 or not 0 < discount <= 1 or not 0 <= explore <= 1:
        raise LNEError("--lr and --discount must be in (0, 1], --explore in [0, 1]")
    check_outputs(output, (model, weights), plots, force)  # before any measurement
    if plots:
        from .plots import require_matplotlib
        require_matplotlib()
    plugins = available_plugins(target) if plugins is None else tuple(plugins)
    log(f"tuning {model} for {target}{' on ' + remote if remote else ''}"
        f" (plugins: {', '.join(plugins) or 'none'}) ...")
    layers = model_layers(model, target, plugins, input_shapes, weights)
    runner = Runner(model, target, plugins, input_shapes, weights, remote, ssh_options, min_seconds=min_time)
    store = Cache(cache_dir(cache), f"{target}@{remote}" if remote else target, reuse=not fresh)
    params = {"episodes": episodes, "seed": seed, "lr": lr, "discount": discount, "explore": explore,
              "replay": replay, "runs": runs, "warmup": warmup, "min_time": min_time}
    try:
        table, counts = measure_table(runner, layers, store, runs, warmup, rounds, progress)
        log(f"{sum(len(l.kernels) for l in layers)} candidates on {len(layers)} layers: {counts['measured']} "
            f"measured in {counts['bundles']} bundles ({counts['seconds']:.1f} s), {counts['cached']} from the cache")
        r = run_search(layers, table, episodes, seed, lr, discount, explore, replay, progress)
        near = LIBRARY_MARGIN * r["best_lib"]  # libraries predicted far slower need no build to lose
        timed = {k: v for k, v in r["configs"].items() if (k != "random" or time_random)
                 and (all_libraries or not k.startswith("library:") or r["predicted"][k] <= near)}
        measured, least = measure_plans(runner, timed, runs, warmup, rounds, progress) if end_to_end else ({}, {})
    finally:
        runner.close()
    predicted, plan = r["predicted"], r["configs"]["plan"]
    libs = [k for k in predicted if k.startswith("library:")]
    best_lib = min((k for k in libs if k in measured), key=measured.get, default=min(libs, key=predicted.get))
    by_name = {l.name: l for l in layers}
    doc = {
        "model": str(model.resolve()), "fingerprint": fingerprint(model), "target": target, "remote": remote,
        "plugins": sorted({by_name[n].libraries[by_name[n].kernels.index(k)] for n, k in plan.items()} & set(plugins)),
        "input_shapes": {k: list(v) for k, v in (input_shapes or {}).items()},
        "nodes": [{"name": l.name, "op": l.op, "kernel": plan[l.name],
                   "library": l.libraries[l.kernels.index(plan[l.name])],
                   "predicted_ms": table[l.name][plan[l.name]]} for l in layers],
        "predicted_ms": predicted["plan"], "measured_ms": measured.get("plan"),
        "baselines": {"predicted_ms": predicted, "measured_ms": measured, "measured_min_ms": least,
                      "best_library": best_lib},
        "search": {**params, "seconds": round(r["seconds"], 3), "reached_optimum": r["reached_optimum"]},
    }
    from ..outputs import mark_png, output_files

    specs = output_specs(output, plots, force)
    with output_files(specs) as tmps:  # the plan and its charts: all or nothing
        if plots:
            from . import plots as figs
            figs.convergence(tmps[1], r["q"].history, r["q"].explore_episodes, r["random_history"],
                             predicted["optimum"], f"{model.stem} on {target}: QS-DNN search")
            figs.per_layer(tmps[2], layers, table, {k.removeprefix("library:"): v for k, v in r["configs"].items()
                                                    if k == "plan" or k.startswith("library:")},
                           f"{model.stem} on {target}: per-layer time")
            mark_png(tmps[1], "tuning chart")
            mark_png(tmps[2], "tuning chart")
        tmps[0].write_text(plan_text(doc))
    files = [str(spec[0]) for spec in specs[1:]]
    return {"plan": str(output), "plots": files, "model": str(model), "target": target, "layers": len(layers),
            "candidates": sum(len(l.kernels) for l in layers), "measurement": counts,
            "predicted_ms": predicted, "measured_ms": measured, "measured_min_ms": least, "best_library": best_lib,
            "reached_optimum": r["reached_optimum"], "search_seconds": r["seconds"],
            "seconds": time.perf_counter() - t_start}


def run_search(layers, table, episodes, seed, lr, discount, explore, replay, progress) -> dict:
    """Q-learning, the DP optimum, random search and the baselines on one measured table."""
    t0 = time.perf_counter()
    problem = search.from_table(layers, table)
    bar = Counter(episodes, "searching", progress)
    q = search.q_learning(problem, episodes, seed, lr, discount, explore, replay=replay, progress=bar)
    bar.close()
    _, best_cost = search.optimum(problem)
    rnd_idx, _, rnd_hist = search.random_search(problem, episodes, seed)
    configs = {"plan": problem.kernels(q.plan), "default": search.default_plan(layers),
               "random": problem.kernels(rnd_idx),
               **{f"library:{lib}": p for lib, p in search.single_library(layers, table).items()}}
    predicted = {label: problem.cost(problem.index(p)) for label, p in configs.items()}
    predicted["optimum"] = best_cost
    return {"q": q, "configs": configs, "predicted": predicted, "random_history": rnd_hist,
            "best_lib": min(v for k, v in predicted.items() if k.startswith("library:")),
            "reached_optimum": abs(q.cost - best_cost) <= 1e-9 * max(1.0, best_cost),
            "seconds": time.perf_counter() - t0}


def describe(s: dict) -> str:
    p, m, least = s["predicted_ms"], s["measured_ms"], s["measured_min_ms"]
    lines = [f"wrote {s['plan']}" + (f" (+ {', '.join(s['plots'])})" if s["plots"] else ""),
             f"  {s['layers']} layers, {s['candidates']} candidates; search {s['search_seconds']:.1f} s, "
             f"total {s['seconds']:.1f} s",
             f"  {'configuration':22s} {'predicted ms':>13s} {'measured median':>16s} {'min':>9s}"]
    for label in sorted(p, key=lambda k: (k != "plan", k != "optimum", p[k])):
        meas = f"{m[label]:16.3f} {least[label]:9.3f}" if label in m else f"{'-':>16s} {'-':>9s}"
        lines.append(f"  {label:22s} {p[label]:13.3f} {meas}")
    if "plan" in m and s["best_library"] in m:
        lines.append(f"  plan / best single library ({s['best_library']}): {m['plan'] / m[s['best_library']]:.3f}")
    return "\n".join(lines)
