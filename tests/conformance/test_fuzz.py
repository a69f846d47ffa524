"""Fuzzing the frontends (and the passes and code generation behind them) with hypothesis:
real models mutated in their dims, data lengths, attributes, graph wiring, names and bytes.

The only acceptable failure is LNE's own error (LNEError or a subclass) with a message and no
partial bundle left behind; a crash, another exception type, a hang (> HANG_S seconds) or a
runaway allocation (> MEMORY_HEADROOM bytes) fails the test, and the mutated model is saved
so it can be added to tests/conformance/corpus/ with the error it must produce.

CI runs a fixed (derandomized) sequence of 6 x 400 = 2,400 mutated models per frontend.
The longer run for a release draws new models each time:

    LNE_FUZZ_EXAMPLES=20000 LNE_FUZZ_RANDOM=1 python -m pytest -n 2 tests/conformance/test_fuzz.py
"""
from __future__ import annotations

import os
import shutil
import signal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lne.errors import LNEError

from ..budget import budget

from .mutate import FAMILIES, Chooser, mutate_bytes, mutate_caffemodel, mutate_onnx, mutate_prototxt
from .seeds import caffe_seeds, net_parameter, onnx_seeds

EXAMPLES = int(os.environ.get("LNE_FUZZ_EXAMPLES", "400"))  # per frontend and mutation family
HANG_S = 30
MEMORY_HEADROOM = 4 << 30

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                    derandomize=not os.environ.get("LNE_FUZZ_RANDOM"),
                    suppress_health_check=list(HealthCheck))


class Hang(Exception):
    pass


def guarded():
    """Turn a hang into Hang and a runaway allocation into MemoryError (both count as bugs)."""
    return budget(MEMORY_HEADROOM, None, lambda: Hang(f"compiling one mutated model took more than {HANG_S} s"))


def compile_must_not_crash(tmp_path, files: dict[str, bytes], model: str, weights: str | None = None) -> None:
    """Compile the mutated model (no C++ build): success, or an LNEError and no output."""
    from lne.compiler import compile_model

    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "bundle"
    shutil.rmtree(out, ignore_errors=True)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        compile_model(tmp_path / model, out, weights=tmp_path / weights if weights else None)
    except LNEError as e:
        assert str(e).strip(), "an LNEError without a message"
        assert not out.exists(), f"an LNEError left a partial bundle behind: {e}"
    except BaseException as e:
        keep = tmp_path.parent / "fuzz-failures"
        keep.mkdir(exist_ok=True)
        for name, data in files.items():
            (keep / f"{os.getpid()}-{name}").write_bytes(data)
        raise AssertionError(f"{type(e).__name__} (not an LNEError) on a mutated model, saved in {keep}: "
                             f"add it to tests/conformance/corpus/ once fixed") from e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN / inf weights are fair game
@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_onnx(family, tmp_path):
    seeds = onnx_seeds()
    count = [0]

    @SETTINGS
    @given(rnd=st.randoms(use_true_random=False), seed=st.integers(0, len(seeds) - 1))
    def one(rnd, seed):
        count[0] += 1
        data = mutate_onnx(Chooser(rnd), seeds[seed], family)
        compile_must_not_crash(tmp_path, {"model.onnx": data}, "model.onnx")

    with guarded():
        one()
    assert count[0] >= EXAMPLES


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN / inf weights are fair game
@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_caffe(family, tmp_path):
    if net_parameter() is None:
        pytest.skip("the Caffe frontend (lne.frontends.caffe) is not there yet; this half runs once it is")
    seeds = caffe_seeds()
    count = [0]

    @SETTINGS
    @given(rnd=st.randoms(use_true_random=False), seed=st.integers(0, len(seeds) - 1))
    def one(rnd, seed):
        count[0] += 1
        c = Chooser(rnd)
        text, weights = seeds[seed]
        if family == "data":  # data lengths live in the caffemodel
            weights = mutate_caffemodel(c, weights, net_parameter())
        elif family == "bytes" and c.bool():
            weights = mutate_bytes(c, weights)
        else:
            text = mutate_prototxt(c, text, family)
        compile_must_not_crash(tmp_path, {"net.prototxt": text.encode("utf-8", "surrogatepass"),
                                          "net.caffemodel": weights}, "net.prototxt", "net.caffemodel")

    with guarded():
        one()
    assert count[0] >= EXAMPLES


@pytest.mark.parametrize("index", range(len(onnx_seeds())))
def test_onnx_seed_compiles_and_matches_onnxruntime(index):
    """The seeds are valid models LNE computes right (so mutations start from real ones); the
    exporter-style seed covers scalar constants in shape arithmetic (once turned 1-D by LNE)."""
    import numpy as np
    import onnx

    from lne.backend import LNEBackend

    from ..conftest import ort_run

    m = onnx.load_model_from_string(onnx_seeds()[index])
    vi = m.graph.input[0]
    x = np.random.default_rng(index).standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim])
    feeds = {vi.name: x.astype(np.float32)}
    got = LNEBackend.run_model(m, feeds)
    for g, e in zip(got, ort_run(m.SerializeToString(), feeds)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
