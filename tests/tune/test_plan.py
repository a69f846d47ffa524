"""plan.json and `lne compile --plan`: a plan that does not match the model fails clearly,
naming the node; a matching plan is what the bundle runs."""
from __future__ import annotations

import json

import pytest

from lne.errors import LNEError
from lne.tune.candidates import model_layers
from lne.tune.plan import plan_for_model, read_plan, write_plan
from tests.conftest import lne_cli


def _plan(tmp_path, model, kernels: dict, name="plan.json", **extra):
    return write_plan(tmp_path / name, {"model": str(model), "target": "host", "plugins": [],
                                        "nodes": [{"name": n, "kernel": k} for n, k in kernels.items()], **extra})


def _defaults(model):
    return {l.name: l.default for l in model_layers(model)}


def test_a_matching_plan_is_what_the_bundle_runs(tmp_path, small_model):
    layers = model_layers(small_model)
    conv = next(l for l in layers if l.op == "Conv")
    assert {"conv2d_f32_ref", "conv2d_f32_im2col"} <= set(conv.kernels)
    assert all(l.default in l.kernels for l in layers)
    kernels = {**_defaults(small_model), conv.name: "conv2d_f32_ref"}
    plan = _plan(tmp_path, small_model, kernels)
    assert plan_for_model(plan, small_model)[0] == kernels
    r = lne_cli("compile", small_model, "--plan", plan, "-o", tmp_path / "out", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "out" / "small.json").read_text())
    assert {n["name"]: n["kernel"] for n in m["nodes"]} == kernels


def test_plan_naming_an_unknown_node_fails_naming_it(tmp_path, small_model):
    plan = _plan(tmp_path, small_model, {**_defaults(small_model), "ghost": "conv2d_f32_ref"})
    with pytest.raises(LNEError, match="node 'ghost' is not a node of"):
        plan_for_model(plan, small_model)
    r = lne_cli("compile", small_model, "--plan", plan, "-o", tmp_path / "out")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "'ghost'" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_plan_missing_a_node_fails_naming_it(tmp_path, small_model):
    kernels = _defaults(small_model)
    gemm = next(n for n in kernels if "fc" in n)
    del kernels[gemm]
    with pytest.raises(LNEError, match=f"node {gemm!r} .Gemm. is not in the plan"):
        plan_for_model(_plan(tmp_path, small_model, kernels), small_model)


def test_plan_with_a_kernel_that_does_not_apply_fails_naming_node_and_candidates(tmp_path, small_model):
    kernels = _defaults(small_model)
    conv = next(n for n in kernels if "conv" in n)
    plan = _plan(tmp_path, small_model, {**kernels, conv: "conv2d_f32_depthwise"})  # a group-1 conv
    with pytest.raises(LNEError, match=f"kernel 'conv2d_f32_depthwise' does not apply to node {conv!r}.*candidates"):
        plan_for_model(plan, small_model)
    r = lne_cli("compile", small_model, "--plan", plan, "-o", tmp_path / "out")
    assert r.returncode == 2 and r.stderr.startswith("error:") and conv in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text,message", [
    ("{not json", "not JSON"),
    ('{"format": "something-else"}', "not an lne plan"),
    ('{"format": "lne-plan", "version": 99, "nodes": []}', "plan version 99"),
    ('{"format": "lne-plan", "version": 1, "nodes": [{"name": "a"}]}', "field 'nodes'"),
    ('{"format": "lne-plan", "version": 1, "nodes": [{"name": "a", "kernel": "k"}, {"name": "a", "kernel": "k"}]}',
     "node 'a' appears more than once"),
])
def test_malformed_plan_files_fail_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(LNEError, match=message) as e:
        read_plan(path)
    assert str(path) in str(e.value)


def test_plan_from_another_file_warns_but_compiles_when_nodes_match(tmp_path, small_model):
    warnings = []
    plan = _plan(tmp_path, small_model, _defaults(small_model), fingerprint="sha256:" + "0" * 64, target="rpi4")
    plan_for_model(plan, small_model, warn=warnings.append)
    assert any("different file" in w for w in warnings) and any("rpi4" in w for w in warnings)
