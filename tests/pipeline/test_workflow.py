"""Workflow loading: parameters, substitution, order, and errors that name the YAML line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lne.errors import LNEError
from lne.pipeline.workflow import load

from ..conftest import lne_cli
from . import helpers  # noqa: F401  (registers the test-* tools)

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: demo
parameters:
  count: 4
  label: sum
steps:
  total:
    tool: test-total
    inputs:
      numbers: scaled
    params:
      label: "${label} of ${count}"
  scaled:
    tool: test-scale
    inputs: {numbers: source}
  source:
    tool: test-numbers
    params:
      count: ${count}
"""


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "wf.yml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_workflow_order_defaults_and_substitution(tmp_path):
    wf = load(write(tmp_path, GOOD), {"count": 7})
    assert wf.order == ["source", "scaled", "total"]          # dependency order, not file order
    assert wf.steps["source"].params == {"start": 0, "count": 7, "note": ""}   # whole ${} keeps the int
    assert wf.steps["total"].params["label"] == "sum of 7"                     # inside a string: text
    assert wf.steps["scaled"].params == {"factor": 2, "max": 10 ** 9}           # defaults filled in
    assert wf.downstream("scaled") == ["total"]


@pytest.mark.parametrize("text, line, words", [
    # unknown tool
    (GOOD.replace("tool: test-scale", "tool: test-scael"), 13, ["unknown tool 'test-scael'"]),
    # missing required parameter
    (GOOD.replace('    params:\n      label: "${label} of ${count}"\n', ""), 6, ["needs parameter 'label'"]),
    # unknown parameter
    (GOOD.replace("      count: ${count}", "      cuont: 3"), 18, ["no parameter 'cuont'", "start, count"]),
    # wrong type
    (GOOD.replace("      count: ${count}", "      count: many"), 18, ["parameter 'count'", "integer"]),
    # out of range
    (GOOD.replace("      count: ${count}", "      count: -1"), 18, ["below the minimum"]),
    # undefined workflow parameter
    (GOOD.replace("${label} of", "${lable} of"), 11, ["${lable}", "not a workflow parameter"]),
    # input from an unknown step
    (GOOD.replace("numbers: scaled", "numbers: scaeld"), 9, ["unknown step 'scaeld'"]),
    # unknown input slot
    (GOOD.replace("numbers: scaled", "numbrs: scaled"), 9, ["no input 'numbrs'"]),
    # required input not wired
    (GOOD.replace("    inputs: {numbers: source}\n", ""), 12, ["input 'numbers'", "not wired"]),
    # unknown step key
    (GOOD.replace("    tool: test-numbers", "    tool: test-numbers\n    parms: {}"), 17, ["unknown key 'parms'"]),
    # duplicate key
    (GOOD.replace("  label: sum", "  label: sum\n  count: 5"), 5, ["duplicate key 'count'"]),
    # YAML syntax error
    (GOOD.replace("    inputs: {numbers: source}", "    inputs: {numbers: source"), 15, ["invalid YAML"]),
])
def test_errors_name_the_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(LNEError) as e:
        load(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:{line}:"), msg
    for w in words:
        assert w in msg


def test_type_mismatch_between_output_and_input(tmp_path):
    path = write(tmp_path, """\
        steps:
          a:
            tool: test-numbers
          t:
            tool: test-total
            params: {label: x}
            inputs: {numbers: a}
          b:
            tool: test-scale
            inputs:
              numbers: t
        """)
    with pytest.raises(LNEError) as e:
        load(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:11:") and "type mismatch" in msg
    assert "'test-total'" in msg and "'test-numbers'" in msg


def test_cycle_is_reported_with_its_steps(tmp_path):
    path = write(tmp_path, """\
        steps:
          a:
            tool: test-scale
            inputs: {numbers: c}
          b:
            tool: test-scale
            inputs: {numbers: a}
          c:
            tool: test-scale
            inputs: {numbers: b}
        """)
    with pytest.raises(LNEError) as e:
        load(path)
    msg = str(e.value)
    assert f"{path}:" in msg and "cycle" in msg
    assert all(s in msg for s in ("a -> ", "b", "c"))


def test_workflow_parameters_required_and_unknown(tmp_path):
    path = write(tmp_path, """\
        parameters:
          source: null
        steps:
          a: {tool: test-numbers}
        """)
    with pytest.raises(LNEError, match=r"wf.yml:2: workflow parameter 'source' has no value"):
        load(path)
    with pytest.raises(LNEError, match=r"-p sorce=.*no parameter 'sorce'"):
        load(path, {"sorce": 1})
    assert load(path, {"source": "x"}).parameters == {"source": "x"}


def test_cli_reports_malformed_workflow_without_traceback(tmp_path):
    path = write(tmp_path, """\
        steps:
          speech:
            tool: synth-speech-comands
        """)
    r = lne_cli("pipeline", "run", path, "-w", tmp_path / "w", cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {path}:3: step 'speech': unknown tool 'synth-speech-comands'")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "w").exists()          # nothing written for a workflow that does not load


def test_shipped_workflows_load():
    wf = load(ROOT / "workflows" / "kws-synthetic.yml")
    assert wf.order == ["speech", "dataset", "features", "train", "deploy", "accuracy"]
    real = load(ROOT / "workflows" / "kws.yml", {"source": "/nonexistent/speech_commands"})
    assert real.steps["train"].params["iterations"] == 40000
    assert real.steps["train"].params["batch_size"] == 100
    assert real.steps["train"].params["learning_rate"] == 5e-3
    with pytest.raises(LNEError, match="'source' has no value"):
        load(ROOT / "workflows" / "kws.yml")
