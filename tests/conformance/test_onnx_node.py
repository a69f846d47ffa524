"""The official ONNX node tests against lne.backend: every in-scope test (see onnx_node.py)
passes with onnx's own comparison, or is listed in onnx_exclusions.txt and rejected by LNE
with an LNEError. Bundles are built many models at a time (lne.backend.compile_many) and
cached on disk, so a rerun builds nothing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lne.errors import LNEError

from .onnx_node import EXCLUSIONS, all_cases, exclusions, first_inputs, in_scope_cases, run_case

CASES = {c.name: c for c in in_scope_cases()}
EXCLUDED = exclusions()


@pytest.fixture(scope="module")
def compiled():
    """Build the bundles of all tests expected to pass, a shared bundle per ~24 of them."""
    from lne.backend import compile_many

    compile_many([(c.case.model, first_inputs(c)) for n, c in CASES.items() if n not in EXCLUDED])


@pytest.mark.parametrize("name", sorted(CASES))
def test_node(name, compiled):
    nc = CASES[name]
    if name not in EXCLUDED:
        run_case(nc)
        return
    try:
        run_case(nc)
    except LNEError:
        return  # rejected with a clear error, as the exclusion says
    except AssertionError as e:
        pytest.fail(f"{name} is excluded ({EXCLUDED[name]}), so LNE must reject it with an LNEError; "
                    f"instead it compiled and computed a wrong answer:\n{e}")
    pytest.fail(f"{name} passes now: remove it from {EXCLUSIONS.name}")


def test_exclusions_name_in_scope_tests():
    known = {c.name for c in all_cases()}
    for name in EXCLUDED:
        assert name in known, f"{EXCLUSIONS.name}: {name} is not an ONNX node test"
        assert name in CASES, f"{EXCLUSIONS.name}: {name} needs an op LNE does not support: not in scope"


def test_supported_ops_keep_their_semantics_up_to_max_opset():
    """The ONNX frontend reads opsets up to MAX_OPSET: for every op LNE accepts, the schema at
    MAX_OPSET must have the attributes, inputs and outputs of opset 21 (later versions only
    add element types)."""
    import onnx.defs

    from lne.frontends.onnx import MAX_OPSET
    from .onnx_node import accepted_ops

    def signature(s):
        return ({a: (v.type, v.required, v.default_value.SerializeToString()) for a, v in s.attributes.items()},
                [(i.name, i.option, i.type_str) for i in s.inputs], [(o.name, o.option, o.type_str) for o in s.outputs])

    # Cast gained round_mode and Range stash_type: both only act on float8 / float16 types;
    # DequantizeLinear gained output_dtype and QuantizeLinear precision (LNE refuses any but float32)
    allowed = {("Cast", "round_mode"), ("Range", "stash_type"), ("DequantizeLinear", "output_dtype"),
               ("QuantizeLinear", "precision")}
    for op in sorted(accepted_ops()):
        old, new = signature(onnx.defs.get_schema(op, 21, "")), signature(onnx.defs.get_schema(op, MAX_OPSET, ""))
        added = {(op, a) for a in set(new[0]) - set(old[0])}
        assert added <= allowed, f"{op}: attributes {sorted(a for _, a in added)} added after opset 21"
        assert {a: v for a, v in new[0].items() if (op, a) not in allowed} == old[0], op
        if op in ("DequantizeLinear", "QuantizeLinear"):  # type variables renamed for those attributes
            new, old = [[io[:2] for io in ios] for ios in new[1:]], [[io[:2] for io in ios] for ios in old[1:]]
        else:
            new, old = new[1:], old[1:]
        assert new == old, f"{op}: inputs/outputs changed after opset 21"


# -- the backend API itself ------------------------------------------------------------------
def test_run_node_and_run_model_match_numpy():
    from onnx import helper

    from lne.backend import LNEBackend

    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    (y,) = LNEBackend.run_node(helper.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 1]), [x])
    np.testing.assert_array_equal(y, x.transpose(2, 0, 1))
    assert LNEBackend.supports_device("CPU") and not LNEBackend.supports_device("CUDA")


def test_specialisation_follows_the_bound_values():
    """A Reshape whose shape is a graph input: each distinct shape value is compiled in."""
    from onnx import TensorProto, helper

    from lne.backend import LNEBackend

    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "r",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                           helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    rep = LNEBackend.prepare(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    for shape in ([3, 4], [12, 1]):
        (y,) = rep.run({"x": x, "s": np.array(shape, np.int64)})
        np.testing.assert_array_equal(y, x.reshape(shape))
        assert rep.bound == ["s"]


def test_backend_errors_are_lne_errors():
    from onnx import TensorProto, helper

    from lne.backend import LNEBackend

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "r",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    rep = LNEBackend.prepare(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(LNEError, match="2 arrays"):
        rep.run([np.zeros(3, np.float32)] * 2)
    with pytest.raises(LNEError, match="shape"):
        rep.run([np.zeros(4, np.float32)])
    with pytest.raises(LNEError, match="CPU only"):
        LNEBackend.prepare(helper.make_model(g), "CUDA")


def test_onnx_support_page_is_current():
    """docs/onnx-support.md is what scripts/onnx_support.py writes when this suite passes."""
    import onnx

    from .onnx_node import expected_outcomes, render_support

    page = Path(__file__).resolve().parents[2] / "docs" / "onnx-support.md"
    text = page.read_text()
    if f"onnx {onnx.__version__})" not in text:
        pytest.skip(f"{page.name} was generated with another onnx version than the installed {onnx.__version__}")
    assert render_support(expected_outcomes()) == text, f"{page} is stale: run python scripts/onnx_support.py"
