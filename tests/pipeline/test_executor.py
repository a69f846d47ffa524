"""Executor: dependency order, caching by content hashes, atomic artifacts, status, lock."""
from __future__ import annotations

import fcntl
import json
import textwrap

import pytest

from lne.errors import LNEError
from lne.pipeline.artifact import Artifact, hash_tree
from lne.pipeline.executor import Executor
from lne.pipeline.workflow import load

from . import helpers

WF = """\
name: chain
parameters:
  count: 3
  factor: 2
  max: 1000000
  note: ""
steps:
  source:
    tool: test-numbers
    params: {count: "${count}", note: "${note}"}
  scaled:
    tool: test-scale
    inputs: {numbers: source}
    params: {factor: "${factor}", max: "${max}"}
  total:
    tool: test-total
    inputs: {numbers: scaled, extra: source}
    params: {label: t}
"""


def run(tmp_path, text=WF, until=None, force=(), **params):
    p = tmp_path / "wf.yml"
    p.write_text(textwrap.dedent(text))
    helpers.CALLS.clear()
    states = Executor(load(p, params), tmp_path / "work", quiet=True).run(until=until, force=force)
    return {s.name: s.status for s in states}, list(helpers.CALLS)


def total(tmp_path):
    return json.loads((tmp_path / "work" / "total" / "data" / "total.json").read_text())["total"]


def test_runs_in_order_then_everything_is_cached(tmp_path):
    status, calls = run(tmp_path)
    assert calls == ["source", "scaled", "total"]
    assert status == {"source": "ran", "scaled": "ran", "total": "ran"}
    assert total(tmp_path) == (0 + 1 + 2) * 2 + (0 + 1 + 2)
    before = {n: (tmp_path / "work" / n / "metadata.json").read_text() for n in status}
    status, calls = run(tmp_path)
    assert calls == [] and set(status.values()) == {"cached"}
    assert {n: (tmp_path / "work" / n / "metadata.json").read_text() for n in status} == before


def test_artifact_metadata_metrics_log_and_hashes(tmp_path):
    run(tmp_path)
    src, scaled = Artifact.open(tmp_path / "work" / "source"), Artifact.open(tmp_path / "work" / "scaled")
    m = scaled.metadata
    assert (m["format"], m["tool"], m["tool_version"], m["step"]) == ("test-numbers", "test-scale", "1", "scaled")
    assert m["params"] == {"factor": 2, "max": 1000000}
    assert m["inputs"] == {"numbers": {"step": "source", "format": "test-numbers", "hash": src.hash}}
    assert m["hash"] == hash_tree(scaled.data) and m["synthetic"] is False and m["created"]
    assert src.metrics == {"count": 3}
    assert (scaled.path / "log.txt").is_file()
    assert sorted(p.name for p in (tmp_path / "work").iterdir() if not p.name.startswith(".")) == \
        ["scaled", "source", "total"]


def test_changed_parameter_reruns_that_step_and_what_follows(tmp_path):
    run(tmp_path)
    status, calls = run(tmp_path, factor=3)
    assert status == {"source": "cached", "scaled": "ran", "total": "ran"}
    assert calls == ["scaled", "total"]
    assert total(tmp_path) == 3 * 3 + 3


def test_parameter_outside_the_key_and_identical_output_do_not_rerun(tmp_path):
    run(tmp_path)
    status, calls = run(tmp_path, note="only a note")          # key=False parameter
    assert calls == []
    # a changed parameter that yields the same bytes: the step runs, the one after stays cached
    status, calls = run(tmp_path, max=999999)
    assert status == {"source": "cached", "scaled": "ran", "total": "cached"}


def test_tool_version_change_reruns(tmp_path, monkeypatch):
    run(tmp_path)
    monkeypatch.setattr(helpers.Scale, "version", "2")
    status, _ = run(tmp_path)
    assert status["scaled"] == "ran" and status["source"] == "cached"


def test_until_and_force(tmp_path):
    status, calls = run(tmp_path, until="scaled")
    assert calls == ["source", "scaled"] and "total" not in status
    status, calls = run(tmp_path, force=("source",))
    assert calls == ["source", "total"]       # source re-ran with identical output: scaled stays cached
    with pytest.raises(LNEError, match="--until 'nope'"):
        run(tmp_path, until="nope")


def test_failing_step_leaves_no_artifact_and_earlier_ones_stay(tmp_path):
    bad = WF.replace("tool: test-scale", "tool: test-explode").replace(
        '    params: {factor: "${factor}", max: "${max}"}\n', "")
    with pytest.raises(LNEError, match="failing on purpose"):
        run(tmp_path, bad)
    work = tmp_path / "work"
    assert Artifact.open(work / "source").metrics == {"count": 3}
    assert not (work / "scaled").exists() and not (work / "total").exists()
    assert not any((work / ".tmp").iterdir())
    status, calls = run(tmp_path)              # fixed workflow: continues after the cached step
    assert calls == ["scaled", "total"]


def test_leftovers_of_a_crash_are_cleaned_and_half_folders_replaced(tmp_path):
    run(tmp_path)
    work = tmp_path / "work"
    (work / ".tmp" / "scaled-deadbeef").mkdir(parents=True)    # named as the executor names them
    (work / ".tmp" / "scaled-deadbeef" / "junk").write_text("x")
    (work / "total" / "metadata.json").unlink()                # not a complete artifact any more
    status, calls = run(tmp_path)
    assert calls == ["total"] and not any((work / ".tmp").iterdir())
    assert Artifact.open(work / "total").metadata["step"] == "total"


def test_status(tmp_path):
    p = tmp_path / "wf.yml"
    p.write_text(WF)
    run(tmp_path)
    states = Executor(load(p, {"factor": 5}), tmp_path / "work").status()
    assert [(s.name, s.status) for s in states] == [("source", "cached"), ("scaled", "stale"), ("total", "waiting")]


def test_one_run_per_work_folder(tmp_path):
    p = tmp_path / "wf.yml"
    p.write_text(WF)
    (tmp_path / "work").mkdir()
    with open(tmp_path / "work" / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LNEError, match="another pipeline run"):
            Executor(load(p), tmp_path / "work", quiet=True).run()
