"""Hardening of `lne pipeline` (issue 14): nothing a workflow, a manifest or a dataset folder
holds can make the pipeline write outside its work folder, remove what it did not create,
import a module it was not allowed to, hang on a FIFO, blow up on a small file, or fail with
anything but a one-line `error: ...` (exit status 2, no traceback, no "internal error")."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lne.errors import LNEError
from lne.outputs import MARKER, marker_kind
from lne.pipeline.executor import RUNS_KIND, Executor, default_workdir
from lne.pipeline.workflow import load

from . import helpers  # noqa: F401  (registers the test-* tools)
from .helpers import write_wav

ROOT = Path(__file__).resolve().parents[2]

WF = """\
name: {name}
steps:
  source:
    tool: test-numbers
    params: {{count: 2}}
  scaled:
    tool: test-scale
    inputs: {{numbers: source}}
"""


def cli(capsys, *args) -> tuple[int, str, str]:
    """`lne ARGS` in this process: (exit status, stdout, stderr)."""
    from lne.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, words=()) -> str:
    """Run `lne ARGS`; it must fail with status 2 and one `error: ...` message naming ``words``."""
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err and "internal error" not in err, err
    for w in words:
        assert w in err, err
    return err


def subprocess_cli(*args, timeout=120, cwd=ROOT) -> subprocess.CompletedProcess:
    """`lne ARGS` in a subprocess with a hang guard (a FIFO that is opened blocks forever)."""
    try:
        return subprocess.run([sys.executable, "-m", "lne.cli", *map(str, args)], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`lne {' '.join(map(str, args))}` hung for more than {timeout} s")


def tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` (links not followed) with its size: to see nothing changed."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = Path(d) / n
            out[str(p.relative_to(root))] = p.lstat().st_size if not p.is_dir() or p.is_symlink() else -1
    return out


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------------------------------------
# 1. run names, step names and the work folder

@pytest.mark.parametrize("name", ["../../victim", "../victim", "/ABS/victim", "a/b", "..", ".", ".hidden",
                                  "-rf", "x" * 101, "a\\nb", "~root", "'a\\x1b[2Jb'", "[a, b]", "{a: 1}", "3.5e3x/"])
def test_run_name_cannot_leave_the_runs_folder(tmp_path, capsys, monkeypatch, name):
    cwd = tmp_path / "deep" / "er" / "cwd"
    cwd.mkdir(parents=True)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "precious.txt").write_text("keep me")
    wf = write(tmp_path / "wf.yml", WF.format(name=name.replace("/ABS", str(tmp_path))))
    before = tree(tmp_path)
    monkeypatch.chdir(cwd)
    refused(capsys, "pipeline", "run", wf, "-q", words=["workflow name"])
    assert tree(tmp_path) == before                      # nothing written, replaced or removed


def test_a_plain_run_name_goes_under_runs_and_the_folder_is_marked(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf = write(tmp_path / "wf.yml", WF.format(name="good.name_1-2"))
    code, _, err = cli(capsys, "pipeline", "run", wf, "-q")
    assert code == 0, err
    work = tmp_path / "runs" / "good.name_1-2"
    assert (work / "scaled" / "metadata.json").is_file() and marker_kind(work) == RUNS_KIND


def test_a_file_name_without_name_key_is_made_a_plain_run_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf = load(write(tmp_path / "..my wf (1).yml", "steps:\n  a: {tool: test-numbers}\n"))
    assert wf.name == "my_wf__1_"
    assert default_workdir(wf) == tmp_path / "runs" / "my_wf__1_"


@pytest.mark.parametrize("step", ["../x", "a/b", ".tmp", ".lne-output", "-x", "x" * 101, "'a\\tb'"])
def test_step_names_are_plain_folder_names(tmp_path, capsys, step):
    wf = write(tmp_path / "wf.yml", f"steps:\n  {step}: {{tool: test-numbers}}\n")
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", words=["step name"])
    assert not (tmp_path / "w").exists()


def test_a_user_folder_is_not_taken_as_a_work_folder(tmp_path, capsys):
    user = tmp_path / "project"
    (user / "src").mkdir(parents=True)
    (user / "src" / "main.c").write_text("int main(){}")
    (user / ".tmp").mkdir()
    (user / ".tmp" / "notes").write_text("mine")
    (user / "source").mkdir()                          # a folder with the name of a step
    (user / "source" / "data.csv").write_text("1,2")
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    before = tree(user)
    refused(capsys, "pipeline", "run", wf, "-w", user, words=["files LNE did not write", "--force-workdir"])
    assert tree(user) == before
    # --force-workdir: used, but a step folder that is not an artifact is still never replaced,
    # and a .tmp entry LNE did not name is never removed
    refused(capsys, "pipeline", "run", wf, "-w", user, "--force-workdir", words=["step 'source'", "not a pipeline"])
    assert (user / "source" / "data.csv").read_text() == "1,2"
    (user / "source" / "data.csv").rename(tmp_path / "data.csv")
    (user / "source").rmdir()
    code, _, err = cli(capsys, "pipeline", "run", wf, "-w", user, "--force-workdir", "-q")
    assert code == 0, err
    assert (user / "src" / "main.c").read_text() == "int main(){}" and (user / ".tmp" / "notes").read_text() == "mine"
    assert (user / "scaled" / "metadata.json").is_file()


def test_work_folder_is_checked_like_every_output(tmp_path, capsys, monkeypatch):
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    bundle = tmp_path / "bundle"                       # another kind of LNE output
    bundle.mkdir()
    (bundle / MARKER).write_text(json.dumps({"kind": "bundle"}))
    (bundle / "model.h").write_text("//")
    refused(capsys, "pipeline", "run", wf, "-w", bundle, words=["LNE's bundle output"])
    assert sorted(p.name for p in bundle.iterdir()) == [MARKER, "model.h"]
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "link", words=["symbolic link"])
    (tmp_path / "afile").write_text("x")
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "afile" / "w", words=["is a file"])
    monkeypatch.chdir(tmp_path / "real")
    refused(capsys, "pipeline", "run", wf, "-w", ".", words=["current folder"])
    assert not any((tmp_path / "real").iterdir())


def test_a_work_folder_from_before_the_marker_is_recognized(tmp_path):
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    work = tmp_path / "work"
    Executor(load(wf), work, quiet=True).run()
    (work / MARKER).unlink()                           # as an older LNE left it
    states = Executor(load(wf), work, quiet=True).run()
    assert {s.status for s in states} == {"cached"} and marker_kind(work) == RUNS_KIND


def test_leftovers_are_cleared_only_if_the_executor_named_them(tmp_path):
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    work = tmp_path / "work"
    Executor(load(wf), work, quiet=True).run()
    for d in (".tmp", ".trash"):
        (work / d / "scaled-0123abcd").mkdir(parents=True)
        (work / d / "notes.txt").write_text("not LNE's")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_text("keep")
    (work / ".tmp" / "source-89abcdef").symlink_to(outside)
    Executor(load(wf), work, quiet=True).run(force=("scaled",))
    for d in (".tmp", ".trash"):
        assert not (work / d / "scaled-0123abcd").exists() and (work / d / "notes.txt").is_file()
    assert (outside / "x").read_text() == "keep" and (work / ".tmp" / "source-89abcdef").is_symlink()


@pytest.mark.parametrize("entry", [".tmp", ".trash", ".scratch", "scaled", ".lock"])
def test_no_symbolic_link_in_the_work_folder_is_followed(tmp_path, entry):
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    work = tmp_path / "work"
    Executor(load(wf), work, quiet=True).run()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metadata.json").write_text("precious")
    target = outside / "metadata.json" if entry == ".lock" else outside
    p = work / entry
    if p.is_dir():
        import shutil

        shutil.rmtree(p)
    elif p.exists():
        p.unlink()
    p.symlink_to(target)
    before = tree(outside)
    with pytest.raises(LNEError, match="symbolic link|outside"):
        Executor(load(wf), work, quiet=True).run(force=("source", "scaled"))
    assert tree(outside) == before and (outside / "metadata.json").read_text() == "precious"


def test_path_parameters_can_be_confined_for_workflows_from_elsewhere(tmp_path):
    root = tmp_path / "uploads"
    (root / "sc").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "out").symlink_to(tmp_path / "secret")
    text = "steps:\n  d:\n    tool: ingest-speech-commands\n    params: {{source: {src}}}\n"
    for src in ("/etc", "../secret", "sc/../../secret", "out", "~/x"):
        with pytest.raises(LNEError, match="step 'd': parameter 'source'"):
            load(write(tmp_path / "wf.yml", text.format(src=json.dumps(src))), path_root=root)
    wf = load(write(tmp_path / "wf.yml", text.format(src="sc")), path_root=root)
    assert wf.steps["d"].params["source"] == str((root / "sc").resolve())
    assert load(write(tmp_path / "wf.yml", text.format(src="/etc"))).steps["d"].params["source"] == "/etc"


# ---------------------------------------------------------------------------------------------
# 2. workflow YAML: bounded, never echoed at length

BILLION_LAUGHS = """\
parameters:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps:
  s:
    tool: test-numbers
    params: {note: *i}
"""


def test_billion_laughs_is_refused_quickly_with_a_short_message(tmp_path, capsys):
    wf = write(tmp_path / "wf.yml", BILLION_LAUGHS)
    t0 = time.perf_counter()
    err = refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", words=["YAML nodes"])
    assert time.perf_counter() - t0 < 10 and len(err) < 500
    assert not (tmp_path / "w").exists()


def test_a_small_expansion_fails_on_its_type_without_echoing_it(tmp_path, capsys):
    text = "\n".join(line for line in BILLION_LAUGHS.splitlines()
                     if not line.startswith(("  e:", "  f:", "  g:", "  h:", "  i:"))).replace("*i", "*d")
    # 9^4 = 6,561 strings in a list: under the bound, and the error shows a few of them
    err = refused(capsys, "pipeline", "run", write(tmp_path / "wf.yml", text), "-w", tmp_path / "w",
                  words=["parameter 'note'", "expected a string"])
    assert len(err) < 500


@pytest.mark.parametrize("text", [
    "steps: " + "[" * 5000 + "]" * 5000,
    "steps:\n" + "".join("  " * i + "a:\n" for i in range(1, 300)),
    "steps: " + "{a: " * 3000 + "1" + "}" * 3000,
])
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path, capsys, text):
    refused(capsys, "pipeline", "run", write(tmp_path / "wf.yml", text), "-w", tmp_path / "w", words=["nested"])


@pytest.mark.parametrize("value, words", [
    ('"' + "x" * 200_000 + '"', ["parameter 'count'", "expected an integer"]),
    ("[" + ", ".join(["1"] * 20_000) + "]", ["parameter 'count'", "expected an integer"]),
    ("2001-02-30", ["wf.yml:5", "cannot read the value"]),
    ("!!int 0xZZ", ["wf.yml:5", "invalid YAML"]),
    ("!!python/object/apply:os.system [touch /tmp/lne-pwned]", ["wf.yml:5", "invalid YAML"]),
    ("1e400", ["parameter 'count'"]),
    ("12345678901234567890123", ["parameter 'count'", "64-bit"]),
    ('"\\e[2J\\e]0;pwned\\a"', ["parameter 'count'", "'\\x1b[2J\\x1b]0;pwned\\x07'"]),
])
def test_bad_values_are_named_and_shown_short_and_escaped(tmp_path, capsys, value, words):
    wf = write(tmp_path / "wf.yml", f"steps:\n  s:\n    tool: test-numbers\n    params:\n      count: {value}\n")
    err = refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", words=words)
    assert len(err) < 600 and "\x1b" not in err and "\x07" not in err
    assert not Path("/tmp/lne-pwned").exists()


def test_oversized_workflow_file_and_names(tmp_path, capsys):
    big = write(tmp_path / "big.yml", "# " + "x" * (300 << 10) + "\nsteps: {a: {tool: test-numbers}}\n")
    refused(capsys, "pipeline", "run", big, "-w", tmp_path / "w", words=["bytes"])
    long_tool = write(tmp_path / "t.yml", f"steps:\n  a: {{tool: '{'x' * 100_000}'}}\n")
    err = refused(capsys, "pipeline", "run", long_tool, "-w", tmp_path / "w", words=["unknown tool"])
    assert len(err) < 1000


def test_substituted_parameters_cannot_multiply_a_small_file(tmp_path, capsys):
    big = "y" * 50_000
    wf = write(tmp_path / "wf.yml", f"parameters:\n  a: {big}\nsteps:\n  s:\n    tool: test-numbers\n"
                                    f"    params: {{note: \"{'${a}' * 100}\"}}\n")
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", words=["characters"])
    words = "[" + ", ".join(["w"] * 5000) + "]"
    steps = "".join(f"  s{i}:\n    tool: ingest-speech-commands\n    params: {{source: /x, words: \"${{w}}\"}}\n"
                    for i in range(100))
    wf = write(tmp_path / "wf2.yml", f"parameters:\n  w: {words}\nsteps:\n{steps}")
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", words=["add up to more than"])
    refused(capsys, "pipeline", "run", write(tmp_path / "wf3.yml", WF.format(name="w")), "-w", tmp_path / "w",
            "-p", "count=" + "[" * 100 + "]" * 100, words=["nested"])


# ---------------------------------------------------------------------------------------------
# 3. tool references: what is imported, and clear errors for what is not a tool

@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A folder of importable modules: one that records its import, broken ones."""
    d = tmp_path / "mods"
    d.mkdir()
    (d / "lne_evil_mod.py").write_text(f"open({str(tmp_path / 'IMPORTED')!r}, 'w').close()\nclass T: pass\n")
    (d / "lne_broken_mod.py").write_text("raise RuntimeError('broken at import')\n")
    (d / "lne_exit_mod.py").write_text("import sys\nsys.exit(3)\n")
    (d / "lne_syntax_mod.py").write_text("def (:\n")
    (d / "lne_bad_tool_mod.py").write_text(textwrap.dedent("""\
        from lne.pipeline import Tool
        class NoName(Tool):
            output = "x"
            def run(self, ctx): pass
        class BadParams(Tool):
            name = "bad"
            output = "x"
            params = {"n": 5}
            def run(self, ctx): pass
        """))
    monkeypatch.syspath_prepend(str(d))
    for m in ("lne_evil_mod", "lne_broken_mod", "lne_exit_mod", "lne_syntax_mod", "lne_bad_tool_mod"):
        sys.modules.pop(m, None)
    yield tmp_path
    for m in ("lne_evil_mod", "lne_bad_tool_mod"):
        sys.modules.pop(m, None)


@pytest.mark.parametrize("ref, words", [
    ("lne.pipeline.tool:Tool", ["is abstract"]),
    ("lne.pipeline:Tool", ["is abstract"]),
    ("json:loads", ["not a pipeline Tool class"]),
    ("os:path", ["is a module, not a pipeline Tool class"]),
    ("lne.errors:LNEError", ["is a class, not a pipeline Tool class"]),
    ("tests.pipeline.helpers:write_wav", ["not a pipeline Tool class"]),
    ("json:nope", ["has no attribute 'nope'"]),
    ("no_such_module_xyz:X", ["no module named 'no_such_module_xyz'"]),
    ("lne_broken_mod:X", ["importing module 'lne_broken_mod' failed", "RuntimeError", "broken at import"]),
    ("lne_exit_mod:X", ["importing module 'lne_exit_mod' failed", "SystemExit"]),
    ("lne_syntax_mod:X", ["importing module 'lne_syntax_mod' failed", "SyntaxError"]),
    ("lne_bad_tool_mod:NoName", ["'name' must be a non-empty string"]),
    ("lne_bad_tool_mod:BadParams", ["'params' must map"]),
    (".relative:X", ["package.module:ClassName"]),
    ("a:b:c", ["package.module:ClassName"]),
    ("'os:'", ["package.module:ClassName"]),
    ('"a\\e[2Jb"', ["unknown tool 'a\\x1b[2Jb'"]),
    ("5", ["needs 'tool: NAME'", "got 5"]),
    ("[x]", ["needs 'tool: NAME'"]),
])
def test_bad_tool_references_name_the_step_and_the_field(modules, capsys, ref, words):
    wf = write(modules / "wf.yml", f"steps:\n  mystep:\n    tool: {ref}\n")
    err = refused(capsys, "pipeline", "run", wf, "-w", modules / "w", words=["step 'mystep'", *words])
    assert "wf.yml:" in err and "\x1b" not in err


def test_allowed_packages_are_checked_before_anything_is_imported(modules):
    wf = write(modules / "wf.yml", "steps:\n  s: {tool: 'lne_evil_mod:T'}\n")
    for allowed in ((), ("lne.pipeline",), ("lne_evil",), ("lne_evil_mod.sub",)):
        with pytest.raises(LNEError, match=r"wf.yml:2: step 's': tool 'lne_evil_mod:T': module 'lne_evil_mod' "
                                           r"is not in an allowed package"):
            load(wf, allowed_packages=allowed)
        assert not (modules / "IMPORTED").exists()     # its import-time code never ran
    with pytest.raises(LNEError, match="not a pipeline Tool class"):
        load(wf)                                       # trusted local file: imported, then refused
    assert (modules / "IMPORTED").exists()
    # registered tools stay usable; a module inside an allowed package is imported
    ok = write(modules / "ok.yml", "steps:\n  a: {tool: test-numbers}\n"
                                   "  b: {tool: 'tests.pipeline.helpers:Scale', inputs: {numbers: a}}\n")
    assert load(ok, allowed_packages=("tests.pipeline",)).order == ["a", "b"]
    with pytest.raises(LNEError, match="not in an allowed package"):
        load(ok, allowed_packages=("tests.pipe",))      # a prefix of a name is not a package
    with pytest.raises(LNEError, match="allowed package"):
        load(ok, allowed_packages=("../x",))


# ---------------------------------------------------------------------------------------------
# 4. FIFOs and files that claim to be huge

INGEST = "steps:\n  dataset:\n    tool: ingest-speech-commands\n    params: {{source: {src}, silence_percentage: 50.0}}\n"


def _mini(root: Path) -> None:
    for w in ("yes", "no"):
        for s in ("aaaa1111", "bbbb2222"):
            write_wav(root / w / f"{s}_nohash_0.wav", np.full(16000, 7, np.int16))
    write_wav(root / "_background_noise_" / "hum.wav", np.full(48000, 3, np.int16))


def test_fifos_in_a_dataset_folder_are_skipped_not_waited_for(tmp_path):
    root = tmp_path / "sc"
    _mini(root)
    os.mkfifo(root / "yes" / "cccc3333_nohash_0.wav")
    os.mkfifo(root / "_background_noise_" / "pipe.wav")
    (root / "no" / "dir.wav").mkdir()
    wf = write(tmp_path / "wf.yml", INGEST.format(src=json.dumps(str(root))))
    r = subprocess_cli("pipeline", "run", wf, "-w", tmp_path / "w", "-q")
    assert r.returncode == 0, r.stderr
    skipped = {s["file"]: s["reason"] for s in json.loads((tmp_path / "w" / "dataset" / "metrics.json")
                                                          .read_text())["skipped"]}
    assert "FIFO" in skipped["yes/cccc3333_nohash_0.wav"] and "FIFO" in skipped["_background_noise_/pipe.wav"]
    assert "folder" in skipped["no/dir.wav"]


def test_fifo_workflow_list_file_archive_and_metadata_fail_cleanly(tmp_path):
    fifo = tmp_path / "wf.yml"
    os.mkfifo(fifo)
    r = subprocess_cli("pipeline", "run", fifo, "-w", tmp_path / "w")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "FIFO" in r.stderr, r.stderr

    root = tmp_path / "sc"
    _mini(root)
    os.mkfifo(root / "testing_list.txt")
    wf = write(tmp_path / "wf2.yml", INGEST.format(src=json.dumps(str(root))))
    r = subprocess_cli("pipeline", "run", wf, "-w", tmp_path / "w2", "-q")
    assert r.returncode == 2 and "testing_list.txt" in r.stderr and "FIFO" in r.stderr, r.stderr

    os.mkfifo(tmp_path / "sc.tar.gz")
    wf = write(tmp_path / "wf3.yml", INGEST.format(src=json.dumps(str(tmp_path / "sc.tar.gz"))))
    r = subprocess_cli("pipeline", "run", wf, "-w", tmp_path / "w3", "-q")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr

    art = tmp_path / "art"
    art.mkdir()
    os.mkfifo(art / "metadata.json")
    r = subprocess_cli("pipeline", "show-artifact", art)
    assert r.returncode == 2 and "not a pipeline artifact" in r.stderr, r.stderr


def test_wav_sizes_are_bounded_before_reading(tmp_path, monkeypatch):
    from lne.pipeline.kws import ingest

    root = tmp_path / "sc"
    _mini(root)
    # a 4 GB sparse keyword clip (a few bytes on disk): only its first second is read
    huge = root / "yes" / "dddd4444_nohash_0.wav"
    write_wav(huge, np.full(100, 5, np.int16))
    with open(huge, "r+b") as f:
        f.seek(40)
        f.write((0xFFFFFFF0).to_bytes(4, "little"))
        f.truncate(4 << 30)
    # a noise file longer than the limit is skipped, not loaded
    monkeypatch.setattr(ingest, "MAX_NOISE_SECONDS", 2)
    write_wav(root / "_background_noise_" / "long.wav", np.ones(16000 * 3, np.int16))
    wf = write(tmp_path / "wf.yml", INGEST.format(src=json.dumps(str(root))))
    t0 = time.perf_counter()
    Executor(load(wf), tmp_path / "w", quiet=True).run()
    assert time.perf_counter() - t0 < 30
    metrics = json.loads((tmp_path / "w" / "dataset" / "metrics.json").read_text())
    skipped = {s["file"]: s["reason"] for s in metrics["skipped"]}
    assert "at most 32000 are read" in skipped["_background_noise_/long.wav"]
    assert "yes/dddd4444_nohash_0.wav" not in skipped


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "link", "fifo", "dev"])
def test_archive_extraction_refuses_traversal_links_and_devices(tmp_path, capsys, member):
    import io
    import tarfile

    arc = tmp_path / "sc.tar.gz"
    with tarfile.open(arc, "w:gz") as tar:
        info = tarfile.TarInfo("sc/yes/aaaa1111_nohash_0.wav")
        data = b"RIFF"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        bad = tarfile.TarInfo(member if "/" in member else f"sc/{member}")
        if member == "link":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif member == "fifo":
            bad.type = tarfile.FIFOTYPE
        elif member == "dev":
            bad.type, bad.devmajor, bad.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(bad, io.BytesIO(b""))
    wf = write(tmp_path / "wf.yml", INGEST.format(src=json.dumps(str(arc))))
    # an absolute member is extracted inside the folder (leading '/' stripped); the others are refused
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", "-q",
            words=["no Speech Commands layout" if member.startswith("/") else "cannot extract"])
    assert not (tmp_path / "evil.txt").exists() and not Path("/abs/evil.txt").exists()


def test_archive_member_count_is_bounded(tmp_path, capsys, monkeypatch):
    import io
    import tarfile

    from lne.pipeline.kws import ingest

    monkeypatch.setattr(ingest, "MAX_ARCHIVE_MEMBERS", 5)
    arc = tmp_path / "sc.tar"
    with tarfile.open(arc, "w") as tar:
        for i in range(10):
            tar.addfile(tarfile.TarInfo(f"sc/yes/{i}_nohash_0.wav"), io.BytesIO(b""))
    wf = write(tmp_path / "wf.yml", INGEST.format(src=json.dumps(str(arc))))
    refused(capsys, "pipeline", "run", wf, "-w", tmp_path / "w", "-q", words=["more than 5 files"])


# ---------------------------------------------------------------------------------------------
# 5. artifact metadata and metrics read back

def _artifact(tmp_path) -> Path:
    wf = write(tmp_path / "wf.yml", WF.format(name="w"))
    Executor(load(wf), tmp_path / "work", quiet=True).run()
    return tmp_path / "work" / "scaled"


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.update(hash=5), ["field 'hash' must be a string"]),
    (lambda m: m.update(format=["x"]), ["field 'format' must be a string"]),
    (lambda m: m.update(inputs="x"), ["field 'inputs' must be an object"]),
    (lambda m: m.update(inputs={"numbers": 5}), ["'inputs' -> 'numbers' must be an object"]),
    (lambda m: m["inputs"]["numbers"].update(hash=None), ["'inputs' -> 'numbers' -> 'hash' must be a string"]),
    (lambda m: m.update(duration_s="long"), ["field 'duration_s' must be a number"]),
    (lambda m: m.update(synthetic="no"), ["field 'synthetic' must be true or false"]),
    (lambda m: m.pop("step"), ["no field 'step'"]),
    (lambda m: m.update(params=[1]), ["field 'params' must be an object"]),
])
def test_metadata_with_wrong_types_is_named(tmp_path, capsys, edit, words):
    art = _artifact(tmp_path)
    meta = json.loads((art / "metadata.json").read_text())
    edit(meta)
    (art / "metadata.json").write_text(json.dumps(meta))
    refused(capsys, "pipeline", "show-artifact", art, words=["metadata.json", *words])
    # the executor takes a damaged artifact for a missing one and runs the step again
    states = Executor(load(tmp_path / "wf.yml"), tmp_path / "work", quiet=True).run()
    assert [s.status for s in states] == ["cached", "ran"]


@pytest.mark.parametrize("text, words", [
    ("[1, 2]", ["must be a JSON object"]),
    ('"x"', ["must be a JSON object"]),
    ("{", ["not JSON"]),
    ("[" * 10_000 + "]" * 10_000, ["nested"]),
    ("\xff\xfe", ["not JSON"]),
])
def test_damaged_metadata_and_metrics_files(tmp_path, capsys, text, words):
    art = _artifact(tmp_path)
    (art / "metrics.json").write_text(text, encoding="latin-1")
    refused(capsys, "pipeline", "show-artifact", art, words=["metrics.json", *words])
    code, out, err = cli(capsys, "pipeline", "run", tmp_path / "wf.yml", "-w", tmp_path / "work")
    assert code == 0 and "scaled" in out, err               # the summary line does without metrics
    (art / "metadata.json").write_text(text, encoding="latin-1")
    refused(capsys, "pipeline", "show-artifact", art, words=["metadata.json"])


def test_show_artifact_escapes_names(tmp_path, capsys):
    art = _artifact(tmp_path)
    meta = json.loads((art / "metadata.json").read_text())
    meta.update(step="\x1b[2Jstep", tool="t\x1b]0;x\x07", format="f" * 10_000)
    (art / "metadata.json").write_text(json.dumps(meta))
    (art / "data" / "\x1b[31mred.txt").write_text("x")
    code, out, err = cli(capsys, "pipeline", "show-artifact", art)
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and len(out) < 5000
