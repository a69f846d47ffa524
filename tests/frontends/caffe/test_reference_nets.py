"""The seven reference Caffe nets: the committed prototxts are what the generator writes from
lne.models; with a caffemodel of the PyTorch weights each compiles for the host and matches
onnxruntime on the ONNX export of the same module, and so does its `lne convert` output."""
from __future__ import annotations

import numpy as np
import pytest

from lne.convert import convert

from ...conftest import ort_run
from .reference_nets import NAMES, prototxt_text

RTOL, ATOL = 1e-3, 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_reference_net_matches_onnx_export(name, caffe_reference, reference_model, compile_run, tmp_path):
    prototxt, weights, net, _ = caffe_reference(name)
    assert prototxt.read_text() == prototxt_text(name, net), \
        f"{prototxt.name} is stale: run python -m tests.frontends.caffe.reference_nets"
    onnx_path = reference_model(name)  # same module, same seed: the same weights
    import onnxruntime as ort
    shape = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    (expected,) = ort_run(onnx_path, {"input": x})

    (got,), sess = compile_run(prototxt, {"data": x}, weights=weights)
    assert [t.name for t in sess.get_inputs()] == ["data"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    nodes = sess.manifest["nodes"]
    assert not [n for n in nodes if n["op"] in ("BatchNormalization", "ChannelAffine", "Mul")], \
        "BatchNorm + Scale pairs must fold into the convolutions"

    converted = convert(prototxt, tmp_path / f"{name}.onnx", weights=weights)
    (again,) = ort_run(converted, {"data": x})
    np.testing.assert_allclose(again, expected, rtol=RTOL, atol=ATOL)
