"""`lne pipeline ...`: run workflows, show their status, list tools, show artifacts.

Only click is imported here; the executor, yaml and the tools load when a command runs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from lne.errors import LNEError
from lne.limits import plain, show


def _overrides(values) -> dict:
    from .workflow import parse_value

    out = {}
    for v in values:
        name, sep, text = v.partition("=")
        if not sep or not name:
            raise LNEError(f"-p {show(v)}: expected NAME=VALUE, e.g. -p iterations=2000")
        out[name] = parse_value(text)
    return out


def _load(workflow, params, workdir, force_workdir: bool = False):
    from .executor import Executor, default_workdir
    from .workflow import load

    wf = load(workflow, _overrides(params))
    return wf, Executor(wf, Path(workdir) if workdir else default_workdir(wf), force_workdir=force_workdir)


_workdir_opt = click.option("-w", "--workdir", type=click.Path(file_okay=False),
                            help="work folder for the artifacts (default: ./runs/<workflow name>)")
_param_opt = click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                          help="set a workflow parameter (value parsed as YAML: 500, [yes, no], true)")


@click.group("pipeline")
def pipeline():
    """Run declarative workflows of tools and artifacts (data -> model -> deployed library).

    \b
    Example:
      lne pipeline run workflows/kws-synthetic.yml -w runs/kws
      lne pipeline status workflows/kws-synthetic.yml -w runs/kws
    """


@pipeline.command()
@click.argument("workflow", type=click.Path(dir_okay=False))
@_workdir_opt
@_param_opt
@click.option("--until", metavar="STEP", help="run only STEP and the steps it needs")
@click.option("--force", multiple=True, metavar="STEP", help="run STEP even if it is cached")
@click.option("--force-workdir", is_flag=True,
              help="use the work folder even though it holds files LNE did not write there")
@click.option("-q", "--quiet", is_flag=True, help="no progress or tool log on stderr")
@click.option("--json", "as_json", is_flag=True, help="print the step summary as JSON")
def run(workflow, workdir, params, until, force, force_workdir, quiet, as_json):
    """Run WORKFLOW: each step in dependency order, skipping cached steps.

    \b
    Example:
      lne pipeline run workflows/kws.yml -p source=~/speech_commands_v0.02.tar.gz
    """
    wf, ex = _load(workflow, params, workdir, force_workdir)
    ex.quiet = quiet
    states = ex.run(until=until, force=tuple(force))
    if as_json:
        click.echo(json.dumps([_state_json(s) for s in states], indent=1))
        return
    for s in states:
        tool = wf.steps[s.name].tool
        extra = _summary(tool, s.path)
        dur = f"{s.duration_s:7.1f} s" if s.duration_s is not None else "        "
        click.echo(f"{s.name:14s} {s.status:7s} {dur}  {plain(str(s.path), 200)}"
                   f"{' [synthetic]' if s.synthetic else ''}{'  ' + extra if extra else ''}")


def _summary(tool, path: Path) -> str:
    """The tool's one-line headline of an artifact's metrics; "" if the metrics cannot be read or
    do not have the shape the tool expects (a damaged metrics.json must not fail a finished run)."""
    from .artifact import read_metrics

    try:
        return plain(tool.summary(read_metrics(path)), 300)
    except (LNEError, LookupError, TypeError, ValueError, AttributeError, ArithmeticError):
        return ""


def _state_json(s) -> dict:
    return {"step": s.name, "tool": s.tool, "status": s.status, "path": str(s.path), "key": s.key,
            "resumable": s.resumable, "duration_s": s.duration_s, "synthetic": s.synthetic}


@pipeline.command()
@click.argument("workflow", type=click.Path(dir_okay=False))
@_workdir_opt
@_param_opt
@click.option("--json", "as_json", is_flag=True)
def status(workflow, workdir, params, as_json):
    """Show which steps of WORKFLOW are cached, stale, missing or waiting for others.

    \b
    Example:
      lne pipeline status workflows/kws-synthetic.yml -p iterations=5000
    """
    _, ex = _load(workflow, params, workdir)
    states = ex.status()
    if as_json:
        click.echo(json.dumps([_state_json(s) for s in states], indent=1))
        return
    for s in states:
        note = " (resumes from checkpoint)" if s.resumable else ""
        click.echo(f"{s.name:14s} {s.tool:24s} {s.status}{note}{' [synthetic]' if s.synthetic else ''}")


@pipeline.command("list-tools")
@click.option("--json", "as_json", is_flag=True)
def list_tools(as_json):
    """List the tools a workflow can use, with inputs, output format and parameters."""
    from .tool import all_tools

    tools = all_tools()
    if as_json:
        click.echo(json.dumps({n: {"version": t.version, "description": t.description, "output": t.output,
                                   "inputs": {k: {"formats": list(i.accepts), "optional": i.optional}
                                              for k, i in t.inputs.items()},
                                   "params": {k: {"kind": p.kind, "default": None if p.required else p.default,
                                                  "required": p.required, "help": p.help}
                                              for k, p in t.params.items()}}
                               for n, t in tools.items()}, indent=1))
        return
    for n, t in tools.items():
        click.echo(f"{n} v{t.version}: {t.description}")
        for k, i in t.inputs.items():
            click.echo(f"    input  {k}: {' | '.join(i.accepts)}{' (optional)' if i.optional else ''}")
        click.echo(f"    output {t.output}")
        for k, p in t.params.items():
            click.echo(f"    param  {k}: {p.describe()}")


@pipeline.command("show-artifact")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def show_artifact(path, as_json):
    """Show an artifact's metadata, metrics and files."""
    from .artifact import Artifact

    a = Artifact.open(path)
    if as_json:
        click.echo(json.dumps({"metadata": a.metadata, "metrics": a.metrics}, indent=1))
        return
    m = a.metadata
    click.echo(f"{plain(str(a.path), 200)}: {plain(m['format'])}{' [SYNTHETIC]' if a.synthetic else ''}")
    click.echo(f"  made by {plain(m['tool'])} v{plain(str(m.get('tool_version', '?')))} (step {show(m['step'])}) "
               f"on {plain(str(m.get('created') or '?'))} in {m.get('duration_s') or 0:.1f} s")
    click.echo(f"  content hash {plain(m['hash'][:16])}, cache key {plain((m.get('key') or '?')[:16])}")
    for slot, i in (m.get("inputs") or {}).items():
        click.echo(f"  input {plain(slot)}: step {show(i['step'])} ({plain(i['format'])}, {plain(i['hash'][:16])})")
    click.echo("  params: " + plain(json.dumps(m.get("params") or {}), 2000))
    metrics = a.metrics
    if metrics:
        lines = json.dumps(metrics, indent=1).splitlines()
        click.echo("  metrics: " + "\n  ".join(plain(line, 500) for line in lines[:2000])
                   + (f"\n  ... {len(lines) - 2000} more lines" if len(lines) > 2000 else ""))
    data = a.data
    files = [] if data.is_symlink() or not data.is_dir() else \
        sorted(p for p in data.rglob("*") if p.is_file() and not p.is_symlink())
    sizes = {p: p.stat().st_size for p in files}
    click.echo(f"  data: {len(files)} files, {sum(sizes.values()) / 1e6:.2f} MB")
    for p in files[:20]:
        click.echo(f"    {plain(str(p.relative_to(data)), 200)} ({sizes[p]} B)")
    if len(files) > 20:
        click.echo(f"    ... {len(files) - 20} more")
