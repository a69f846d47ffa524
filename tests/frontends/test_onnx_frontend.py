"""ONNX frontend features: opset range, model-local functions, shape arithmetic folding."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper, version_converter

from lne.frontends.onnx import load
from lne.passes import run

from ..conftest import ort_run

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"


@pytest.mark.parametrize("opset", [9, 11, 13, 21])
def test_opsets_match(opset, compile_run, tmp_path):
    if opset == 21:
        m = version_converter.convert_version(onnx.load(str(SAMPLE)), opset)
    else:
        pytest.importorskip("torch")
        from lne.models import export_onnx
        m = onnx.load(str(export_onnx("ds_cnn", tmp_path / "m.onnx", opset=opset)))
    assert m.opset_import[0].version == opset
    x = np.random.default_rng(opset).standard_normal((1, 1, 40, 32)).astype(np.float32)
    (expected,) = ort_run(m.SerializeToString(), {"input": x})
    (got,), _ = compile_run(m, {"input": x})
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_model_local_function_is_inlined(compile_run):
    # y = HardSwishLike(x) := x * Clip(x + 3, 0, 6) / 6, written as a local function
    fn = helper.make_function(
        "custom", "HSwishLike", ["X"], ["Y"],
        [helper.make_node("Constant", [], ["three"], value=numpy_helper.from_array(np.array(3.0, np.float32))),
         helper.make_node("Constant", [], ["six"], value=numpy_helper.from_array(np.array(6.0, np.float32))),
         helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0.0, np.float32))),
         helper.make_node("Add", ["X", "three"], ["a"]),
         helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
         helper.make_node("Mul", ["X", "c"], ["m"]),
         helper.make_node("Div", ["m", "six"], ["Y"])],
        opset_imports=[helper.make_opsetid("", 17)])
    g = helper.make_graph([helper.make_node("HSwishLike", ["x"], ["y"], domain="custom")], "f",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
                          functions=[fn])
    m.ir_version = 8
    x = np.linspace(-5, 5, 14, dtype=np.float32).reshape(2, 7)
    (expected,) = ort_run(m.SerializeToString(), {"x": x})
    (got,), _ = compile_run(m, {"x": x})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_shape_arithmetic_folds_away(reference_model):
    g = load(reference_model("mobilenet_v2"))
    run(g, {})
    assert not {n.op for n in g.nodes} & {"Shape", "Gather", "Constant", "Unsqueeze", "Concat", "Clip",
                                          "BatchNormalization"}
