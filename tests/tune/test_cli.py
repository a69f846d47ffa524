"""`lne tune` refuses bad input clearly (exit 2, "error: ...", nothing written)."""
from __future__ import annotations

from tests.conftest import lne_cli


def _fails(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.splitlines()[-1].startswith("error:") and "Traceback" not in r.stderr
    assert all(w in r.stderr for w in words), r.stderr


def test_missing_model(tmp_path):
    _fails(lne_cli("tune", tmp_path / "nope.onnx", "-o", tmp_path / "plan.json"), "nope.onnx")
    assert not (tmp_path / "plan.json").exists()


def test_bad_search_parameters(tmp_path, small_model):
    _fails(lne_cli("tune", small_model, "-o", tmp_path / "plan.json", "--episodes", 0), "--episodes")
    _fails(lne_cli("tune", small_model, "-o", tmp_path / "plan.json", "--lr", 2), "--lr")
    assert not (tmp_path / "plan.json").exists()


def test_unknown_plugin_and_board_without_remote(tmp_path, small_model):
    _fails(lne_cli("tune", small_model, "-o", tmp_path / "p.json", "--plugin", "cudnn9"), "unknown plugin 'cudnn9'")
    _fails(lne_cli("tune", small_model, "--target", "rpi4", "-o", tmp_path / "p.json"), "--remote")
    assert not (tmp_path / "p.json").exists()
