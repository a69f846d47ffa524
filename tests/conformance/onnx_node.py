"""The official ONNX node tests (onnx.backend.test) that concern the ops LNE supports, the
exclusions file, and one function that runs a test the way onnx's own runner does.

A node test *uses* op X when its graph has a node of type X. It is *in scope* when it uses at
least one op of `lne supported-ops` and every op in its graph is one LNE accepts (supported,
or folded at compile time); in-scope tests must pass or be listed in onnx_exclusions.txt.
Tests that also need an op LNE does not support are counted in docs/onnx-support.md only.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

import lne.ops

EXCLUSIONS = Path(__file__).with_name("onnx_exclusions.txt")

# Per-test tolerances (the node tests default to rtol 1e-3, atol 1e-7), each with its reason.
TOLERANCES: dict[str, tuple[float, float, str]] = {}


@dataclass(frozen=True)
class NodeCase:
    name: str
    ops: frozenset[str]
    case: object  # onnx.backend.test.case.test_case.TestCase

    @property
    def in_scope(self) -> bool:
        return bool(self.ops & set(lne.ops.supported())) and self.ops <= accepted_ops()


def accepted_ops() -> frozenset[str]:
    return frozenset(lne.ops.supported()) | frozenset(lne.ops.folded_only())


def _graph_ops(graph) -> set[str]:
    ops = set()
    for node in graph.node:
        ops.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}")
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                ops |= _graph_ops(g)
    return ops


@lru_cache(maxsize=None)
def all_cases() -> tuple[NodeCase, ...]:
    """Every node test of the installed onnx, with the ops its graph uses."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the generators' own overflow warnings
        cases = load_model_tests(kind="node")
    return tuple(sorted((NodeCase(c.name, frozenset(_graph_ops(c.model.graph)), c) for c in cases),
                        key=lambda c: c.name))


def in_scope_cases() -> list[NodeCase]:
    return [c for c in all_cases() if c.in_scope]


def exclusions(path: Path = EXCLUSIONS) -> dict[str, str]:
    """{test name: reason} from the exclusions file (lines `test_name: reason`, # comments)."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, reason = line.partition(":")
        if not sep or not reason.strip() or not name.strip().startswith("test_"):
            raise ValueError(f"{path}:{n}: expected 'test_name: reason', got {line!r}")
        if name.strip() in out:
            raise ValueError(f"{path}:{n}: {name.strip()} is listed twice")
        out[name.strip()] = reason.strip()
    return out


def _arrays(items) -> list[np.ndarray]:
    from onnx import TensorProto, numpy_helper
    return [numpy_helper.to_array(x) if isinstance(x, TensorProto) else x for x in items]


def first_inputs(nc: NodeCase) -> list[np.ndarray]:
    return _arrays(nc.case.data_sets[0][0])


def run_case(nc: NodeCase) -> None:
    """Run one node test as onnx.backend.test.runner does (prepare, run every data set, compare
    with Runner.assert_similar_outputs); raises on failure."""
    from onnx.backend.test.runner import Runner

    from lne.backend import LNEBackend

    rtol, atol, _ = TOLERANCES.get(nc.name, (nc.case.rtol, nc.case.atol, ""))
    rep = LNEBackend.prepare(nc.case.model, "CPU")
    for inputs, expected in nc.case.data_sets:
        outputs = rep.run(_arrays(inputs))
        Runner.assert_similar_outputs(_arrays(expected), list(outputs), rtol=rtol, atol=atol)


# -- docs/onnx-support.md ---------------------------------------------------------------------
def run_all(progress=None) -> dict[str, str]:
    """Run every in-scope test: {name: "passed" | "excluded" | "FAILED: why"}. An excluded test
    counts as excluded only if LNE rejects it with an LNEError, as the suite demands."""
    from lne.backend import compile_many
    from lne.errors import LNEError

    excluded = exclusions()
    cases = in_scope_cases()
    compile_many([(c.case.model, first_inputs(c)) for c in cases if c.name not in excluded])
    out = {}
    for c in cases:
        try:
            run_case(c)
            out[c.name] = "FAILED: passes but is listed as excluded" if c.name in excluded else "passed"
        except LNEError as e:
            out[c.name] = "excluded" if c.name in excluded else f"FAILED: {str(e).splitlines()[0]}"
        except Exception as e:  # a wrong answer (AssertionError) or a crash
            out[c.name] = f"FAILED: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
        if progress:
            progress(c.name, out[c.name])
    return out


def expected_outcomes() -> dict[str, str]:
    """What run_all() gives when the conformance suite passes."""
    excluded = exclusions()
    return {c.name: "excluded" if c.name in excluded else "passed" for c in in_scope_cases()}


def render_support(outcomes: dict[str, str]) -> str:
    import onnx
    import onnx.defs

    excluded = exclusions()
    supported, folded = lne.ops.supported(), lne.ops.folded_only()
    cases = all_cases()
    lines = [
        "# ONNX support", "",
        "Generated by `python scripts/onnx_support.py` from a run of the official ONNX node tests "
        f"(`onnx.backend.test`, onnx {onnx.__version__}) against `lne.backend`; do not edit by hand.",
        "", "A node test counts for op X when its graph uses X. It is *in scope* when every op in its graph is "
        "one LNE accepts; in-scope tests must pass or be excluded with a reason "
        "(`tests/conformance/onnx_exclusions.txt`), and an excluded test must be rejected with a clear "
        "error, never answered wrongly. Tests that also need an op LNE does not support are counted in the "
        "last column only.", "",
        "| op | passed / in scope | excluded | also need an unsupported op |", "|---|---|---|---|"]
    failed = {n: o for n, o in outcomes.items() if o.startswith("FAILED")}
    for op in supported + folded:
        using = [c for c in cases if op in c.ops]
        scoped = [c for c in using if c.name in outcomes]
        passed = sum(outcomes[c.name] == "passed" for c in scoped)
        excl = sum(outcomes[c.name] == "excluded" for c in scoped)
        note = " (folded at compile time only)" if op in folded else ""
        lines.append(f"| {op}{note} | {passed} / {len(scoped)} | {excl} | {len(using) - len(scoped)} |")
    total = len(outcomes)
    lines += ["", f"In scope: {total} tests; passed {sum(o == 'passed' for o in outcomes.values())}, "
              f"excluded {sum(o == 'excluded' for o in outcomes.values())}, failed {len(failed)}.", ""]
    reasons: dict[str, int] = {}
    for name in outcomes:
        if name in excluded:
            reasons[excluded[name]] = reasons.get(excluded[name], 0) + 1
    lines += ["## Exclusions by reason", "", "| tests | reason |", "|---|---|"]
    lines += [f"| {n} | {r} |" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    if failed:
        lines += ["", "## Failed", ""] + [f"- `{n}`: {o[len('FAILED: '):]}" for n, o in sorted(failed.items())]
    known = sorted({s.name for s in onnx.defs.get_all_schemas() if s.domain == "" and not s.deprecated})
    missing = [op for op in known if op not in supported and op not in folded]
    lines += ["", "## ONNX ops not supported", "",
              f"{len(missing)} of the {len(known)} ops of the default ONNX domain: "
              + ", ".join(missing) + ".", ""]
    return "\n".join(lines)
