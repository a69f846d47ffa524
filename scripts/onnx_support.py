"""Write docs/onnx-support.md from a run of the official ONNX node tests against lne.backend.

    python scripts/onnx_support.py [-o docs/onnx-support.md]

Exits 1 when a test fails that should pass (the page then lists it under "Failed")."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conformance.onnx_node import render_support, run_all  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "onnx-support.md")
    p.add_argument("-v", "--verbose", action="store_true", help="print each test's outcome")
    a = p.parse_args(argv)
    report = (lambda name, outcome: print(f"{name}: {outcome}", file=sys.stderr)) if a.verbose else None
    outcomes = run_all(report)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(render_support(outcomes))
    failed = [n for n, o in outcomes.items() if o.startswith("FAILED")]
    print(f"{a.output}: {len(outcomes)} in-scope node tests, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
