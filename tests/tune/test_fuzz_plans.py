"""Fuzzing plan.json (`lne compile --plan`): mutated plans of a real model are accepted only
when every node names a kernel that applies, and otherwise fail with LNE's own error."""
from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from lne.errors import LNEError
from lne.tune.plan import FORMAT, VERSION, plan_for_model

FUZZ = settings(max_examples=int(os.environ.get("LNE_FUZZ_PLAN_EXAMPLES", "100")), deadline=None, database=None,
                derandomize=not os.environ.get("LNE_FUZZ_RANDOM"), suppress_health_check=list(HealthCheck))

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=30),
                    st.lists(st.text(max_size=8), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                                max_size=3))


_LAYERS = {}


def _layers(model):
    from lne.tune.candidates import model_layers

    if model.read_bytes() not in _LAYERS:
        _LAYERS[model.read_bytes()] = model_layers(model, "host", (), None, None)
    return _LAYERS[model.read_bytes()]


def _plan(model) -> dict:
    layers = _layers(model)
    return {"format": FORMAT, "version": VERSION, "target": "host", "plugins": [],
            "nodes": [{"name": l.name, "op": l.op, "kernel": l.kernels[0]} for l in layers]}


@FUZZ
@given(data=st.data())
def test_fuzz_plans(small_model, tmp_path, data):
    doc = _plan(small_model)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(["top", "node", "nodes"]))
        if where == "top":
            key = data.draw(st.sampled_from(["format", "version", "target", "plugins", "nodes", "extra"]))
            doc[key] = data.draw(_VALUES)
        elif where == "nodes" and isinstance(doc.get("nodes"), list):
            op = data.draw(st.sampled_from(["drop", "dup", "many"]))
            if op == "drop" and doc["nodes"]:
                doc["nodes"].pop(data.draw(st.integers(0, len(doc["nodes"]) - 1)))
            elif op == "dup" and doc["nodes"]:
                doc["nodes"].append(dict(doc["nodes"][0]))
            elif op == "many":
                doc["nodes"] += [{"name": f"n{i}", "kernel": "k"} for i in range(20000)]
        elif isinstance(doc.get("nodes"), list) and doc["nodes"]:
            node = doc["nodes"][data.draw(st.integers(0, len(doc["nodes"]) - 1))]
            if isinstance(node, dict):
                node[data.draw(st.sampled_from(["name", "kernel", "op"]))] = data.draw(_VALUES)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    try:
        kernels, _ = plan_for_model(path, small_model, "host", warn=lambda msg: None)
    except LNEError as e:
        assert str(e)
    else:
        layers = _layers(small_model)
        assert set(kernels) == {l.name for l in layers}
        assert all(kernels[l.name] in l.kernels for l in layers)
