"""Hostile Caffe files (issue 14): sizes, string lengths and nesting are bounded before
protobuf's text parser runs, blob shapes before any allocation, only regular files are opened,
and long in-place chains load in linear time. Every failure is an LNEError naming the file
(and the line, or the layer and blob)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from lne.errors import LNEError
from lne.frontends import caffe
from lne.frontends.caffe.schema import NetParameter

from ...conftest import lne_cli
from .caffemodel import field, write_blobs

INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'


def _load(tmp_path, text, weights=None):
    p = tmp_path / "net.prototxt"
    p.write_text(text)
    return caffe.load(p, weights)


def _load_fails(tmp_path, text, *needles, weights=None):
    with pytest.raises(LNEError) as e:
        _load(tmp_path, text, weights)
    msg = str(e.value)
    assert "net.prototxt" in msg or (weights is not None and str(weights) in msg), msg[:300]
    for n in needles:
        assert n in msg, (n, msg[:500])
    return msg


# -- before the text parser ----------------------------------------------------------------------
def test_escaped_backslash_string_is_refused_quickly(tmp_path):
    """A run of escaped backslashes is quadratic in protobuf's unescaping (200,000 took minutes)."""
    text = INPUT + 'layer { name: "' + "\\\\" * 200_000 + '" type: "ReLU" bottom: "data" top: "r" }\n'
    start = time.monotonic()
    _load_fails(tmp_path, text, "net.prototxt:2:", "backslashes in a row")
    assert time.monotonic() - start < 10


def test_a_few_backslashes_are_fine(tmp_path):
    g = _load(tmp_path, INPUT + 'layer { name: "a\\\\b\\\\\\\\c" type: "ReLU" bottom: "data" top: "r" }\n')
    assert [n.name for n in g.nodes] == ["a\\b\\\\c"]


def test_long_string_is_refused(tmp_path):
    from lne.limits import MAX_STRING

    text = INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" include { stage: "' \
        + "s" * (MAX_STRING + 1) + '" } }\n'
    _load_fails(tmp_path, text, "net.prototxt:2:", f"at most {MAX_STRING}")


@pytest.mark.parametrize("brackets", ["{}", "<>"])
def test_deep_nesting_is_an_error_naming_the_file(tmp_path, brackets):
    """Was a RecursionError (an internal error) inside protobuf's text parser."""
    o, c = brackets
    text = INPUT + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" ' \
        + f"convolution_param {o} " * 5000 + c * 5000 + " }\n"
    _load_fails(tmp_path, text, "net.prototxt:2:", "nested more than 64 levels deep")


def test_deep_nesting_in_the_header(tmp_path):
    _load_fails(tmp_path, "state { " * 3000 + "}" * 3000 + "\n" + INPUT, "nested more than 64 levels deep")


def test_deep_nesting_through_the_cli(tmp_path):
    p = tmp_path / "net.prototxt"
    p.write_text(INPUT + "layer { " * 100_000 + "}" * 100_000 + "\n")
    r = lne_cli("compile", p, "-o", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "net.prototxt" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_huge_name_is_refused_and_cut(tmp_path):
    msg = _load_fails(tmp_path, INPUT + 'layer { name: "\x1b[31m' + "n" * 100_000
                      + '" type: "ReLU" bottom: "data" top: "r" }\n', "net.prototxt:2:", "is too long",
                      "at most 4096 characters")
    assert len(msg) < 1000 and "\x1b" not in msg


def test_layer_count_is_bounded(tmp_path, monkeypatch):
    import lne.frontends.caffe.reader as reader

    monkeypatch.setattr(reader, "MAX_NODES", 5)
    text = INPUT + "".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "data" }}\n' for i in range(5))
    _load_fails(tmp_path, text, "6 layers", "at most 5")


def test_syntax_error_line_and_column_in_a_later_block(tmp_path):
    """Blocks are parsed alone (no newlines prepended: that was quadratic); the error still
    names the file's line and column."""
    text = INPUT + 'layer { name: "a" type: "ReLU" bottom: "data" top: "a" }\n' \
        + '  layer { name: "b" type: "ReLU" bogus: 1 bottom: "a" top: "b" }\n' \
        + 'layer {\n  name: "c"\n  type: "ReLU"\n  bottom: "b" top: "c" ]\n}\n'
    with pytest.raises(LNEError) as e:
        _load(tmp_path, text)
    assert "net.prototxt:4:" in str(e.value) or "net.prototxt:7:" in str(e.value), str(e.value)


def test_unknown_field_names_its_line_and_column(tmp_path):
    text = INPUT + '\n  layer { name: "b" type: "ReLU" bogus: 1 bottom: "data" top: "b" }\n'
    with pytest.raises(LNEError, match=r"net\.prototxt:3:34: syntax error: .*bogus"):
        _load(tmp_path, text)


# -- blobs ---------------------------------------------------------------------------------------
CONV = INPUT + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" ' \
    'convolution_param { num_output: 2 kernel_size: 1 } %s }\n'


@pytest.mark.parametrize("dims", [[2**62, 2**62, 16], [2**63 - 1, 2], [1] * 9])
def test_blob_dims_in_the_prototxt(tmp_path, dims):
    """Dims whose product overflows int64 were a ValueError (an internal error)."""
    blob = "blobs { shape { " + " ".join(f"dim: {d}" for d in dims) + " } } blobs { shape { dim: 2 } data: 0 data: 0 }"
    _load_fails(tmp_path, CONV % blob, "layer 'c' blob 0", "LNE compiles tensors of at most")


def test_blob_dims_in_the_caffemodel(tmp_path):
    from lne.frontends.caffe.schema import BlobShape

    weights = tmp_path / "w.caffemodel"
    blob = field(7, BlobShape(dim=[2**62, 2**62, 16]).SerializeToString())
    bias = field(7, BlobShape(dim=[2]).SerializeToString())
    weights.write_bytes(field(100, field(1, b"c") + field(7, blob) + field(7, bias)))
    msg = _load_fails(tmp_path, CONV % "", "layer 'c' blob 0", "w.caffemodel", weights=weights)
    assert "2147483647 elements" in msg


def test_inferred_rank_above_max_is_refused_naming_the_layer(tmp_path):
    text = INPUT + 'layer { name: "rs" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { ' \
        + "dim: 1 " * 20 + "dim: 32 } } }\n"
    _load_fails(tmp_path, text, "layer 'rs' (Reshape)", "21 dimensions", "at most 8")


# -- only regular files --------------------------------------------------------------------------
def test_fifo_prototxt(tmp_path):
    fifo = tmp_path / "net.prototxt"
    os.mkfifo(fifo)
    r = lne_cli("compile", fifo, "-o", tmp_path / "out")
    assert r.returncode == 2 and "FIFO" in r.stderr and "not a regular file" in r.stderr, r.stderr


def test_fifo_caffemodel(tmp_path):
    p = tmp_path / "net.prototxt"
    p.write_text(CONV % "")
    fifo = tmp_path / "w.caffemodel"
    os.mkfifo(fifo)
    r = lne_cli("compile", p, "--weights", fifo, "-o", tmp_path / "out")
    assert r.returncode == 2 and "FIFO" in r.stderr and "w.caffemodel" in r.stderr, r.stderr


def test_folder_as_caffemodel(tmp_path):
    (tmp_path / "w.caffemodel").mkdir()
    with pytest.raises(LNEError, match="folder"):
        _load(tmp_path, CONV % "", tmp_path / "w.caffemodel")


# -- linear in the number of layers --------------------------------------------------------------
@pytest.mark.parametrize("same_name", [False, True])
def test_long_in_place_chain_loads_in_linear_time(tmp_path, same_name):
    """20,000 in-place ReLU layers (top == bottom) stalled: every layer block was parsed with
    all the file's earlier newlines prepended, and every node name checked against a set rebuilt
    from all nodes. Layers of one name made the fresh-name search quadratic too."""
    n = 20_000
    names = ["r"] * (n - 1) if same_name else [f"r{i}" for i in range(n - 1)]
    text = INPUT + 'layer { name: "first" type: "ReLU" bottom: "data" top: "x" }\n' + "".join(
        f'layer {{ name: "{name}" type: "ReLU" bottom: "x" top: "x" }}\n' for name in names)
    start = time.monotonic()
    g = _load(tmp_path, text)
    took = time.monotonic() - start
    assert len(g.nodes) == n and g.outputs == ["x"]  # the last writer gives the blob its own name
    assert len({node.name for node in g.nodes}) == n
    assert took < 30, f"{took:.1f} s for {n} layers"


def test_long_batchnorm_scale_chain_merges_in_one_pass(tmp_path):
    """BatchNorm + Scale pairs, in place: each merge restarted the scan over all nodes."""
    n = 2000
    layers = "".join(
        f'layer {{ name: "bn{i}" type: "BatchNorm" bottom: "data" top: "data" }}\n'
        f'layer {{ name: "sc{i}" type: "Scale" bottom: "data" top: "data" scale_param {{ bias_term: true }} }}\n'
        for i in range(n))
    blobs = {}
    for i in range(n):
        blobs[f"bn{i}"] = [np.zeros(2), np.ones(2), np.ones(1)]
        blobs[f"sc{i}"] = [np.full(2, 1.0 + i % 3), np.full(2, 0.5)]
    weights = write_blobs(tmp_path / "w.caffemodel", blobs)
    start = time.monotonic()
    g = _load(tmp_path, INPUT + layers, weights)
    took = time.monotonic() - start
    assert [node.op for node in g.nodes] == ["BatchNormalization"] * n
    assert took < 60, f"{took:.1f} s"


def test_many_outputs_through_in_place_aliases(tmp_path):
    """Blobs whose last writer is an alias (Dropout in place) are renamed in one pass over the
    nodes, not one pass per output."""
    n = 3000
    text = INPUT + "".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "b{i}" }}\n'
                           f'layer {{ name: "d{i}" type: "Dropout" bottom: "b{i}" top: "b{i}" }}\n' for i in range(n))
    g = _load(tmp_path, text)
    assert sorted(g.outputs) == sorted(f"b{i}" for i in range(n))
    produced = {o for node in g.nodes for o in node.outputs}
    assert set(g.outputs) <= produced


def test_net_parameter_round_trip_is_unchanged():
    """The schema still parses a plain net the same way (a guard for the scanner's bounds)."""
    from google.protobuf import text_format

    net = text_format.Parse(INPUT, NetParameter())
    assert net.layer[0].input_param.shape[0].dim == [1, 2, 4, 4]
