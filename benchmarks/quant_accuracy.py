"""Top-1 accuracy of a KWS model trained by the pipeline, fp32 against its int8 and int16 QDQ
models (`lne quantize`, calibrated on the training features), each run by onnxruntime and by
the LNE bundle, on the held-out test split of the pipeline's features artifact.

    python benchmarks/quant_accuracy.py RUN_DIR [--out FILE.json]

RUN_DIR is a pipeline work folder (`lne pipeline run workflows/kws-synthetic.yml`): it holds
train/data/model.onnx and features/data/features.h5 (groups train / test with mfcc, label).
Also reports each weight storage from `lne inspect`'s count of parameters. Not a test."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(100.0 * np.mean(outputs.argmax(1) == labels))


def parameters(bundle: Path) -> int:
    """Bytes of the bundle's parameters, as `lne inspect` reports them (its `parameters:` line)."""
    from lne.session import find_manifest

    return int(sum(find_manifest(Path(bundle))["parameters"].values()))


def main() -> None:
    import h5py
    import onnxruntime as ort

    import lne
    from lne.compiler import compile_model
    from lne.quant import quantize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args()
    model, feats = a.run / "train/data/model.onnx", a.run / "features/data/features.h5"
    with h5py.File(feats) as f:
        x, y = f["test/mfcc"][()].astype(np.float32), f["test/label"][()]
    name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    x = x.reshape(len(x), 1, 1, *x.shape[1:])
    res = {"model": str(model), "test_samples": int(len(y))}

    def ort_top1(path) -> tuple[float, np.ndarray]:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # the QDQ model as written
        s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        out = np.concatenate([s.run(None, {name: xi})[0] for xi in x])
        return top1(out, y), out

    with tempfile.TemporaryDirectory() as tmp:
        fp32_bundle = compile_model(model, Path(tmp) / "fp32")
        res["fp32"] = {"onnxruntime": ort_top1(model)[0], "parameters_bytes": parameters(fp32_bundle)}
        for mode in ("int8", "int16"):
            q = Path(tmp) / f"model.{mode}.onnx"
            quantize(model, q, str(feats), mode=mode, log=log)
            bundle = compile_model(q, Path(tmp) / mode)
            sess = lne.InferenceSession(bundle)
            got = np.concatenate([sess.run(None, {name: xi})[0] for xi in x])
            res[mode] = {"onnxruntime": ort_top1(q)[0], "lne": top1(got, y),
                         "parameters_bytes": parameters(bundle)}
            res[mode]["lne_minus_fp32_points"] = res[mode]["lne"] - res["fp32"]["onnxruntime"]
            res[mode]["storage_vs_fp32"] = res[mode]["parameters_bytes"] / res["fp32"]["parameters_bytes"]
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
