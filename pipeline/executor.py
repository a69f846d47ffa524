"""Run a workflow: steps in dependency order, cached by content hashes, written atomically.

Work folder layout::

    <workdir>/<step>/          the step's artifact (see lne.pipeline.artifact)
    <workdir>/.tmp/            artifacts being written (cleared at the start of every run)
    <workdir>/.scratch/<step>-<key>/   a running step's scratch space (training checkpoints);
                               kept after a crash so the next run with the same key resumes
    <workdir>/.lock            one run at a time per work folder
    <workdir>/.lne-output      LNE's marker: this folder is a pipeline work folder

The work folder is LNE's: a run refuses an existing folder that holds other files and carries
no marker (``force_workdir`` / ``--force-workdir`` overrides; a work folder from before the
marker, holding only artifacts and the folders above, is recognized and marked). Nothing is
removed that the executor did not create: at the start of a run only ``.tmp`` / ``.trash``
entries named as the executor names them (``<step>-<8 hex digits>``) are cleared, a step's
folder is replaced only if it holds nothing but artifact parts, and no symbolic link in the
work folder is followed (a step folder, ``.tmp``, ``.trash``, ``.scratch`` or ``.lock`` that is
a link is an error).

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
from lne import outputs
from lne.errors import LNEError
from lne.limits import plain, show

from .artifact import (DATA, LOG, METADATA, METRICS, Artifact, fingerprint_path, hash_tree, looks_like_artifact,
                       publish, write_json)
from .params import brief
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


RUNS_KIND = "pipeline-runs"         # the marker kind of a work folder
_OWN = {".lock", ".tmp", ".trash", ".scratch", outputs.MARKER}
_TEMP = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{8}")     # .tmp/<step>-XXXXXXXX, .trash/<step>-XXXXXXXX


def _p(path) -> str:
    return plain(str(path), 200)


def _resolve_params(step: Step) -> dict:
    out = dict(step.params)
    for k, p in step.tool.params.items():
        if p.kind == "path" and out.get(k) is not None:
            try:
                out[k] = str(Path(out[k]).expanduser().resolve())
            except (OSError, RuntimeError, ValueError) as e:
                raise LNEError(f"step {show(step.name)}: parameter {show(k)}: cannot resolve the path "
                               f"{brief(out[k])}: {plain(str(e), 200)}") from None
    return out


def is_work_folder(path: Path) -> bool:
    """A work folder written by an LNE from before the marker: nothing but artifact folders and
    the executor's own entries."""
    try:
        for e in Path(path).iterdir():
            if e.name in _OWN:
                continue
            if e.name.startswith(".") or not looks_like_artifact(e):
                return False
    except OSError:
        return False
    return True


def step_key(step: Step, params: dict, input_hashes: dict[str, str]) -> str:
    keyed = {k: v for k, v in params.items() if step.tool.params[k].key}
    paths = {k: fingerprint_path(Path(v)) for k, v in keyed.items()
             if step.tool.params[k].kind == "path" and v is not None}
    blob = json.dumps({"tool": step.tool.name, "version": step.tool.version, "format": step.tool.output,
                       "params": keyed, "inputs": input_hashes, "paths": paths}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Executor:
    def __init__(self, workflow: Workflow, workdir, quiet: bool = False, force_workdir: bool = False):
        self.wf = workflow
        self.workdir = Path(workdir)
        self.quiet = quiet
        self.force_workdir = force_workdir

    def step_path(self, name: str) -> Path:
        """``<workdir>/<name>``, confined to the work folder (no '..', no link out)."""
        return outputs.confine(self.workdir, name, "step")

    def _prepare(self) -> None:
        """Check (before any work) that the work folder may be used, make and mark it."""
        wd = self.workdir
        # the common checks (not the current folder or one above, not a link, a writable parent ...)
        outputs.check_folder(wd, RUNS_KIND, force=True, what="work folder")
        if wd.is_dir() and not self.force_workdir and any(wd.iterdir()):
            found = outputs.marker_kind(wd)
            if found != RUNS_KIND and not (found is None and is_work_folder(wd)):
                other = f"it holds LNE's {found} output" if found else "it holds files LNE did not write"
                raise LNEError(f"work folder {_p(wd)}: {other}; a pipeline run uses only its own work folders "
                               "(choose another with -w, empty it, or pass --force-workdir)")
        try:
            wd.mkdir(parents=True, exist_ok=True)
            outputs.mark(wd, RUNS_KIND)
        except OSError as e:
            raise LNEError(f"work folder {_p(wd)}: cannot create or mark it: {e.strerror or e}") from None
        for d in (".tmp", ".trash", ".scratch"):
            p = wd / d
            if p.is_symlink() or (p.exists() and not p.is_dir()):
                raise LNEError(f"work folder {_p(wd)}: {d} is a symbolic link or not a folder; LNE does not "
                               "write through it (remove it)")

    def _clear_leftovers(self) -> None:
        """Remove what a crashed run left in .tmp and .trash: only entries named as this executor
        names them, never a symbolic link, never anything else."""
        for d in (".tmp", ".trash"):
            folder = self.workdir / d
            if not folder.is_dir():
                continue
            for e in folder.iterdir():
                if _TEMP.fullmatch(e.name) and not e.is_symlink() and e.is_dir():
                    shutil.rmtree(e, ignore_errors=True)

    def _say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def _needed(self, until: str | None) -> list[str]:
        if until is None:
            return list(self.wf.order)
        if until not in self.wf.steps:
            raise LNEError(f"--until {show(until)}: {_p(self.wf.path)} has no such step; steps are: "
                           f"{plain(', '.join(self.wf.order), 300)}")
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

        self._prepare()
        lock = self.workdir / ".lock"
        try:   # never through a link, never truncating what is there
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                         0o644)
        except OSError as e:
            raise LNEError(f"{_p(lock)}: cannot open the work folder's lock file"
                           f"{' (it is a symbolic link)' if lock.is_symlink() else ''}: {e.strerror or e}") from None
        with os.fdopen(fd, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LNEError(f"{_p(self.workdir)}: another pipeline run is using this work folder") from None
            yield

    def status(self) -> list[StepState]:
        """What `run` would do, without running anything."""
        hashes: dict[str, str | None] = {}
        out = []
        for name in self.wf.order:
            step = self.wf.steps[name]
            path = self.step_path(name)
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
                raise LNEError(f"--force {show(f)}: no such step; steps are: {plain(', '.join(self.wf.order), 300)}")
        names = self._needed(until)
        with self._locked():
            for name in names:    # before any work: a step folder that is not ours is never replaced
                p = self.step_path(name)
                if p.is_symlink() or (p.exists() and not looks_like_artifact(p)):
                    raise LNEError(f"{_p(p)}: the folder for step {show(name)} exists and is not a pipeline "
                                   "artifact; refusing to replace it (move it away, or use another work folder)")
            self._clear_leftovers()
            arts: dict[str, Artifact] = {}
            states = []
            for i, name in enumerate(names, 1):
                step = self.wf.steps[name]
                params = _resolve_params(step)
                inputs = {slot: arts[src] for slot, src in step.inputs.items()}
                key = step_key(step, params, {slot: a.hash for slot, a in inputs.items()})
                final = self.step_path(name)
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
            if old != scratch and mine.fullmatch(old.name) and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)   # a crashed run with other parameters
        if scratch.is_symlink():
            raise LNEError(f"{_p(scratch)}: is a symbolic link; LNE does not write through it (remove it)")
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
            publish(tmp, self.step_path(name), self.workdir / ".trash")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(scratch, ignore_errors=True)
        return Artifact.open(self.step_path(name))


def default_workdir(wf: Workflow) -> Path:
    """``./runs/<workflow name>`` (the name is a plain folder name, checked again here)."""
    return outputs.confine(Path(os.getcwd()) / "runs", wf.name, "workflow name")
