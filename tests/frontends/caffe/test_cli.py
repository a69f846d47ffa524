"""The issue's two commands on a reference net: `lne compile deploy.prototxt --weights
net.caffemodel` and `lne convert deploy.prototxt --weights net.caffemodel -o net.onnx`."""
from __future__ import annotations

import json

import numpy as np

from ...conftest import lne_cli, ort_run


def test_convert_help_has_example():
    r = lne_cli("convert", "--help")
    assert r.returncode == 0 and "Example" in r.stdout and "lne convert deploy.prototxt" in r.stdout


def test_compile_and_convert_commands(tmp_path, caffe_reference, reference_model):
    prototxt, weights, _, _ = caffe_reference("ds_cnn")
    r = lne_cli("compile", prototxt, "--weights", weights, "--target", "host", "-o", tmp_path / "b", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["name"] == "ds_cnn" and (tmp_path / "b" / "ds_cnn.h").is_file()
    manifest = json.loads((tmp_path / "b" / "ds_cnn.json").read_text())
    assert [i["name"] for i in manifest["inputs"]] == ["data"] and manifest["outputs"][0]["shape"] == [1, 12]

    out = tmp_path / "ds_cnn.onnx"
    r = lne_cli("convert", prototxt, "--weights", weights, "-o", out)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    x = np.random.default_rng(5).standard_normal((1, 1, 40, 32)).astype(np.float32)
    (expected,) = ort_run(reference_model("ds_cnn"), {"input": x})
    (got,) = ort_run(out, {"data": x})
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
