"""Untrusted data files given to the commands (.npy inputs, calibration data, bundle manifests):
each bad one is refused with LNE's own error (exit 2, the file named, no traceback), quickly
and in bounded memory; a FIFO never blocks a command. The fuzz tests at the end mutate real
.npy files and manifests and accept only a clean result or an LNEError."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lne.errors import LNEError
from lne.limits import load_npy, load_yaml, parse_json, plain, show
from lne.session import check_manifest, find_manifest

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"
GUARD_S = 60  # a command that has not answered by then is hanging (each answers in about a second)


def cli(*args, cwd=None):
    """`lne ARGS` in a subprocess with a hang guard and a 1.5 GB address-space cap."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29)); "
            "from lne.cli import main; main(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=GUARD_S, cwd=cwd)


def assert_refused(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "ds_cnn"
    r = subprocess.run([sys.executable, "-m", "lne.cli", "compile", str(SAMPLE), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def _npy_header(path: Path, descr: str, shape: tuple, data: bytes = b"") -> Path:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data)
    return path


# --- .npy inputs -------------------------------------------------------------------------

def test_npy_header_claiming_1e12_elements_is_refused_before_reading(tmp_path):
    f = _npy_header(tmp_path / "huge.npy", "<f4", (1000000, 1000000))
    with pytest.raises(LNEError, match="claims shape"):
        load_npy(f)
    assert_refused(cli("validate", SAMPLE, "--input", f"input={f}"), "huge.npy", "claims shape")


def test_truncated_npy_is_refused(tmp_path):
    f = _npy_header(tmp_path / "short.npy", "<f4", (1, 1, 40, 32), b"\0" * 100)
    with pytest.raises(LNEError, match="truncated"):
        load_npy(f)


@pytest.mark.parametrize("array", [np.array(["ab", "cd"]), np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]),
                                   np.zeros(3, dtype=np.complex64), np.zeros(2, dtype="datetime64[s]")],
                         ids=["str", "struct", "complex", "datetime"])
def test_non_numeric_npy_is_refused_not_cast(tmp_path, array):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(LNEError, match="plain numbers"):
        load_npy(tmp_path / "x.npy")


def test_object_npy_never_unpickles(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LNEError, match="plain numbers"):
        load_npy(tmp_path / "o.npy")


def test_numeric_npy_loads_exactly(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_npy(tmp_path / "x.npy"), x)


def test_fifo_inputs_never_block(tmp_path, bundle):
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    assert_refused(cli("validate", SAMPLE, bundle, "--input", f"input={fifo}"), "FIFO")
    assert_refused(cli("run", bundle, fifo, "-o", tmp_path / "y.npy"), "FIFO")
    assert_refused(cli("quantize", SAMPLE, "--calib", fifo, "-o", tmp_path / "q.onnx"), "FIFO")
    folder = tmp_path / "calib"
    folder.mkdir()
    os.mkfifo(folder / "a.npy")
    assert_refused(cli("quantize", SAMPLE, "--calib", folder, "-o", tmp_path / "q.onnx"), "FIFO")
    h5 = tmp_path / "calib.h5"
    os.mkfifo(h5)
    assert_refused(cli("quantize", SAMPLE, "--calib", h5, "-o", tmp_path / "q.onnx"), "FIFO")
    assert not (tmp_path / "q.onnx").exists()


def test_complex_input_to_a_session_is_refused(bundle):
    import lne

    sess = lne.InferenceSession(bundle)
    x = np.zeros(sess.get_inputs()[0].shape, np.complex64)
    with pytest.raises(LNEError, match="complex64"):
        sess.run(None, {sess.get_inputs()[0].name: x})


def test_oversized_hdf5_dataset_is_refused_before_reading(tmp_path):
    h5py = pytest.importorskip("h5py")
    from lne.quant import data

    f = tmp_path / "bomb.h5"
    with h5py.File(f, "w") as h5:  # a few kilobytes on disk, 4 GiB when read
        h5.create_dataset("x", shape=(1 << 30,), dtype="f4", chunks=(1 << 16,), compression="gzip")
    assert f.stat().st_size < 1 << 20
    with pytest.raises(LNEError, match="at most"):
        data.load_samples(f, [("input", (1, 1, 40, 32))])


# --- manifests ---------------------------------------------------------------------------

def _manifest(bundle: Path) -> tuple[Path, dict]:
    path = next(p for p in bundle.glob("*.json"))
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("edit, needle", [
    (lambda m: m.update(arena_size="12"), "arena_size"),
    (lambda m: m.update(arena_size=-1), "arena_size"),
    (lambda m: m.update(arena_size=10**18), "arena_size"),
    (lambda m: m.update(inputs=5), "inputs"),
    (lambda m: m["inputs"][0].update(shape=["1", 2]), "shape"),
    (lambda m: m["inputs"][0].update(shape=[10**6] * 4), "shape"),
    (lambda m: m["inputs"][0].update(shape=[1] * 100), "shape"),
    (lambda m: m.update(name="x); void evil(void"), "name"),
    (lambda m: m.update(name=5), "name"),
    (lambda m: m.pop("target"), "target"),
    (lambda m: m["nodes"][0].update(macs=None), "macs"),
    (lambda m: m.update(tensors=[]), "tensors"),
    (lambda m: m.update(outputs=[]), "outputs"),
], ids=["arena-str", "arena-neg", "arena-huge", "inputs-int", "shape-str", "shape-huge", "rank-100",
        "name-code", "name-int", "no-target", "macs-null", "tensors-list", "no-outputs"])
def test_manifest_with_wrong_types_is_refused(tmp_path, bundle, edit, needle):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    path, m = _manifest(copy)
    edit(m)
    path.write_text(json.dumps(m))
    with pytest.raises(LNEError, match=needle):
        find_manifest(copy)
    assert_refused(cli("inspect", copy), needle)
    assert_refused(cli("run", copy, SAMPLE, "-o", tmp_path / "y.npy"))  # (SAMPLE is no .npy either)


def test_deeply_nested_manifest_is_refused(tmp_path, bundle):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    path, m = _manifest(copy)
    path.write_text(json.dumps(m)[:-1] + ', "deep": ' + "[" * 100000 + "]" * 100000 + "}")
    assert_refused(cli("inspect", copy), "LNE bundle")  # a JSON LNE cannot read is no manifest


def test_a_real_manifest_passes_the_check(bundle):
    m = find_manifest(bundle)
    assert m["name"] == "ds_cnn" and m["outputs"]


# --- readers ------------------------------------------------------------------------------

def test_names_are_escaped_and_cut():
    evil = "\x1b[2J\x1b]0;pwned\x07" + "a" * 10**6 + "\n"
    for text in (show(evil), plain(evil)):
        assert "\x1b" not in text and "\n" not in text and "\x07" not in text
        assert len(text) < 200 and f"{len(evil)} characters" in text


def test_billion_laughs_yaml_is_refused_quickly():
    doc = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    assert len(doc) < 1024
    with pytest.raises(LNEError, match="billion laughs") as e:
        load_yaml(doc, "w.yml")
    assert len(str(e.value)) < 300


def test_deep_yaml_and_json_are_refused():
    with pytest.raises(LNEError, match="nested"):
        load_yaml("[" * 100000, "w.yml")
    with pytest.raises(LNEError, match="nested"):
        parse_json("[" * 100000 + "]" * 100000, "p.json")


# --- fuzzing ------------------------------------------------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("LNE_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
                derandomize=not os.environ.get("LNE_FUZZ_RANDOM"), suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=st.data())
def test_fuzz_npy_headers(tmp_path_factory, data):
    """Mutated .npy files: load_npy returns an array of plain numbers or raises LNEError."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    import io
    buf = io.BytesIO()
    np.save(buf, x)
    raw = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["byte", "cut", "header"]))
        if kind == "byte" and raw:
            raw[data.draw(st.integers(0, min(len(raw), 128) - 1))] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            raw = raw[:data.draw(st.integers(0, len(raw)))]
        else:
            descr = data.draw(st.sampled_from(["<f4", "|O", "<U3", "<c8", "[('a','<f4')]", "<f4,<i4", "V8",
                                               "<M8[s]", "(2,)<f4", "<f2", "|b1", "xyz"]))
            shape = data.draw(st.sampled_from(["(2, 3, 4)", "(10**12,)", "(-1,)", "()", "(0,)", "(2**62, 4)",
                                               "(1,)*100", "'a'", "(1.5,)"]))
            header = ("{'descr': %s, 'fortran_order': False, 'shape': %s}" % (
                descr if descr.startswith("[") else repr(descr), shape)).encode()
            header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
            raw = bytearray(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(96))
    f = tmp_path_factory.mktemp("npy") / "m.npy"
    f.write_bytes(bytes(raw))
    try:
        y = load_npy(f)
    except LNEError as e:
        assert str(e)
    else:
        assert y.dtype.kind in "biuf" and y.dtype.fields is None


_MANIFEST = None


def _real_manifest() -> dict:
    global _MANIFEST
    if _MANIFEST is None:
        from lne.compiler import compile_model
        from lne.inspect import manifest_for
        _MANIFEST = json.loads(json.dumps(manifest_for(SAMPLE)))
        del compile_model
    return _MANIFEST


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=20), st.lists(st.integers(-5, 10**7), max_size=12),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@FUZZ
@given(data=st.data())
def test_fuzz_manifests(data):
    """Mutated manifests: check_manifest accepts (with every field of the right type) or raises LNEError."""
    m = json.loads(json.dumps(_real_manifest()))
    for _ in range(data.draw(st.integers(1, 5))):
        # walk down to a random container, then replace, drop or add one of its entries
        node = m
        for _ in range(data.draw(st.integers(0, 3))):
            kids = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            kids = [(k, v) for k, v in kids if isinstance(v, (dict, list)) and v]
            if not kids:
                break
            node = data.draw(st.sampled_from(kids))[1]
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys))
        action = data.draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            del node[key]
        else:
            node[key] = data.draw(_VALUES)
    try:
        check_manifest(m, "m.json")
    except LNEError as e:
        assert str(e)
    else:
        assert isinstance(m["name"], str) and isinstance(m["arena_size"], int)
        assert all(isinstance(t["shape"], list) for t in m["inputs"] + m["outputs"])
