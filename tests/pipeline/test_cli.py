"""`lne pipeline` commands as a user runs them (subprocess)."""
from __future__ import annotations

import json
from pathlib import Path

from lne.pipeline.workflow import load, parse_value

from ..conftest import lne_cli

ROOT = Path(__file__).resolve().parents[2]

WF = """\
name: tiny
parameters:
  count: 2
steps:
  source:
    tool: tests.pipeline.helpers:Numbers
    params: {count: "${count}"}
  scaled:
    tool: tests.pipeline.helpers:Scale
    inputs: {numbers: source}
"""


def test_run_status_show_artifact(tmp_path):
    wf, work = tmp_path / "wf.yml", tmp_path / "w"
    wf.write_text(WF)
    r = lne_cli("pipeline", "run", wf, "-w", work, "-p", "count=5", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "[1/2] source" in r.stderr and "[2/2] scaled" in r.stderr      # progress on stderr
    assert [line.split()[:2] for line in r.stdout.splitlines()] == [["source", "ran"], ["scaled", "ran"]]
    assert json.loads((work / "scaled" / "data" / "numbers.json").read_text()) == [0, 2, 4, 6, 8]

    r = lne_cli("pipeline", "status", wf, "-w", work, "--json", cwd=ROOT)       # count back to 2
    assert [(s["step"], s["status"]) for s in json.loads(r.stdout)] == [("source", "stale"), ("scaled", "waiting")]

    r = lne_cli("pipeline", "show-artifact", work / "scaled", cwd=ROOT)
    assert r.returncode == 0
    assert r.stdout.startswith(f"{work / 'scaled'}: test-numbers")
    assert "input numbers: step 'source'" in r.stdout and "numbers.json" in r.stdout
    meta = json.loads(lne_cli("pipeline", "show-artifact", work / "scaled", "--json", cwd=ROOT).stdout)
    assert meta["metadata"]["params"] == {"factor": 2, "max": 10 ** 9}


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    wf = tmp_path / "wf.yml"
    wf.write_text(WF)
    for args, text in [
        (("run", wf, "-p", "count"), "-p 'count': expected NAME=VALUE"),
        (("run", wf, "-p", "cuont=3"), "has no parameter 'cuont'"),
        (("run", wf, "--until", "nope", "-w", tmp_path / "w"), "--until 'nope'"),
        (("run", tmp_path / "missing.yml"), "cannot read workflow"),
        (("show-artifact", tmp_path), "not a pipeline artifact"),
    ]:
        r = lne_cli("pipeline", *args, cwd=ROOT)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and text in r.stderr and "Traceback" not in r.stderr


def test_list_tools_json():
    r = lne_cli("pipeline", "list-tools", "--json")
    tools = json.loads(r.stdout)
    assert set(tools) == {"synth-speech-commands", "ingest-speech-commands", "mfcc", "train-kws", "accuracy-kws",
                          "deploy-lne"}
    t = tools["train-kws"]
    assert t["inputs"] == {"features": {"formats": ["kws-mfcc-features"], "optional": False}}
    assert t["output"] == "kws-model"
    assert {k: t["params"][k]["default"] for k in ("iterations", "batch_size", "learning_rate", "lr_decay",
                                                   "lr_step")} == {"iterations": 40000, "batch_size": 100,
                                                                   "learning_rate": 5e-3, "lr_decay": 0.3,
                                                                   "lr_step": 10000}


def test_keywords_stay_words_in_yaml(tmp_path):
    """YAML 1.1 reads yes/no/on/off as booleans; workflows use YAML 1.2 rules."""
    assert parse_value("[yes, no, on, off, true]") == ["yes", "no", "on", "off", True]
    assert parse_value("5e-3") == 0.005 and parse_value("300") == 300
    wf = tmp_path / "wf.yml"
    wf.write_text("steps:\n  d:\n    tool: ingest-speech-commands\n"
                  "    params: {source: /x, words: [yes, no, on, off]}\n")
    assert load(wf).steps["d"].params["words"] == ["yes", "no", "on", "off"]
