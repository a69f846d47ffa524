"""The 13 reference networks compile for the host, match onnxruntime, and plan memory within
1.10x of the live-set lower bound."""
from __future__ import annotations

import numpy as np
import pytest

from ..conftest import ort_run, random_feeds

NAMES = ["kws_cnn", "ds_cnn", "kws1", "kws3", "kws9", "ds_kws1", "ds_kws3", "ds_kws9",
         "alexnet", "googlenet", "squeezenet1_1", "mobilenet_v2", "resnet50"]


@pytest.mark.parametrize("name", NAMES)
def test_network_matches_onnxruntime(name, reference_model, compile_run):
    path = reference_model(name)
    import onnxruntime as ort

    shape = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    feeds = {"input": np.random.default_rng(7).standard_normal(shape).astype(np.float32)}
    (expected,) = ort_run(path, feeds)
    (got,), sess = compile_run(path, feeds)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-3, atol=1e-4), np.abs(got - expected).max()
    mem = sess.manifest["memory"]
    assert mem["arena_size"] <= 1.10 * mem["lower_bound"], mem
    assert mem["lower_bound"] <= mem["naive_size"]
    # the bound is a real bound: the arena can never be smaller
    assert mem["arena_size"] >= mem["lower_bound"]
