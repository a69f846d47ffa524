"""The one output rule (lne.outputs) as users meet it through `lne compile / convert / quantize /
tune`: a folder or file LNE did not write is never replaced (unless --force), nothing LNE did not
create is removed, bad destinations fail with a clear message (exit 2) before any work, generated
identifiers never collide with the runtime's, and build paths CMake cannot take are refused up
front, with nothing written outside the bundle."""
from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lne.errors import LNEError


def _relu_model(path: Path, producer: str = "") -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "tiny", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name=producer)
    m.ir_version = 8
    onnx.save(m, path)
    return path


@pytest.fixture
def model(tmp_path):
    return _relu_model(tmp_path / "m.onnx")


def _lne(capsys, *args) -> tuple[int, str]:
    """`lne ARGS` in this process: (exit status, stderr)."""
    from lne.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def _fails(capsys, *args, message: str) -> str:
    code, err = _lne(capsys, *args)
    assert code == 2, err
    assert any(line.startswith("error: ") for line in err.splitlines()) and "Traceback" not in err, err
    assert "internal error" not in err, err
    assert message in err, err
    return err


def _tree(root: Path) -> dict:
    """Everything under root (hidden entries too): path -> bytes, 'dir' or 'link -> target'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = f"link -> {os.readlink(p)}" if p.is_symlink() else "dir" if p.is_dir() else p.read_bytes()
    return out


def _user_folder(path: Path) -> dict:
    (path / "src").mkdir(parents=True)
    (path / "src" / "index.js").write_text("console.log('mine')\n")
    (path / "package.json").write_text('{"name": "my-app", "version": "1.0.0"}\n')
    return _tree(path)


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if ".lne-tmp-" in p.name or ".lne-old-" in p.name]
    assert not left, left


# -- compile: folders ------------------------------------------------------------------------

def test_user_folder_is_refused_and_untouched(tmp_path, model, capsys):
    out = tmp_path / "app"
    before = _user_folder(out)
    err = _fails(capsys, "compile", model, "-o", out, message="not written by LNE")
    assert "refusing to overwrite" in err and "--force" in err
    assert _tree(out) == before
    _no_temporaries(tmp_path)


def test_force_replaces_a_user_folder(tmp_path, model, capsys):
    out = tmp_path / "app"
    _user_folder(out)
    code, err = _lne(capsys, "compile", model, "-o", out, "--force")
    assert code == 0, err
    assert (out / "m.json").is_file() and (out / ".lne-output").is_file()
    assert not (out / "package.json").exists() and not (out / "src").exists()
    _no_temporaries(tmp_path)


def test_recompile_into_an_lne_bundle(tmp_path, model, capsys):
    out = tmp_path / "bundle"
    assert _lne(capsys, "compile", model, "-o", out)[0] == 0
    assert json.loads((out / ".lne-output").read_text())["kind"] == "bundle"
    code, err = _lne(capsys, "compile", model, "-o", out, "--name", "other")
    assert code == 0, err
    assert "replaced the earlier bundle" in err
    assert (out / "other.json").is_file() and not (out / "m.json").exists()
    _no_temporaries(tmp_path)


def test_recompile_into_a_legacy_bundle(tmp_path, model, capsys):
    """A bundle from an LNE before the marker: <name>.json with lne_version beside <name>.weights.bin."""
    out = tmp_path / "bundle"
    assert _lne(capsys, "compile", model, "-o", out)[0] == 0
    (out / ".lne-output").unlink()
    code, err = _lne(capsys, "compile", model, "-o", out)
    assert code == 0, err
    assert (out / ".lne-output").is_file()


def test_a_json_file_alone_does_not_make_a_bundle(tmp_path, model, capsys):
    """The old rule took any folder holding a *.json for a bundle."""
    out = tmp_path / "data"
    out.mkdir()
    (out / "config.json").write_text('{"lne_version": "0.1", "name": "config"}')
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    _fails(capsys, "compile", model, "-o", out, message="not written by LNE")
    assert _tree(out) == before


def test_sibling_dot_old_folder_survives(tmp_path, model, capsys):
    old = tmp_path / ".bundle.old"
    old.mkdir()
    (old / "thesis.tex").write_text("three years of work")
    out = tmp_path / "bundle"
    for _ in range(2):
        code, err = _lne(capsys, "compile", model, "-o", out)
        assert code == 0, err
    assert (old / "thesis.tex").read_text() == "three years of work"
    _no_temporaries(tmp_path)


def test_symlink_to_a_user_folder_is_refused(tmp_path, model, capsys):
    target = tmp_path / "real"
    before = _user_folder(target)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    for extra in ((), ("--force",)):
        _fails(capsys, "compile", model, "-o", link, *extra, message="symbolic link")
    assert link.is_symlink() and _tree(target) == before


def test_output_is_the_current_folder(tmp_path, model, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    for dest in (".", "..", str(tmp_path)):
        _fails(capsys, "compile", model, "-o", dest, "--force", message="current folder")
    assert _tree(tmp_path) == before


def test_output_whose_parent_is_a_file(tmp_path, model, capsys):
    before = _tree(tmp_path)
    _fails(capsys, "compile", model, "-o", tmp_path / "m.onnx" / "bundle", message="is a file, not a folder")
    _fails(capsys, "compile", model, "-o", model, message="is a file")
    assert _tree(tmp_path) == before


def test_output_name_too_long(tmp_path, model, capsys):
    before = _tree(tmp_path)
    _fails(capsys, "compile", model, "-o", tmp_path / ("b" * 300), message="too long")
    _fails(capsys, "compile", model, "-o", tmp_path.joinpath(*["d" * 200] * 30), message="too long")
    assert _tree(tmp_path) == before


def test_read_only_location(tmp_path, model, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only mode does not stop writes")
        _fails(capsys, "compile", model, "-o", ro / "bundle", message="cannot write into")
        _fails(capsys, "convert", model, "-o", ro / "c.onnx", message="cannot write into")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(stat.S_IRWXU)


def test_model_inside_the_output_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "bundle"
    out.mkdir()
    m = _relu_model(out / "m.onnx")
    _fails(capsys, "compile", m, "-o", out, "--force", message="writing the bundle there would delete it")
    assert m.is_file()


def test_failed_build_leaves_only_the_bundle(tmp_path, model, capsys, monkeypatch):
    """`lne compile --build` failing after the bundle is written: the bundle (and its build/) and
    nothing else."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "cmake").write_text("#!/bin/sh\necho 'cmake: broken on purpose' >&2\nexit 1\n")
    (fake / "cmake").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ.get('PATH', '')}")
    _fails(capsys, "compile", model, "-o", tmp_path / "bundle", "--build", message="broken on purpose")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "bundle", "m.onnx"]
    assert (tmp_path / "bundle" / "m.json").is_file()


# -- the outputs module itself ---------------------------------------------------------------

def test_output_folder_error_keeps_the_old_output(tmp_path):
    from lne.outputs import output_folder

    out = tmp_path / "o"
    with output_folder(out, "report") as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with output_folder(out, "report") as tmp:
            (tmp / "a.txt").write_text("second")
            raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "first"
    _no_temporaries(tmp_path)
    with pytest.raises(LNEError, match="LNE's report output, not a bundle"):
        with output_folder(out, "bundle"):
            pass


def test_output_files_get_ordinary_permissions(tmp_path):
    from lne.outputs import output_file, output_folder

    mask = os.umask(0)
    os.umask(mask)
    with output_file(tmp_path / "f.txt", "a note") as tmp:
        assert tmp.suffix == ".txt"
        tmp.write_text("x")
    with output_folder(tmp_path / "d", "report"):
        pass
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask


def test_png_marker_round_trip(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    from lne.outputs import mark_png, png_is_ours

    path = tmp_path / "chart.png"
    fig = plt.figure(figsize=(2, 2))
    fig.savefig(path)
    plt.close(fig)
    assert not png_is_ours(path)
    mark_png(path, "tuning chart")
    assert png_is_ours(path)
    assert matplotlib.image.imread(path).shape[0] > 10  # still a valid PNG
    (tmp_path / "no.png").write_bytes(b"not a png")
    assert not png_is_ours(tmp_path / "no.png")


# -- convert / quantize: ONNX files ----------------------------------------------------------

def test_convert_replaces_only_its_own_files(tmp_path, model, capsys):
    out = tmp_path / "c.onnx"
    code, err = _lne(capsys, "convert", model, "-o", out)
    assert code == 0, err
    assert onnx.load(out).producer_name == "lne"
    assert _lne(capsys, "convert", model, "-o", out)[0] == 0  # LNE wrote it: replaced
    foreign = _relu_model(tmp_path / "theirs.onnx", producer="pytorch")
    data = foreign.read_bytes()
    _fails(capsys, "convert", model, "-o", foreign, message="not an ONNX model written by LNE")
    assert foreign.read_bytes() == data
    (tmp_path / "notes.onnx").write_text("not even ONNX")
    _fails(capsys, "convert", model, "-o", tmp_path / "notes.onnx", message="refusing to overwrite")
    assert _lne(capsys, "convert", model, "-o", foreign, "--force")[0] == 0
    assert onnx.load(foreign).producer_name == "lne"


def test_convert_never_overwrites_its_input(tmp_path, capsys):
    m = _relu_model(tmp_path / "m.onnx", producer="lne")  # even one LNE wrote, even with --force
    data = m.read_bytes()
    _fails(capsys, "convert", m, "-o", m, "--force", message="that is the input")
    assert m.read_bytes() == data


@pytest.fixture
def qmodel(tmp_path):
    from tests.quant.nets import calib_batch, tiny

    path = tmp_path / "tiny.onnx"
    onnx.save(tiny(), path)
    np.save(tmp_path / "calib.npy", calib_batch(8))
    return path


def test_quantize_refuses_the_input_model_even_with_force(tmp_path, qmodel, capsys):
    data = qmodel.read_bytes()
    for extra in ((), ("--force",)):
        _fails(capsys, "quantize", qmodel, "--calib", tmp_path / "calib.npy", "-o", qmodel, *extra,
               message="that is the float model")
    assert qmodel.read_bytes() == data


def test_quantize_replaces_only_its_own_outputs(tmp_path, qmodel, capsys):
    calib = tmp_path / "calib.npy"
    foreign = _relu_model(tmp_path / "q.onnx", producer="onnxruntime.quantization")
    data = foreign.read_bytes()
    _fails(capsys, "quantize", qmodel, "--calib", calib, "-o", foreign, message="not an ONNX model written by LNE")
    assert foreign.read_bytes() == data
    out = tmp_path / "out" / "tiny.q.onnx"
    for _ in range(2):  # the second run replaces the model, report and chart it wrote
        code, err = _lne(capsys, "quantize", qmodel, "--calib", calib, "--analyze", "--calib-size", "8",
                         "--eval-size", "8", "-o", out)
        assert code == 0, err
    assert onnx.load(out).producer_name == "lne"
    chart = tmp_path / "out" / "tiny.q.sensitivity.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nmy own picture")
    _fails(capsys, "quantize", qmodel, "--calib", calib, "--analyze", "--calib-size", "8", "--eval-size", "8",
           "-o", out, message="not a sensitivity chart written by LNE")
    assert chart.read_bytes() == b"\x89PNG\r\n\x1a\nmy own picture"
    _no_temporaries(tmp_path / "out")


# -- tune: plan.json and its charts ----------------------------------------------------------

def test_tune_checks_its_outputs_before_any_work(tmp_path, model, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"todo": ["buy milk"]}')
    _fails(capsys, "tune", model, "-o", notes, "--no-progress", message="not a plan written by LNE")
    assert notes.read_text() == '{"todo": ["buy milk"]}'
    m = model.read_bytes()
    _fails(capsys, "tune", model, "-o", model, "--force", message="that is the input")
    assert model.read_bytes() == m
    chart = tmp_path / "plan.convergence.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    _fails(capsys, "tune", model, "-o", tmp_path / "plan.json", "--no-progress",
           message="not a tuning chart written by LNE")
    assert chart.read_bytes() == b"\x89PNG\r\n\x1a\nmine" and not (tmp_path / "plan.json").exists()


def test_write_plan_replaces_only_plans(tmp_path):
    from lne.tune.plan import is_plan, read_plan, write_plan

    doc = {"model": "m.onnx", "target": "host", "plugins": [], "nodes": [{"name": "r", "kernel": "k"}]}
    path = write_plan(tmp_path / "plan.json", doc)
    assert is_plan(path) and read_plan(path)["nodes"] == doc["nodes"]
    write_plan(path, {**doc, "nodes": []})
    assert read_plan(path)["nodes"] == []
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(LNEError, match="not a plan written by LNE"):
        write_plan(other, doc)
    assert other.read_text() == "{}"
    write_plan(other, doc, force=True)
    assert is_plan(other)


def test_read_plan_of_100000_nodes_is_fast(tmp_path):
    from lne.tune.plan import read_plan

    nodes = [{"name": f"n{i}", "kernel": "k"} for i in range(100_000)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"format": "lne-plan", "version": 1, "nodes": nodes}))
    t0 = time.perf_counter()
    assert len(read_plan(path)["nodes"]) == 100_000
    assert time.perf_counter() - t0 < 1.0
    path.write_text(json.dumps({"format": "lne-plan", "version": 1, "nodes": nodes + [nodes[-1]]}))
    t0 = time.perf_counter()
    with pytest.raises(LNEError, match="node 'n99999' appears more than once"):
        read_plan(path)
    assert time.perf_counter() - t0 < 1.0


def test_deeply_nested_plan_fails_clearly(tmp_path, model, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "lne-plan", "version": 1, "nodes": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _fails(capsys, "compile", model, "--plan", deep, "-o", tmp_path / "out", message="nested more than")
    shallow_but_deep = tmp_path / "deep2.json"
    shallow_but_deep.write_text('{"format": "lne-plan", "version": 1, "nodes": [], "x": ' + "[" * 200 + "]" * 200 + "}")
    _fails(capsys, "compile", model, "--plan", shallow_but_deep, "-o", tmp_path / "out", message="nested more than")
    assert not (tmp_path / "out").exists()


# -- generated identifiers -------------------------------------------------------------------

@pytest.mark.parametrize("name,ident", [
    ("lne_status", "m_lne_status"), ("lne_common", "m_lne_common"), ("LNE_kernel_util", "m_LNE_kernel_util"),
    ("lne", "m_lne"), ("test", "m_test"), ("math", "m_math"), ("a__b", "a_b"), ("9lives", "m_9lives"),
    ("ds_cnn", "ds_cnn"), ("lnet", "lnet"),
])
def test_identifiers_never_collide_with_the_runtime(name, ident):
    from lne.codegen import c_identifier

    assert c_identifier(name) == ident


def _runtime_guards() -> set[str]:
    import re

    from lne.resources import runtime_dir

    guards = set()
    for h in runtime_dir().rglob("*.h"):
        guards |= set(re.findall(r"#ifndef\s+(\w+)", h.read_text()))
    return guards


def test_lne_status_model_builds(tmp_path, capsys):
    """A model (and --name) called lne_status used to make the guard LNE_STATUS_H, hiding the
    runtime's own lne/status.h."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("needs cmake and a C++ compiler")
    m = _relu_model(tmp_path / "lne_status.onnx")
    out = tmp_path / "bundle"
    code, err = _lne(capsys, "compile", m, "-o", out, "--build")
    assert code == 0, err
    header = (out / "m_lne_status.h").read_text()
    assert not set(header.split()) & _runtime_guards()
    assert (out / "build" / "libm_lne_status.a").is_file()
    import lne

    x = np.array([[-1, 2, -3, 4]], np.float32)
    (y,) = lne.InferenceSession(out).run(None, {"x": x})
    np.testing.assert_array_equal(y, np.maximum(x, 0))


# -- build paths CMake cannot take -----------------------------------------------------------

HOSTILE = {";": "semicolon", "$": "dollar sign", '"': "double quote", "'": "single quote", "#": "hash",
           "\\": "backslash", "\n": "newline", "${HOME}": "dollar sign", "$ENV{HOME}": "dollar sign"}


@pytest.mark.parametrize("bad", sorted(HOSTILE), ids=lambda b: HOSTILE[b].replace(" ", "_") + str(len(b)))
def test_cmake_hostile_build_path_is_refused_up_front(tmp_path, model, capsys, bad):
    before = _tree(tmp_path)
    out = tmp_path / f"b{bad}x" / "bundle"
    _fails(capsys, "compile", model, "-o", out, "--build", message=HOSTILE[bad])
    assert _tree(tmp_path) == before  # refused before any work: nothing written anywhere


def test_cmake_hostile_bundle_path_builds_nowhere_else(tmp_path, model, capsys):
    """Compiled without --build, the bundle may sit at such a path; building it then (lne, or a
    user's own cmake run) fails clearly and writes nothing outside the bundle."""
    from lne.build import build_bundle

    for bad in (";", "$", '"', "#", "\n"):
        parent = tmp_path / f"p{len(bad)}{ord(bad[0])}"
        parent.mkdir()
        out = parent / f"a{bad}b"
        code, err = _lne(capsys, "compile", model, "-o", out)
        assert code == 0, err
        with pytest.raises(LNEError, match=HOSTILE[bad]):
            build_bundle(out)
        assert sorted(p.name for p in parent.iterdir()) == [out.name]
        if shutil.which("cmake"):
            import subprocess

            r = subprocess.run(["cmake", "-S", str(out), "-B", str(out / "build")], capture_output=True, text=True)
            assert r.returncode != 0 and "CMake cannot take safely" in r.stdout + r.stderr
            assert sorted(p.name for p in parent.iterdir()) == [out.name]  # nothing beside the bundle
