"""`lne tune`: the command line of the per-layer primitive search."""
from __future__ import annotations

import json

import click


@click.command("tune")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="host", show_default=True, help="board to tune for (see `lne targets`)")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="plan file to write (JSON; an existing file only if it is a plan; see --force)")
@click.option("--force", is_flag=True, help="replace an existing output that LNE did not write")
@click.option("--episodes", default=2000, show_default=True, help="Q-learning episodes (and random-search budget)")
@click.option("--seed", default=0, show_default=True)
@click.option("--lr", default=0.5, show_default=True, help="Q-learning rate")
@click.option("--discount", default=1.0, show_default=True, help="Q-learning discount")
@click.option("--explore", default=0.3, show_default=True, help="fraction of episodes with epsilon = 1")
@click.option("--replay", default=8, show_default=True, help="best episodes kept for experience replay")
@click.option("--runs", default=10, show_default=True, help="timed runs per measurement (median)")
@click.option("--warmup", default=2, show_default=True)
@click.option("--min-time", default=0.3, show_default=True,
              help="seconds each measurement runs at least (fast networks get more than --runs runs)")
@click.option("--rounds", default=3, show_default=True,
              help="interleaved rounds of the measurements and of the end-to-end check")
@click.option("--plugin", "plugins", multiple=True, metavar="NAME",
              help="acceleration library whose kernels compete (default: every one installed here)")
@click.option("--no-plugins", is_flag=True, help="only LNE's own kernels compete")
@click.option("--remote", metavar="USER@HOST[:PORT]", help="measure on a board over ssh")
@click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE", help="extra `ssh -o` option")
@click.option("--cache", type=click.Path(file_okay=False),
              help="measurement cache folder (default: $LNE_TUNE_CACHE or ~/.cache/lne/tune)")
@click.option("--fresh", is_flag=True, help="measure every candidate again (ignore the cache)")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DxDx..")
@click.option("--weights", type=click.Path(dir_okay=False), help="caffemodel for a Caffe prototxt")
@click.option("--end-to-end/--no-end-to-end", default=True, show_default=True,
              help="time the plan, the default and every single-library configuration end to end")
@click.option("--all-libraries", is_flag=True,
              help="time every single-library configuration end to end (default: those predicted within "
                   "1.25x of the best)")
@click.option("--time-random", is_flag=True, help="also time random search's plan end to end")
@click.option("--plots/--no-plots", default=True, show_default=True, help="write the convergence and per-layer PNGs")
@click.option("--progress/--no-progress", default=True, show_default=True, help="progress bars on stderr")
@click.option("--json", "as_json", is_flag=True, help="print a JSON summary on stdout")
def tune(model, target, output, force, episodes, seed, lr, discount, explore, replay, runs, warmup, min_time, rounds,
         plugins, no_plugins, remote, ssh_options, cache, fresh, input_shapes, weights, end_to_end, all_libraries,
         time_random, plots, progress, as_json):
    """Find the fastest kernel for every layer of MODEL on the target (QS-DNN search).

    Measures every candidate kernel on its layer's shapes (cached), searches the combination
    with Q-learning, checks it end to end beside every single-library configuration and the
    default heuristic, and writes the plan (plus MODEL.convergence.png / .layers.png beside it).

    \b
    Example:
      lne tune model.onnx --target host -o plan.json
      lne compile model.onnx --target host --plan plan.json -o out/ --build
    """
    from ..cli import _log, _shapes
    from .tuner import describe, tune as run_tune

    chosen = () if no_plugins else (plugins or None)
    s = run_tune(model, output, target, plugins=chosen, input_shapes=_shapes(input_shapes), weights=weights,
                 episodes=episodes, seed=seed, lr=lr, discount=discount, explore=explore, replay=replay, runs=runs,
                 warmup=warmup, rounds=rounds, min_time=min_time, remote=remote, ssh_options=ssh_options, cache=cache,
                 fresh=fresh, end_to_end=end_to_end, all_libraries=all_libraries, time_random=time_random,
                 plots=plots, progress=progress, force=force, log=_log)
    click.echo(json.dumps(s, indent=1) if as_json else describe(s))
