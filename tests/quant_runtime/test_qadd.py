"""QAdd against onnxruntime's fused QLinearAdd (the default session fuses DQ, DQ -> Add -> Q into
it; its x86 kernel is exact integer-in, float-FMA math that LNE's QAdd shares): the numpy
reference and the compiled kernel equal it bit for bit on SYNTHETIC random tensors covering every
8-bit value, awkward lengths (vector body + scalar tail) and unrelated scales and zero points;
against the model as written (float32 DQ -> Add -> Q) they differ by one step at most."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lne
from lne.compiler import compile_model, load_model
from lne.passes import run as run_passes
from lne.reference import run_graph
from lne.targets import get as get_target


def _add_model(shape, sa, za, sb, zb, sy, zy, dtype=np.uint8, relu=False):
    inits = [numpy_helper.from_array(np.array(v, np.float32 if isinstance(v, float) else dtype), n)
             for v, n in ((sa, "sa"), (za, "za"), (sb, "sb"), (zb, "zb"), (sy, "sy"), (zy, "zy"))]
    nodes = [helper.make_node("QuantizeLinear", ["a", "sa", "za"], ["aq"]),
             helper.make_node("QuantizeLinear", ["b", "sb", "zb"], ["bq"]),
             helper.make_node("DequantizeLinear", ["aq", "sa", "za"], ["ad"]),
             helper.make_node("DequantizeLinear", ["bq", "sb", "zb"], ["bd"]),
             helper.make_node("Add", ["ad", "bd"], ["s"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["s"], ["sr"]))
    nodes += [helper.make_node("QuantizeLinear", ["sr" if relu else "s", "sy", "zy"], ["yq"]),
              helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"])]
    f = TensorProto.FLOAT
    g = helper.make_graph(nodes, "qadd", [helper.make_tensor_value_info(n, f, shape) for n in "ab"],
                          [helper.make_tensor_value_info("y", f, shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _ort(model, feeds, optimized):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


CASES = [  # (a_scale, a_zp, b_scale, b_zp, y_scale, y_zp)
    (0.05, 128, 0.07, 100, 0.09, 120),
    (0.013, 0, 0.0021, 250, 0.011, 3),
    (0.31, 17, 0.31, 17, 0.5, 0),
    (1.7e-3, 200, 2.3e-2, 9, 2.9e-2, 255),
    (0.04, -10, 0.06, 20, 0.08, -5),      # int8 activations
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("relu", [False, True])
def test_qadd_equals_onnxruntime_qlinearadd(case, relu, tmp_path):
    sa, za, sb, zb, sy, zy = case
    shape = [1, 3, 37, 41]   # 4551 elements: 568 vectors of 8 and a tail of 7
    dtype = np.int8 if min(za, zb, zy) < 0 else np.uint8
    m = _add_model(shape, sa, za, sb, zb, sy, zy, dtype=dtype, relu=relu)
    rng = np.random.default_rng(len(tmp_path.name))
    # every 8-bit code appears: float inputs spread over (and beyond) each input's range
    lo = int(np.iinfo(dtype).min) - 8
    feeds = {"a": ((rng.integers(lo, lo + 272, shape) - za) * sa).astype(np.float32),
             "b": ((rng.integers(lo, lo + 272, shape) - zb) * sb).astype(np.float32)}
    path = tmp_path / "qadd.onnx"
    onnx.save(m, path)
    g = load_model(path)
    run_passes(g, {"isa": get_target("host").isa})
    assert [n.op for n in g.nodes].count("QAdd") == 1
    fused, written = _ort(m, feeds, True), _ort(m, feeds, False)
    ref = run_graph(g, feeds)[g.outputs[0]]
    got = lne.InferenceSession(compile_model(path, tmp_path / "b")).run(None, feeds)[0]
    np.testing.assert_array_equal(got, ref)
    if relu and zy != 0:   # onnxruntime fuses Add + Relu only when the Relu is the clamp at zero point 0;
        assert np.abs(np.rint((got.astype(np.float64) - fused) / np.float32(sy))).max() <= 1  # else: float
    else:
        np.testing.assert_array_equal(got, fused)
    assert np.abs(np.rint((got.astype(np.float64) - written) / np.float32(sy))).max() <= 1
