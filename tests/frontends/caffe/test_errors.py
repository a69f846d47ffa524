"""Bad Caffe input: `lne compile` / `lne convert` exit 2 with a message naming the file, layer
and field (line and column for syntax), no traceback, and nothing written."""
from __future__ import annotations

import numpy as np
import pytest

from ...conftest import lne_cli
from .caffemodel import write_blobs

HEAD = """name: "bad"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
"""
CONV = """layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 %s }
}
"""
RNG = np.random.default_rng(0)


def _good_weights(tmp_path, w_shape=(4, 3, 3, 3)):
    return write_blobs(tmp_path / "w.caffemodel", {"conv1": [RNG.standard_normal(w_shape), RNG.standard_normal(4)]})


def _fails(tmp_path, text, *needles, weights=None, cmd="compile"):
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    out = tmp_path / ("out.onnx" if cmd == "convert" else "out")
    args = [cmd, proto, "-o", out] + (["--weights", weights] if weights else [])
    r = lne_cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert not out.exists(), "a failed run left output behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "temporary file left behind"
    return r.stderr


def test_valid_net_compiles(tmp_path):
    """The baseline every failing case below changes one thing of."""
    proto = tmp_path / "net.prototxt"
    proto.write_text(HEAD + CONV % "")
    r = lne_cli("compile", proto, "--weights", _good_weights(tmp_path), "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr


def test_blob_shape_disagrees_with_layer(tmp_path):
    weights = _good_weights(tmp_path, w_shape=(4, 3, 5, 5))
    _fails(tmp_path, HEAD + CONV % "", "layer 'conv1' (Convolution)", "blob 0 (weights)", "[4, 3, 5, 5]",
           "[4, 3, 3, 3]", weights=weights)


def test_blob_data_shorter_than_its_shape(tmp_path):
    from lne.frontends.caffe.schema import LayerParameter
    from .caffemodel import field, layer_field

    blob = LayerParameter(name="conv1").blobs.add()
    blob.shape.dim.extend([4, 3, 3, 3])
    blob.data.extend([0.5] * 100)
    head = LayerParameter(name="conv1", blobs=[blob]).SerializeToString()
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(layer_field(head, [np.zeros(4)]) + field(1, b"x"))
    _fails(tmp_path, HEAD + CONV % "", str(weights), "layer 'conv1' blob 0", "holds 100 values", "needs 108",
           weights=weights)


@pytest.mark.parametrize("cmd", ["compile", "convert"])
def test_truncated_caffemodel(tmp_path, cmd):
    weights = _good_weights(tmp_path)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    _fails(tmp_path, HEAD + CONV % "", str(weights), "truncated", weights=weights, cmd=cmd)


def test_syntax_error_has_line_and_column(tmp_path):
    text = HEAD + CONV % "stride 2"  # missing ':' on line 8
    err = _fails(tmp_path, text, "net.prototxt:8:", "syntax error")
    assert "stride" in err or "':'" in err


def test_unknown_field_names_the_line(tmp_path):
    _fails(tmp_path, HEAD + CONV % "strides: 2", "net.prototxt:8:", 'no field named "strides"')


def test_unknown_layer_types_all_listed(tmp_path):
    text = HEAD + CONV % "" + """
layer { name: "up" type: "Deconvolution" bottom: "conv1" top: "up" convolution_param { num_output: 2 kernel_size: 2 } }
layer { name: "roi1" type: "ROIPooling" bottom: "up" top: "roi1" roi_pooling_param { pooled_h: 6 } }
layer { name: "roi2" type: "ROIPooling" bottom: "roi1" top: "roi2" roi_pooling_param { pooled_h: 6 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "roi2" top: "loss" }
"""
    _fails(tmp_path, text, "3 unsupported Caffe layer type(s)", "Deconvolution: layers 'up'",
           "ROIPooling: layers 'roi1', 'roi2'", "SoftmaxWithLoss: layers 'loss'", "phase: TRAIN",
           "Supported layer types:", weights=_good_weights(tmp_path))


def test_bottom_nobody_produces(tmp_path):
    text = HEAD + (CONV % "").replace('bottom: "data"', 'bottom: "dataa"')
    _fails(tmp_path, text, "layer 'conv1' (Convolution)", "bottom 'dataa' is not produced", weights=_good_weights(tmp_path))


def test_zero_stride(tmp_path):
    _fails(tmp_path, HEAD + CONV % "stride: 0", "layer 'conv1'", "convolution_param.stride=0 must be positive",
           weights=_good_weights(tmp_path))


def test_zero_pooling_stride(tmp_path):
    text = HEAD + 'layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" ' \
                  'pooling_param { pool: MAX kernel_size: 2 stride_h: 0 stride_w: 2 } }\n'
    _fails(tmp_path, text, "layer 'pool' (Pooling)", "pooling_param.stride=[0, 2] must be positive")


def test_group_does_not_divide_channels(tmp_path):
    _fails(tmp_path, HEAD + CONV % "group: 2", "layer 'conv1'", "convolution_param.group=2 does not divide the 3 input channels",
           weights=_good_weights(tmp_path))


def test_missing_weights(tmp_path):
    _fails(tmp_path, HEAD + CONV % "", "layer 'conv1'", "--weights")


def test_weights_lack_the_layer(tmp_path):
    weights = write_blobs(tmp_path / "w.caffemodel", {"conv9": [np.zeros((4, 3, 3, 3)), np.zeros(4)]})
    _fails(tmp_path, HEAD + CONV % "", "has no layer named 'conv1'", weights=weights)


def test_v1_layers_format_says_how_to_upgrade(tmp_path):
    text = 'name: "old"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n' \
           'layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 } }\n'
    _fails(tmp_path, text, "V1 format", "upgrade_net_proto_text")


def test_input_without_shape_asks_for_one(tmp_path):
    text = 'input: "data"\n' + CONV % ""
    _fails(tmp_path, text, "input 'data' has no shape", "--input-shape data=", weights=_good_weights(tmp_path))


def test_training_statistics_refused(tmp_path):
    text = HEAD + 'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn" batch_norm_param { use_global_stats: false } }\n'
    _fails(tmp_path, text, "layer 'bn' (BatchNorm)", "batch_norm_param.use_global_stats is false")


def test_binary_file_given_as_prototxt(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_bytes(_good_weights(tmp_path).read_bytes())
    r = lne_cli("compile", proto, "-o", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(proto) in r.stderr, r.stderr
