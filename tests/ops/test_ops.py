"""Every supported op: numpy reference and compiled bundle, each against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from lne import ops
from lne.frontends.onnx import load
from lne.passes.fold import infer_and_fold
from lne.reference import run_graph

from ..conftest import ort_run
from .cases import CASES


def test_every_supported_op_has_a_case_and_a_kernel():
    from lne import kernels

    covered = {c.op for c in CASES}
    assert set(ops.supported()) - covered == set(), "ops without a test case"
    for op in ops.supported():
        if op == "BatchNormalization":  # lowered to ChannelAffine or folded before kernel selection
            op = "ChannelAffine"
        assert kernels.for_op(op), f"{op} has no kernel"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference_matches_onnxruntime(case, tmp_path):
    path = tmp_path / "m.onnx"
    import onnx
    onnx.save(case.model(), str(path))
    feeds = case.feeds()
    (expected,) = ort_run(path, feeds)
    g = load(path)
    infer_and_fold(g, {})
    got = run_graph(g, feeds)["y"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiled_matches_onnxruntime(case, compile_run):
    feeds = case.feeds(seed=1)
    (expected,) = ort_run(case.model().SerializeToString(), feeds)
    (got,), _ = compile_run(case.model(), feeds)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
