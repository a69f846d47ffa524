"""LNE int8 against onnxruntime on the reference networks: the largest difference in the last
quantized tensor (the input of the float tail, e.g. the final Gemm), in quantization steps, for each network quantized by `lne quantize` (SYNTHETIC calibration and
test inputs: standard-normal samples; the networks carry their exported weights).

    python benchmarks/quant_oracle.py [NAME ...] [--inputs 3] [--calib 4] [--exact] [--out FILE]

Two onnxruntime sessions run the same QDQ file:
  * "ORT" -- the default session: QDQ fused into QLinearConv / QLinearAdd / QGemm (integer
    kernels). On x86 CPUs without AVX-VNNI its uint8 x int8 kernel adds product pairs with
    vpmaddubsw, which saturates at int16: exact only when the weights fit [-64, 64]
    (`lne quantize --reduce-range`).
  * "ORT as written" -- graph optimizations off: DequantizeLinear -> float op -> QuantizeLinear,
    the ONNX definition evaluated in float32. Its float sums land on the other side of a
    rounding boundary where the exact value is within ~1e-6 of it; one step of difference then
    grows through deep networks (see tests/quant_runtime/test_qdq_networks.py).
Columns: network | full-range int8: vs ORT, vs ORT as written | reduce-range: vs ORT, vs ORT as
written. Not a test: nothing here passes or fails."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _sessions(path: Path):
    import onnxruntime as ort

    out = []
    for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.graph_optimization_level = level
        so.log_severity_level = 3
        out.append(ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]))
    return out


def measure(name: str, work: Path, n_inputs: int, n_calib: int, exact: bool) -> dict:
    import lne
    from lne.compiler import compile_model
    from lne.models import export_onnx
    from lne.quant import quantize
    from lne.quant.qdq import expose_last_activation

    src = work / f"{name}.onnx"
    export_onnx(name, src)
    import onnx

    inp = onnx.load(str(src)).graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    calib = work / f"{name}.calib"
    calib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n_calib):
        np.save(calib / f"{i}.npy", rng.standard_normal(shape).astype(np.float32))
    row = {}
    for tag, rr in (("full", False), ("reduced", True)):
        q = work / f"{name}.{tag}.onnx"
        quantize(src, q, str(calib), reduce_range=rr)
        exposed, _, step = expose_last_activation(onnx.load(str(q)))
        onnx.save(exposed, str(q))
        sess = lne.InferenceSession(compile_model(q, work / f"{name}.{tag}", exact=exact))
        fused, written = _sessions(q)
        worst = [0, 0]
        for seed in range(1, n_inputs + 1):
            feeds = {inp.name: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}
            got = sess.run(None, feeds)[-1].astype(np.float64)
            for k, s in enumerate((fused, written)):
                worst[k] = max(worst[k], int(np.rint(np.abs(got - s.run(None, feeds)[-1]) / step).max()))
        row[tag] = worst
        log(f"{name} {tag}: {worst[0]} step(s) vs ORT, {worst[1]} vs ORT as written")
    return row


def main() -> None:
    from lne.models import NAMES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(NAMES))
    ap.add_argument("--inputs", type=int, default=3, help="random inputs per network")
    ap.add_argument("--calib", type=int, default=4, help="calibration samples")
    ap.add_argument("--exact", action="store_true", help="compile with --exact (no fp32 Winograd for int8 layers)")
    ap.add_argument("--out", help="write the markdown table here too")
    a = ap.parse_args()
    lines = ["| network | int8: vs ORT | int8: vs ORT as written | --reduce-range: vs ORT | "
             "--reduce-range: vs ORT as written |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.names:
            d = Path(tmp) / name
            d.mkdir()
            r = measure(name, d, a.inputs, a.calib, a.exact)
            lines.append(f"| {name} | {r['full'][0]} | {r['full'][1]} | {r['reduced'][0]} | {r['reduced'][1]} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
