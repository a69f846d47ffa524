"""Fuzzing workflows (issue 14) with hypothesis: real workflow texts mutated in their names, tool
references, parameters, nesting, aliases and types, then loaded and run as `lne pipeline run`
runs them (default work folder ./runs/<name>, or one given with -w).

The only acceptable failure is LNE's own error (LNEError or a subclass) with a short, escaped
message; any other exception, a hang (> HANG_S s) or a runaway allocation fails the test, and
so does any change outside the runs folder (a sibling "victim" folder with a user's file and a
user folder offered as the work folder must stay exactly as they were).

CI runs a fixed (derandomized) sequence of 2 x EXAMPLES workflows in a few seconds; a longer run
draws new ones each time:

    LNE_FUZZ_EXAMPLES=5000 LNE_FUZZ_RANDOM=1 python -m pytest tests/pipeline/test_fuzz_workflows.py
"""
from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import signal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from lne.errors import LNEError

from ..budget import budget
from lne.pipeline import Input, Param, Tool, register
from lne.pipeline.executor import Executor, default_workdir
from lne.pipeline.workflow import load, parse_value

from . import helpers  # noqa: F401  (registers the test-* tools)

EXAMPLES = int(os.environ.get("LNE_FUZZ_EXAMPLES", "150"))
HANG_S = 30
MEMORY_HEADROOM = 2 << 30
MAX_MESSAGE = 3000
# where module references from byte-level mutations may import from (a flipped character must
# not name an arbitrary module); structural mutations draw references from POOL_TOOLS only
ALLOWED = ("tests.pipeline", "lne.pipeline", "json", "os")

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                    derandomize=not os.environ.get("LNE_FUZZ_RANDOM"), suppress_health_check=list(HealthCheck))


# --- tools with bounded parameters: a mutated workflow can run them, never for long ---------

@register
class Source(Tool):
    name = "fuzz-source"
    output = "fuzz-data"
    params = {"n": Param("int", 2, min=0, max=50), "note": Param("str", ""), "items": Param("str_list", []),
              "ratio": Param("float", 0.5, min=0, max=1), "flag": Param("bool", False),
              "where": Param("path", None)}

    def run(self, ctx):
        p = ctx.params
        (ctx.out / "d.json").write_text(json.dumps({"n": list(range(p["n"])), "note": p["note"][:100],
                                                    "items": p["items"][:10]}))
        ctx.metrics["n"] = p["n"]


@register
class Pass(Tool):
    name = "fuzz-pass"
    output = "fuzz-data"
    inputs = {"data": Input("fuzz-data")}
    params = {"times": Param("int", 1, min=1, max=5)}

    def run(self, ctx):
        d = json.loads((ctx.inputs["data"].data / "d.json").read_text())
        d["n"] = d["n"] * ctx.params["times"]
        (ctx.out / "d.json").write_text(json.dumps(d))


@register
class Join(Tool):
    name = "fuzz-join"
    output = "fuzz-data"
    inputs = {"left": Input("fuzz-data"), "right": Input("fuzz-data", optional=True)}
    params = {"label": Param("str", "j"), "weights": Param("float_list", [1.0])}

    def run(self, ctx):
        n = sum(len(json.loads((a.data / "d.json").read_text())["n"]) for a in ctx.inputs.values())
        (ctx.out / "d.json").write_text(json.dumps({"n": [n], "label": ctx.params["label"][:100]}))


@register
class Fail(Tool):
    name = "fuzz-fail"
    output = "fuzz-data"
    inputs = {"data": Input("fuzz-data", optional=True)}

    def run(self, ctx):
        (ctx.out / "half").write_text("x")
        raise LNEError("fuzz-fail: failing on purpose")


SEEDS = [
    """\
name: chain
description: three steps and workflow parameters
parameters:
  n: 3
  note: hello
  times: 2
steps:
  source:
    tool: fuzz-source
    params: {n: "${n}", note: "${note} world", items: [a, b], ratio: 0.25, flag: true}
  twice:
    tool: fuzz-pass
    inputs: {data: source}
    params: {times: "${times}"}
  join:
    tool: fuzz-join
    inputs: {left: twice, right: source}
    params: {label: "n=${n}", weights: [1, 2.5]}
""",
    """\
name: anchors
parameters: {n: 4}
steps:
  a: &base
    tool: fuzz-source
    params: &p {n: "${n}", note: anchored}
  b:
    <<: *base
    description: merged from a
  c:
    tool: tests.pipeline.test_fuzz_workflows:Join
    inputs: {left: a, right: b}
""",
    """\
# a failing step after a good one, and a module reference
name: fails
steps:
  ok:
    tool: tests.pipeline.test_fuzz_workflows:Source
    params:
      n: 1
      items:
        - x
        - y
  bad:
    tool: fuzz-fail
    inputs:
      data: ok
""",
    """\
steps:
  only:
    tool: fuzz-source
""",
]

POOL_NAMES = ["../../victim", "../victim", "VICTIM_ABS", "VICTIM_ABS/x", "..", ".", "", "a/b", "~", "~root/x",
              ".tmp", ".trash", ".lne-output", ".hidden", "-rf", "runs", "x" * 101, "x" * 5000, "a\nb",
              "\x1b[2Jname", "a\x00b", "ok-name", "ok.name_2", "good", "s2", "x.y", "C:\\x", "a b", "é"]
POOL_TOOLS = ["fuzz-source", "fuzz-pass", "fuzz-join", "fuzz-fail", "test-scale", "no-such-tool",
              "tests.pipeline.test_fuzz_workflows:Source", "tests.pipeline.test_fuzz_workflows:Fail",
              "tests.pipeline.test_fuzz_workflows:SEEDS", "tests.pipeline.test_fuzz_workflows:Nope",
              "lne.pipeline.tool:Tool", "lne.pipeline.tool:Input", "json:loads", "os:path", "no.such.module:X",
              ":", "a:b:c", ".rel:X", "os:", ":X", "x" * 3000 + ":Y", "\x1b[31m:Z"]
POOL_VALUES = [None, True, False, 0, 1, -1, 3, 50, 51, 2**63, 10**30, -10**30, 0.5, 1.5, -0.0, 1e308,
               math.inf, -math.inf, math.nan, "", "x", "${n}", "${nope}", "${n}${n}", "$", "${", "~/x", "/etc/passwd",
               "../x", "a\x00b", "\x1b[2J", "x" * 20_000, [], [1, "a"], [[1, 2], [3]], ["a"] * 300, {}, {"a": 1},
               {"tool": "fuzz-source"}, {"n": {"n": {"n": 1}}}, {1: 2}, {True: None}]
POOL_KEYS = ["name", "description", "parameters", "steps", "tool", "inputs", "params", "n", "note", "items",
             "data", "left", "right", "times", "label", "weights", "where", "bogus", 1, 2.5, True, "", "\x1b",
             "<<", "x" * 300]

SNIPPETS = ["&a [1, 2]", "*a", "*undefined", "!!python/object/apply:os.system [echo pwned]", "!!binary ZZZ",
            "<<: *a", "? [a, b]\n: c", "{", "]", "\t", "---\n", "%YAML 1.1\n", "\x1b[2J", "\x00", "\ufeff",
            "[" * 200 + "]" * 200, "{a: " * 100 + "1" + "}" * 100, "2001-02-30", "!!int 0x", "!!float x",
            "1e400", "0o99", "'unterminated", '"\\x"', "&x a", "*x", ": :", "- - -", "? ", "!!set {a, b}",
            "!!omap [a: 1]", "!!timestamp x", "!!str", "!custom x"]


def laughs(rnd: random.Random) -> str:
    """A (small or huge) 'billion laughs' block of parameters, and the alias of its top."""
    depth, width = rnd.randint(1, 9), rnd.randint(2, 10)
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    for d in range(1, depth):
        lines.append(f"  l{d}: &l{d} [{', '.join([f'*l{d - 1}'] * width)}]")
    return "\n".join(lines), f"*l{depth - 1}"


def pick(rnd: random.Random, pool: list):
    """A copy of one pool entry (the pools must not change from one example to the next)."""
    return copy.deepcopy(rnd.choice(pool))


PARAM_NAMES = ["n", "note", "items", "ratio", "flag", "where", "times", "label", "weights", "factor", "bogus"]


def mutate_step(rnd: random.Random, doc) -> bool:
    """A targeted change that keeps the document a workflow (so many reach the executor): the run
    name, a step's name, tool, parameter or input, or a workflow parameter; False if not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), dict) or not doc["steps"]:
        return False
    steps = doc["steps"]
    name = rnd.choice(list(steps))
    body = steps[name] if isinstance(steps[name], dict) else {}
    op = rnd.randrange(6)
    if op == 0:
        doc["name"] = pick(rnd, POOL_NAMES).replace("VICTIM_ABS", str(VICTIM))
    elif op == 1:                                  # rename a step (its inputs keep the old name)
        new = pick(rnd, POOL_NAMES).replace("VICTIM_ABS", str(VICTIM))
        steps[new] = steps.pop(name)
    elif op == 2:
        body["tool"] = pick(rnd, POOL_TOOLS)
    elif op == 3:
        params = body.setdefault("params", {})
        if isinstance(params, dict):
            params[rnd.choice(PARAM_NAMES)] = pick(rnd, POOL_VALUES)
    elif op == 4:
        inputs = body.setdefault("inputs", {})
        if isinstance(inputs, dict):
            inputs[rnd.choice(["data", "left", "right", "numbers"])] = rnd.choice(list(steps) + POOL_NAMES[:6])
    else:
        params = doc.setdefault("parameters", {})
        if isinstance(params, dict):
            params["n"] = pick(rnd, POOL_VALUES)
    return True


def mutate_tree(rnd: random.Random, doc):
    """One structural change: a value, key, type or nesting replaced somewhere in the document."""
    if rnd.random() < 0.6 and mutate_step(rnd, doc):
        return doc
    slots = []   # (container, key) pairs

    def walk(x, depth=0):
        if depth > 8:
            return
        if isinstance(x, dict):
            for k in list(x):
                slots.append((x, k))
                walk(x[k], depth + 1)
        elif isinstance(x, list):
            for i in range(len(x)):
                slots.append((x, i))
                walk(x[i], depth + 1)

    walk(doc)
    if not slots or rnd.random() < 0.05:
        return pick(rnd, POOL_VALUES + [[doc], {"steps": doc}])
    c, k = rnd.choice(slots)
    op = rnd.randrange(8)
    key = k if isinstance(c, dict) else None
    if op == 0 and key in ("name",):
        c[k] = rnd.choice(POOL_NAMES).replace("VICTIM_ABS", str(VICTIM))
    elif op == 0 and key == "tool":
        c[k] = rnd.choice(POOL_TOOLS)
    elif op == 1 and isinstance(c, dict):   # a step name / key replaced
        new = rnd.choice(POOL_NAMES + POOL_KEYS)
        new = new.replace("VICTIM_ABS", str(VICTIM)) if isinstance(new, str) else new
        c[new] = c.pop(k)
    elif op == 2:
        del c[k]
    elif op == 3:                              # deeper nesting
        v = c[k]
        for _ in range(rnd.choice([1, 2, 63, 70, 100])):   # deeper: the text snippets
            v = [v] if rnd.random() < 0.5 else {"k": v}
        c[k] = v
    elif op == 4 and isinstance(c, dict):      # the same value under another (maybe unknown) key
        c[rnd.choice(POOL_KEYS)] = c[k]
    elif op == 5:
        c[k] = rnd.choice(POOL_TOOLS) if rnd.random() < 0.3 else rnd.choice(POOL_NAMES)
    else:
        c[k] = pick(rnd, POOL_VALUES)
    return doc


def mutate_text(rnd: random.Random, text: str) -> str:
    """One textual change: lines moved, characters flipped, YAML constructs and aliases spliced."""
    lines = text.split("\n")
    op = rnd.randrange(7)
    i = rnd.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    elif op == 2:
        lines[i] = " " * rnd.choice([0, 1, 3, 4, 8]) + lines[i].lstrip()
    elif op == 3 and lines[i]:
        j = rnd.randrange(len(lines[i]))
        lines[i] = lines[i][:j] + rnd.choice(SNIPPETS) + lines[i][j + rnd.choice([0, 1, 5]):]
    elif op == 4 and lines[i]:
        j = rnd.randrange(len(lines[i]))
        lines[i] = lines[i][:j] + chr(rnd.choice([rnd.randrange(32, 127), rnd.randrange(0, 32), 0x85, 0x2028,
                                                  0xFEFF, 0xD800 if rnd.random() < 0.1 else 0x41])) + lines[i][j + 1:]
    elif op == 5:                              # aliases: a laughs block and its use as a value
        block, alias = laughs(rnd)
        body = "\n".join(lines)
        if "parameters:" in body and rnd.random() < 0.5:
            body = body.replace("parameters:\n", "parameters:\n" + block + "\n", 1)
        else:
            body = "parameters:\n" + block + "\n" + body.replace("parameters:", "parameters_:", 1)
        if "note:" in body:
            body = body.replace("note: ", f"note: {alias} #", 1)
        else:
            body = body.replace("n: ", f"n: {alias} #", 1)
        return body
    else:
        a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
    return "\n".join(lines)


# --- the sandbox ---------------------------------------------------------------------------

VICTIM = Path("/nonexistent")     # set per test: a user's folder beside the one LNE works in


def snapshot(root: Path, skip: tuple[Path, ...]) -> dict[str, tuple]:
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if Path(d, x) not in skip]
        for n in dirs + files:
            p = Path(d, n)
            if p in skip:
                continue
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size if not p.is_dir() else 0,
                                             p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
    return out


def guarded():
    """A hang becomes an exception; an allocation over the headroom a MemoryError."""
    return budget(MEMORY_HEADROOM, None, lambda: TimeoutError(f"one mutated workflow took more than {HANG_S} s"))


@pytest.fixture
def sandbox(tmp_path):
    global VICTIM
    cwd = tmp_path / "cwd"
    (cwd / "runs").mkdir(parents=True)
    VICTIM = tmp_path / "victim"
    VICTIM.mkdir()
    (VICTIM / "precious.txt").write_text("keep me")
    (VICTIM / "source").mkdir()
    (VICTIM / "source" / "data.csv").write_text("1,2")
    (VICTIM / ".tmp").mkdir()
    (VICTIM / ".tmp" / "only-mine").write_text("x")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def run_must_not_crash(sandbox: Path, text: str, rnd: random.Random, allowed) -> None:
    """Load and run the workflow text: success, or an LNEError with a short escaped message; and
    nothing changed outside ./runs."""
    cwd = sandbox / "cwd"
    # every draw first, and a fresh runs folder: each example is independent of the ones before
    override = (rnd.choice(["n", "note", "times", "bogus"]),
                rnd.choice(["3", "[yes, no]", "${n}", "'x'", "{a: [1, 2]}", "[" * 80 + "]" * 80, "&a [*a]",
                            "1e400"])) if rnd.random() < 0.2 else None
    workdir = rnd.choice([None, None, None, cwd / "runs" / "explicit", cwd / "runs", VICTIM])
    status, again = rnd.random() < 0.3, rnd.random() < 0.3
    shutil.rmtree(cwd / "runs")
    (cwd / "runs").mkdir()
    wf_path = cwd / "wf.yml"
    wf_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    skip = (cwd / "runs", wf_path)
    before = snapshot(sandbox, skip)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        overrides = {override[0]: parse_value(override[1])} if override else {}   # -p NAME=VALUE
        wf = load(wf_path, overrides, allowed_packages=allowed)
        ex = Executor(wf, default_workdir(wf) if workdir is None else workdir, quiet=True)
        if status:
            ex.status()
        ex.run()
        if again:
            ex.run(force=tuple(wf.order[:1]))
    except LNEError as e:
        msg = str(e)
        assert msg.strip(), "an LNEError without a message"
        assert len(msg) < MAX_MESSAGE, f"a {len(msg)}-character message: {msg[:300]}..."
        assert not any(c in msg for c in "\x1b\x00\x07\r"), f"a raw control character in: {msg[:300]!r}"
    except BaseException as e:
        keep = sandbox.parent / "fuzz-failures"
        keep.mkdir(exist_ok=True)
        name = f"{os.getpid()}-{abs(hash(text)):x}.yml"      # (no draw from rnd here: replays must match)
        (keep / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        raise AssertionError(f"{type(e).__name__} (not an LNEError) on a mutated workflow, saved in {keep}: "
                             "add it to tests/pipeline/test_hardening.py once fixed") from e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    after = snapshot(sandbox, skip)
    assert after == before, f"changed outside ./runs: {sorted(set(after) ^ set(before))[:10]}"
    if not (cwd / "runs" / ".lne-output").exists():   # (unless ./runs itself was the work folder)
        for p in (cwd / "runs").iterdir():             # every work folder LNE made is marked
            if p.is_dir() and not p.name.startswith("."):
                assert (p / ".lne-output").is_file(), p


@pytest.mark.parametrize("kind", ["tree", "text"])
def test_fuzz_workflows(kind, sandbox):
    count = [0]

    @SETTINGS
    @given(rnd=st.randoms(use_true_random=False), seed=st.integers(0, len(SEEDS) - 1))
    def one(rnd, seed):
        count[0] += 1
        if kind == "tree":
            doc = yaml.safe_load(SEEDS[seed])
            for _ in range(rnd.choice([1, 1, 2, 3, 4])):
                doc = mutate_tree(rnd, doc)
            text = yaml.safe_dump(doc, allow_unicode=rnd.random() < 0.5, sort_keys=False)
            allowed = None if rnd.random() < 0.7 else ALLOWED
        else:
            text = SEEDS[seed]
            for _ in range(rnd.choice([1, 1, 2, 3])):
                text = mutate_text(rnd, text)
            allowed = ALLOWED
        run_must_not_crash(sandbox, text, rnd, allowed)

    with guarded():
        one()
    assert count[0] >= EXAMPLES


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_load_and_run(seed, sandbox):
    """The seeds are valid workflows (so mutations start from real ones)."""
    wf = load(_write(sandbox, SEEDS[seed]))
    try:
        Executor(wf, default_workdir(wf), quiet=True).run()
    except LNEError as e:
        assert "failing on purpose" in str(e)
    assert (sandbox / "cwd" / "runs" / wf.name / ".lne-output").is_file()


def _write(sandbox: Path, text: str) -> Path:
    p = sandbox / "cwd" / "wf.yml"
    p.write_text(text)
    return p
