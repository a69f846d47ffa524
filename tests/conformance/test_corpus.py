"""The corpus of malformed models (tests/conformance/corpus/, written by make_corpus.py): each
one, given to `lne compile`, exits with status 2 and `error: <the expected message>`, prints
no traceback and writes no bundle."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CORPUS = Path(__file__).with_name("corpus")


def _expected() -> dict[str, str]:
    out = {}
    for line in (CORPUS / "expected.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, _, error = line.partition(": ")
            out[rel] = error
    return out


EXPECTED = _expected()


def test_every_corpus_file_has_an_expected_error():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in (".onnx", ".prototxt")}
    assert files == set(EXPECTED)
    assert all(EXPECTED.values())


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_corpus_model_fails_cleanly(rel, tmp_path, capsys):
    from lne.cli import main

    if rel.startswith("caffe/") and importlib.util.find_spec("lne.frontends.caffe") is None:
        pytest.skip("the Caffe frontend (lne.frontends.caffe) is not there yet")
    out = tmp_path / "bundle"
    with pytest.raises(SystemExit) as exit_info:
        main(["compile", str(CORPUS / rel), "-o", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert any(line.startswith("error: ") for line in err.splitlines()) and "Traceback" not in err, err
    assert EXPECTED[rel] in err, err
    assert not out.exists()
