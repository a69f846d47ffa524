"""Run a workflow: steps in dependency order, cached by content hashes, written atomically.

Work folder layout::

    <workdir>/<step>/          the step's artifact (see lne.pipeline.artifact)
    <workdir>/.tmp/            artifacts being written (cleared at the start of every run)
    <workdir>/.scratch/<step>-<key>/   a running step's scratch space (training checkpoints);
                               kept after a crash so the next run with the same key resumes
    <workdir>/.lock            one run at a time per work folder

A step's cache key is sha256 over its tool name and version, its parameters (those that
change results), the content hashes of its input artifacts, and a fingerprint of any external
path it reads. A step whose artifact carries the same key is skipped. Because the key uses
the *content* hash of inputs, re-running a step that produces identical output leaves the steps
after it cached.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import lne
from lne.errors import LNEError

from .artifact import DATA, LOG, METADATA, METRICS, Artifact, fingerprint_path, hash_tree, publish, write_json
from .tool import Context
from .workflow import Step, Workflow


@dataclass
class StepState:
    name: str
    tool: str
    status: str                 # cached | stale | missing | waiting | ran
    path: Path
    key: str | None = None
    resumable: bool = False
    duration_s: float | None = None
    synthetic: bool = False


def _resolve_params(step: Step) -> dict:
    out = dict(step.params)
    for k, p in step.tool.params.items():
        if p.kind == "path" and out.get(k) is not None:
            out[k] = str(Path(out[k]).expanduser().resolve())
    return out


def step_key(step: Step, params: dict, input_hashes: dict[str, str]) -> str:
    keyed = {k: v for k, v in params.items() if step.tool.params[k].key}
    paths = {k: fingerprint_path(Path(v)) for k, v in keyed.items()
             if step.tool.params[k].kind == "path" and v is not None}
    blob = json.dumps({"tool": step.tool.name, "version": step.tool.version, "format": step.tool.output,
                       "params": keyed, "inputs": input_hashes, "paths": paths}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Executor:
    def __init__(self, workflow: Workflow, workdir, quiet: bool = False):
        self.wf = workflow
        self.workdir = Path(workdir)
        self.quiet = quiet

    def _say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def _needed(self, until: str | None) -> list[str]:
        if until is None:
            return list(self.wf.order)
        if until not in self.wf.steps:
            raise LNEError(f"--until {until!r}: {self.wf.path} has no such step; steps are: "
                           f"{', '.join(self.wf.order)}")
        need, stack = set(), [until]
        while stack:
            n = stack.pop()
            if n not in need:
                need.add(n)
                stack.extend(self.wf.steps[n].inputs.values())
        return [n for n in self.wf.order if n in need]

    def _scratch(self, name: str, key: str) -> Path:
        return self.workdir / ".scratch" / f"{name}-{key[:16]}"

    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LNEError(f"{self.workdir}: another pipeline run is using this work folder") from None
            yield

    def status(self) -> list[StepState]:
        """What `run` would do, without running anything."""
        hashes: dict[str, str | None] = {}
        out = []
        for name in self.wf.order:
            step = self.wf.steps[name]
            path = self.workdir / name
            art = Artifact.find(path)
            ups = {slot: hashes.get(src) for slot, src in step.inputs.items()}
            if any(h is None for h in ups.values()):
                hashes[name] = None
                out.append(StepState(name, step.tool.name, "waiting", path))
                continue
            key = step_key(step, _resolve_params(step), ups)
            scratch = self._scratch(name, key)
            resumable = scratch.is_dir() and any(scratch.iterdir())
            if art is not None and art.metadata.get("key") == key:
                hashes[name] = art.hash
                out.append(StepState(name, step.tool.name, "cached", path, key, False,
                                     art.metadata.get("duration_s"), art.synthetic))
            else:
                hashes[name] = None
                out.append(StepState(name, step.tool.name, "stale" if art else "missing", path, key, resumable))
        return out

    def run(self, until: str | None = None, force: tuple[str, ...] = ()) -> list[StepState]:
        for f in force:
            if f not in self.wf.steps:
                raise LNEError(f"--force {f!r}: no such step; steps are: {', '.join(self.wf.order)}")
        names = self._needed(until)
        with self._locked():
            for d in (".tmp", ".trash"):
                shutil.rmtree(self.workdir / d, ignore_errors=True)
            arts: dict[str, Artifact] = {}
            states = []
            for i, name in enumerate(names, 1):
                step = self.wf.steps[name]
                params = _resolve_params(step)
                inputs = {slot: arts[src] for slot, src in step.inputs.items()}
                key = step_key(step, params, {slot: a.hash for slot, a in inputs.items()})
                final = self.workdir / name
                head = f"[{i}/{len(names)}] {name} ({step.tool.name} v{step.tool.version})"
                art = Artifact.find(final)
                if art is not None and art.metadata.get("key") == key and name not in force:
                    self._say(f"{head}: cached")
                    arts[name] = art
                    states.append(StepState(name, step.tool.name, "cached", final, key,
                                            duration_s=art.metadata.get("duration_s"), synthetic=art.synthetic))
                    continue
                self._say(f"{head}: running")
                t0 = time.perf_counter()
                arts[name] = self._run_step(step, params, inputs, key)
                dt = time.perf_counter() - t0
                self._say(f"{head}: done in {dt:.1f} s -> {final}")
                states.append(StepState(name, step.tool.name, "ran", final, key, duration_s=dt,
                                        synthetic=arts[name].synthetic))
            return states

    def _run_step(self, step: Step, params: dict, inputs: dict[str, Artifact], key: str) -> Artifact:
        name = step.name
        tmp = self.workdir / ".tmp" / f"{name}-{uuid.uuid4().hex[:8]}"
        (tmp / DATA).mkdir(parents=True)
        scratch = self._scratch(name, key)
        mine = re.compile(re.escape(name) + r"-[0-9a-f]{16}")
        for old in (self.workdir / ".scratch").glob(f"{name}-*"):
            if old != scratch and mine.fullmatch(old.name):
                shutil.rmtree(old, ignore_errors=True)   # a crashed run with other parameters
        scratch.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            with open(tmp / LOG, "w") as log:
                ctx = Context(name, step.tool(), params, inputs, tmp / DATA, scratch, log, quiet=self.quiet)
                ctx.tool.run(ctx)
            content = hash_tree(tmp / DATA)
            meta = {
                "format": step.tool.output,
                "tool": step.tool.name,
                "tool_version": step.tool.version,
                "step": name,
                "workflow": self.wf.name,
                "params": params,
                "inputs": {slot: {"step": step.inputs[slot], "format": a.format, "hash": a.hash}
                           for slot, a in inputs.items()},
                "key": key,
                "hash": content,
                "synthetic": ctx.synthetic,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "duration_s": round(time.perf_counter() - t0, 3),
                "lne_version": lne.__version__,
            }
            write_json(tmp / METRICS, ctx.metrics)
            write_json(tmp / METADATA, meta)     # last: its presence marks a complete artifact
            publish(tmp, self.workdir / name, self.workdir / ".trash")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(scratch, ignore_errors=True)
        return Artifact.open(self.workdir / name)


def default_workdir(wf: Workflow) -> Path:
    return Path(os.getcwd()) / "runs" / wf.name
