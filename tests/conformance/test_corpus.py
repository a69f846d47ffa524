"""The corpus of malformed models (tests/conformance/corpus/, written by make_corpus.py): each
one, given to `lne compile`, exits with status 2 and `error: <the expected message>`, prints
no traceback and writes no bundle, within the budget every crafted file of under 1 MB must
keep (issue 14): at most TIME_S seconds and MEMORY_BYTES of memory beyond what the test
process holds already."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from ..budget import budget as _budget

CORPUS = Path(__file__).with_name("corpus")
TIME_S = 30
MEMORY_BYTES = 1 << 30
MAX_FILE_BYTES = 1 << 20
SECRET = b"-----BEGIN SECRET-----" + bytes(range(106))  # 128 bytes: what the Constant cases ask for


def _expected() -> dict[str, str]:
    out = {}
    for line in (CORPUS / "expected.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, _, error = line.partition(": ")
            out[rel] = error
    return out


EXPECTED = _expected()


class OverTime(Exception):
    pass


def budget():
    """Address space: what the process maps now + MEMORY_BYTES; SIGALRM after TIME_S seconds."""
    return _budget(MEMORY_BYTES, TIME_S, lambda: OverTime(f"more than {TIME_S} s"))


def test_every_corpus_file_has_an_expected_error():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in (".onnx", ".prototxt")}
    assert files == set(EXPECTED)
    assert all(EXPECTED.values())


def test_corpus_files_are_small():
    """Every case is a crafted file of under 1 MB: the acceptance bound is about those."""
    big = {rel: (CORPUS / rel).stat().st_size for rel in EXPECTED if (CORPUS / rel).stat().st_size >= MAX_FILE_BYTES}
    assert not big, big


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_corpus_model_fails_cleanly(rel, tmp_path, capsys, monkeypatch):
    from lne.cli import main

    if rel.startswith("caffe/") and importlib.util.find_spec("lne.frontends.caffe") is None:
        pytest.skip("the Caffe frontend (lne.frontends.caffe) is not there yet")
    import lne.compiler  # noqa: F401 - imported before the budget starts: only the compile counts

    monkeypatch.chdir(tmp_path)  # a model must not read from the current folder: give it a secret to find
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_bytes(SECRET)
    out = tmp_path / "bundle"
    start = time.monotonic()
    with budget(), pytest.raises(SystemExit) as exit_info:
        main(["compile", str(CORPUS / rel), "-o", str(out)])
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert any(line.startswith("error: ") for line in err.splitlines()) and "Traceback" not in err, err
    assert EXPECTED[rel] in err, err
    assert len(err) < 10_000, f"{len(err)} characters of error output (names must be cut)"
    assert not out.exists()
    assert SECRET[:16] not in err.encode()
    assert took < TIME_S, f"{took:.1f} s"
