"""`lne validate`: a bundle against onnxruntime, output by output or layer by layer."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .errors import LNEError


def _ort_session(model_bytes: bytes):
    try:
        import onnxruntime as ort
    except ImportError:
        raise LNEError("validation needs onnxruntime: pip install 'lne[validate]'") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def compare(lne_out: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> dict:
    """Elementwise |lne - ref| <= atol + rtol |ref|; NaN agrees with NaN and an infinity with
    the same infinity (as onnxruntime gives them), nothing else with either."""
    if lne_out.shape != ref.shape:
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False, "nonfinite_mismatch": 0}
    a, b = lne_out.astype(np.float64), ref.astype(np.float64)
    same = (np.isnan(a) & np.isnan(b)) | (np.isinf(b) & (a == b))
    finite = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(np.where(finite, a, 0.0) - np.where(finite, b, 0.0))
    rel = diff / np.maximum(np.abs(np.where(finite, b, 0.0)), 1e-12)
    bad_nonfinite = int(np.count_nonzero(~finite & ~same))
    ok = bool(bad_nonfinite == 0 and np.all(diff <= atol + rtol * np.abs(np.where(finite, b, 0.0))))
    return {"max_abs": float(diff.max(initial=0)), "max_rel": float(rel.max(initial=0)), "ok": ok,
            "nonfinite_mismatch": bad_nonfinite}


def _feeds(sess, given: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    feeds = {}
    for t in sess.get_inputs():
        x = given.get(t.name)
        feeds[t.name] = (np.asarray(x, np.float32) if x is not None
                         else rng.standard_normal(t.shape).astype(np.float32))
    unknown = set(given) - set(feeds)
    if unknown:
        raise LNEError(f"--input names {sorted(unknown)} are not model inputs {list(feeds)}")
    return feeds


def validate_model(model, bundle=None, inputs=None, input_shapes=None, rtol=1e-3, atol=1e-4, seed=0,
                   per_layer=False, log=lambda m: None) -> dict:
    import onnx

    from .compiler import compile_model
    from .frontends.onnx.loader import load_proto
    from .session import InferenceSession

    model = Path(model)
    with tempfile.TemporaryDirectory(prefix="lne-validate-") as tmp:
        if bundle is None or per_layer:
            log(f"compiling {model}{' (debug, every tensor kept)' if per_layer else ''} ...")
            bundle = compile_model(model, Path(tmp) / "bundle", input_shapes=input_shapes, debug=per_layer)
        sess = InferenceSession(bundle)
        feeds = _feeds(sess, inputs or {}, seed)
        outs = sess.run(None, feeds)
        proto = load_proto(model)
        names = [t.name for t in sess.get_outputs()]
        extra = []
        if per_layer:
            have = {o.name for o in proto.graph.output}
            produced = {o for n in proto.graph.node for o in n.output}
            extra = [t for t in sess.manifest["tensors"] if t in produced and t not in have]
            proto.graph.output.extend(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None)
                                      for t in extra)
        ort_sess = _ort_session(proto.SerializeToString())
        ref = dict(zip(names + extra, ort_sess.run(names + extra, feeds)))
        report = {"model": str(model), "bundle": str(bundle), "rtol": rtol, "atol": atol, "outputs": []}
        for name, y in zip(names, outs):
            report["outputs"].append({"name": name, **compare(y, ref[name], rtol, atol)})
        report["ok"] = all(o["ok"] for o in report["outputs"])
        if per_layer:
            tensors = sess.tensors()
            report["layers_compared"] = 0
            report["first_mismatch"] = None
            for node in sess.manifest["nodes"]:
                for t in node["outputs"]:
                    if t not in ref or t not in tensors:
                        continue
                    report["layers_compared"] += 1
                    c = compare(tensors[t], ref[t], rtol, atol)
                    if not c["ok"] and report["first_mismatch"] is None:
                        report["first_mismatch"] = {"node": node["name"], "op": node["op"], "tensor": t, **c}
            report["ok"] = report["ok"] and report["first_mismatch"] is None
        return report
