"""Caffe net reading without compiling: phase rules, input forms and overrides, in-place blob
naming, V1 caffemodels, BatchNorm + Scale merging."""
from __future__ import annotations

import numpy as np
import pytest

from lne.errors import LNEError
from lne.frontends import caffe
from lne.frontends.caffe.schema import NetParameter
from lne.passes import run
from lne.passes.fold import infer_and_fold
from lne.reference import run_graph

from .caffemodel import write_blobs

RNG = np.random.default_rng(5)


def _load(tmp_path, text, weights=None, shapes=None):
    p = tmp_path / "net.prototxt"
    p.write_text(text)
    return caffe.load(p, weights, shapes)


PHASES = """
state { stage: "deploy" }
input: "data"
layer { name: "always" type: "ReLU" bottom: "data" top: "a" }
layer { name: "test_only" type: "Sigmoid" bottom: "a" top: "b" include { phase: TEST } }
layer { name: "train_only" type: "TanH" bottom: "a" top: "b" include { phase: TRAIN } }
layer { name: "not_in_test" type: "TanH" bottom: "b" top: "b" exclude { phase: TEST } }
layer { name: "staged" type: "ReLU6" bottom: "b" top: "c" include { stage: "deploy" } }
layer { name: "unstaged" type: "TanH" bottom: "b" top: "c" include { stage: "train" } }
layer { name: "high_level" type: "TanH" bottom: "c" top: "c" include { min_level: 1 } }
"""


def test_phase_stage_and_level_rules(tmp_path):
    g = _load(tmp_path, PHASES, shapes={"data": (1, 4)})
    assert [n.name for n in g.nodes] == ["always", "test_only", "staged"]
    assert [n.op for n in g.nodes] == ["Relu", "Sigmoid", "Clip"]
    assert g.inputs == ["data"] and g.tensors["data"].shape == (1, 4)


def test_input_shape_override_and_unknown_name(tmp_path):
    text = 'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n' \
           'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
    assert _load(tmp_path, text).tensors["data"].shape == (1, 3, 8, 8)
    assert _load(tmp_path, text, shapes={"data": (2, 3, 5, 5)}).tensors["data"].shape == (2, 3, 5, 5)
    with pytest.raises(LNEError, match=r"--input-shape names \['image'\]"):
        _load(tmp_path, text, shapes={"image": (1, 3, 8, 8)})


def test_in_place_layers_keep_the_caffe_blob_name(tmp_path):
    text = """input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "drop" type: "Dropout" bottom: "conv1" top: "conv1" }
layer { name: "split" type: "Split" bottom: "data" top: "copy1" top: "copy2" }
"""
    w = write_blobs(tmp_path / "w.caffemodel", {"conv1": [RNG.standard_normal((2, 2, 1, 1)), np.zeros(2)]})
    g = _load(tmp_path, text, w)
    assert g.outputs == ["conv1", "copy1", "copy2"]  # Caffe's net outputs: unconsumed blobs, by name
    assert [(n.op, n.inputs[:1], n.outputs) for n in g.nodes] == [
        ("Conv", ["data"], ["conv1@conv1"]), ("Relu", ["conv1@conv1"], ["conv1"]),
        ("Identity", ["data"], ["copy1"]), ("Identity", ["data"], ["copy2"])]


def test_weights_from_a_v1_caffemodel(tmp_path):
    text = """input: "data" input_shape { dim: 1 dim: 3 }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
"""
    w, b = RNG.standard_normal((2, 3)).astype(np.float32), RNG.standard_normal(2).astype(np.float32)
    old = NetParameter()
    layer = old.layers.add(name="fc", type=14)  # V1LayerParameter.LayerType INNER_PRODUCT
    for a in (w.reshape(1, 1, 2, 3), b.reshape(1, 1, 1, 2)):  # V1 blobs: legacy 4-D num/channels/height/width
        blob = layer.blobs.add(num=a.shape[0], channels=a.shape[1], height=a.shape[2], width=a.shape[3])
        blob.data.extend(a.reshape(-1).tolist())
    path = tmp_path / "old.caffemodel"
    path.write_bytes(old.SerializeToString())
    g = _load(tmp_path, text, path)
    x = RNG.standard_normal((1, 3)).astype(np.float32)
    infer_and_fold(g, {})
    np.testing.assert_allclose(run_graph(g, {"data": x})["fc"], x @ w.T + b, rtol=1e-6)


def test_batchnorm_scale_pair_is_one_batchnorm(tmp_path):
    text = """input: "a" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
input: "b" input_shape { dim: 1 dim: 3 dim: 3 dim: 3 }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
layer { name: "bn" type: "BatchNorm" bottom: "cat" top: "cat" }
layer { name: "sc" type: "Scale" bottom: "cat" top: "cat" scale_param { bias_term: true } }
"""
    mean, var = RNG.standard_normal(5), RNG.uniform(0.5, 2, 5)
    gamma, beta = RNG.standard_normal(5), RNG.standard_normal(5)
    w = write_blobs(tmp_path / "w.caffemodel", {"bn": [mean * 10, var * 10, [10.0]], "sc": [gamma, beta]})
    g = _load(tmp_path, text, w)
    assert [n.op for n in g.nodes] == ["Concat", "BatchNormalization"]
    a, b = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32), RNG.standard_normal((1, 3, 3, 3)).astype(np.float32)
    x = np.concatenate([a, b], 1)
    c = (1, 5, 1, 1)
    expected = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + 1e-5) * gamma.reshape(c) + beta.reshape(c)
    np.testing.assert_allclose(run_graph(g, {"a": a, "b": b})["cat"], expected, rtol=1e-5, atol=1e-6)
    run(g, {"isa": ()})
    assert [n.op for n in g.nodes] == ["Concat", "ChannelAffine"]
