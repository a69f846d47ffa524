"""Peer frameworks timed beside an LNE bundle (`lne bench --vs`, benchmarks/): one adapter each.

Every adapter runs the model in one thread, fp32, batch as given, and has
  available() -> bool                 the peer's Python package imports
  prepare(model_path, name) -> Runner or a clear LNEError (PeerSkipped when the peer cannot take
                                      this model at all, e.g. LiteRT and a non-reference network)
and the Runner has
  run(feeds) -> [outputs]             in the ONNX model's output order (shapes may lack the batch
                                      dimension: compare with `matches`)
  time(runs, warmup, feeds) -> {median_ms, min_ms, max_ms}

Converted models (ncnn .param/.bin, LiteRT .tflite) are cached under ~/.cache/lne/peers/
(override with LNE_PEER_CACHE), keyed by the ONNX file's hash.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import LNEError


class PeerSkipped(LNEError):
    """The peer is installed but cannot run this model (the reason is the message)."""


def cache_dir(peer: str) -> Path:
    root = Path(os.environ.get("LNE_PEER_CACHE", Path.home() / ".cache" / "lne" / "peers"))
    return root / peer


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _onnx_io(model_path: Path) -> tuple[dict[str, tuple], list[str]]:
    """{input name: shape (None for a symbolic dimension)} and the output names, in order."""
    import onnx

    g = onnx.load(str(model_path), load_external_data=False).graph
    inits = {t.name for t in g.initializer}
    inputs = {i.name: tuple(d.dim_value if d.HasField("dim_value") else None
                            for d in i.type.tensor_type.shape.dim) for i in g.input if i.name not in inits}
    return inputs, [o.name for o in g.output]


def matches(out, ref, rtol: float = 1e-3) -> tuple[bool, float]:
    """(ok, max abs error) of a peer's output against a reference one; the error is judged
    relative to the reference's magnitude (peers drop or keep a batch-1 dimension)."""
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    if out.size != ref.size:
        return False, float("inf")
    err = float(np.max(np.abs(out.reshape(ref.shape) - ref))) if ref.size else 0.0
    return err <= rtol * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0), err


class Runner:
    """A prepared model: `infer(feeds)` returns the outputs (no copies: what is timed); `run` and
    `time` wrap it."""

    def __init__(self, infer, version: str):
        self.infer, self.version = infer, version

    def run(self, feeds: dict) -> list[np.ndarray]:
        return [np.asarray(o) for o in self.infer(feeds)]

    def time(self, runs: int, warmup: int, feeds: dict) -> dict:
        for _ in range(warmup):
            self.infer(feeds)
        times = []
        for _ in range(max(1, runs)):
            t0 = time.perf_counter()
            self.infer(feeds)
            times.append((time.perf_counter() - t0) * 1e3)
        return {"median_ms": float(np.median(times)), "min_ms": float(np.min(times)),
                "max_ms": float(np.max(times)), "version": self.version}


class Peer:
    name = ""
    module = ""       # the import that must succeed
    install = ""      # what to tell the user

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def require(self) -> None:
        if not self.available():
            raise LNEError(f"--vs {self.name} needs {self.module}: {self.install}")

    def prepare(self, model_path: Path, name: str | None = None, input_shapes: dict | None = None) -> Runner:
        """`input_shapes` ({name: shape}) fixes symbolic dimensions for peers that need them (ncnn)."""
        self.require()
        try:
            return self._prepare(Path(model_path), name, input_shapes or {})
        except LNEError:
            raise
        except Exception as e:  # the peer's own loader/converter refused the model
            raise LNEError(f"{self.name} could not load {model_path}: {type(e).__name__}: {e}") from e

    def _prepare(self, model_path: Path, name: str | None, shapes: dict) -> Runner:
        raise NotImplementedError


class OnnxRuntime(Peer):
    name, module, install = "onnxruntime", "onnxruntime", "pip install 'lne[validate]'"

    def _prepare(self, model_path, name, shapes):
        import onnxruntime as ort

        so = ort.SessionOptions()  # full graph optimisation: the peer is timed at its best
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
        return Runner(lambda feeds: sess.run(None, feeds), ort.__version__)


class Ncnn(Peer):
    """ONNX -> ncnn with pnnx (fp32 weights), run with num_threads=1, lightmode, fp16 off."""
    name, module, install = "ncnn", "ncnn", "pip install ncnn pnnx"

    def available(self) -> bool:
        return super().available() and importlib.util.find_spec("pnnx") is not None

    def require(self) -> None:
        if not self.available():
            raise LNEError(f"--vs ncnn needs the ncnn and pnnx packages: {self.install}")

    def convert(self, model_path: Path, shapes: list[tuple]) -> tuple[Path, Path]:
        import pnnx

        out = cache_dir("ncnn") / _digest(model_path)
        param, weights = out / "model.param", out / "model.bin"
        if param.is_file() and weights.is_file():
            return param, weights
        with tempfile.TemporaryDirectory(prefix="lne-pnnx-") as tmp:
            src = Path(tmp) / "model.onnx"  # pnnx writes its side files next to its input
            shutil.copyfile(model_path, src)
            spec = ",".join("[" + ",".join(map(str, s)) + "]f32" for s in shapes)
            proc = subprocess.run([pnnx.EXEC_PATH, str(src), f"inputshape={spec}", "fp16=0",
                                   "ncnnparam=model.param", "ncnnbin=model.bin"],
                                  cwd=tmp, capture_output=True, text=True)
            if proc.returncode != 0 or not (Path(tmp) / "model.param").is_file():
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise LNEError(f"ncnn: pnnx could not convert {model_path}: " + " | ".join(tail))
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / "model.bin", weights)
            shutil.copyfile(Path(tmp) / "model.param", param)  # last: marks the entry complete
        return param, weights

    def _prepare(self, model_path, name, shapes):
        import ncnn

        inputs, outputs = _onnx_io(model_path)
        shapes = [tuple(shapes.get(n, s)) for n, s in inputs.items()]
        if any(None in s or not s or s[0] != 1 for s in shapes):
            raise PeerSkipped(f"ncnn runs batch 1 with fixed shapes; {model_path} has inputs {shapes}")
        param, weights = self.convert(model_path, shapes)
        net = ncnn.Net()
        opt = net.opt
        opt.num_threads, opt.lightmode = 1, True
        opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = opt.use_bf16_storage = False
        if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
            raise LNEError(f"ncnn could not load {param}")

        def infer(feeds):
            ex = net.create_extractor()
            for i, n in enumerate(inputs):
                ex.input(f"in{i}", ncnn.Mat(np.ascontiguousarray(feeds[n][0])))
            return [np.array(ex.extract(f"out{i}")[1]) for i in range(len(outputs))]

        return Runner(infer, ncnn.__version__)


class OpenVINO(Peer):
    name, module, install = "openvino", "openvino", "pip install openvino"

    def _prepare(self, model_path, name, shapes):
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(model_path)), "CPU", {
            "INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32"})
        req = compiled.create_infer_request()
        outs = list(compiled.outputs)

        def infer(feeds):
            res = req.infer(feeds)
            return [res[o] for o in outs]

        return Runner(infer, ov.__version__.split("-")[0])


class LiteRT(Peer):
    """ai-edge-litert's Interpreter (XNNPACK), one thread, on a .tflite converted from the PyTorch
    reference network with litert-torch. litert-torch may live in another interpreter
    (LNE_LITERT_PYTHON=/path/to/venv/bin/python; benchmarks/README.md)."""
    name, module, install = "litert", "ai_edge_litert", "pip install ai-edge-litert"

    @staticmethod
    def converter_python() -> str:
        return os.environ.get("LNE_LITERT_PYTHON") or sys.executable

    def convert(self, model_path: Path, name: str) -> Path:
        out = cache_dir("litert") / f"{name}-{_digest(model_path)}.tflite"
        if out.is_file():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.part")
        py = self.converter_python()
        proc = subprocess.run([py, "-m", "lne.peers", "convert-litert", name, str(tmp)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise LNEError(f"litert: converting {name!r} with litert-torch under {py} failed ({tail}); "
                           "pip install litert-torch there, or point LNE_LITERT_PYTHON at a venv that has it")
        tmp.replace(out)
        return out

    def _prepare(self, model_path, name, shapes):
        from .models import NAMES

        if name not in NAMES:
            raise PeerSkipped(f"litert: {name!r} is not a reference network (lne.models.NAMES); "
                              "its .tflite comes from converting the PyTorch definition with litert-torch")
        from ai_edge_litert.interpreter import Interpreter

        inputs, _ = _onnx_io(model_path)
        interp = Interpreter(model_path=str(self.convert(model_path, name)), num_threads=1)
        interp.allocate_tensors()
        ins = [d["index"] for d in interp.get_input_details()]
        outs = [d["index"] for d in interp.get_output_details()]
        if len(ins) != len(inputs):
            raise LNEError(f"litert: the .tflite of {name!r} has {len(ins)} inputs, the ONNX model {len(inputs)}")

        def infer(feeds):
            for idx, n in zip(ins, inputs):
                interp.set_tensor(idx, feeds[n])
            interp.invoke()
            return [interp.get_tensor(i) for i in outs]

        import ai_edge_litert
        return Runner(infer, getattr(ai_edge_litert, "__version__", "?"))


ADAPTERS: dict[str, Peer] = {p.name: p for p in (OnnxRuntime(), Ncnn(), LiteRT(), OpenVINO())}
PEERS: tuple[str, ...] = tuple(ADAPTERS)


def installed() -> list[str]:
    return [n for n, p in ADAPTERS.items() if p.available()]


def resolve(vs) -> list[str]:
    """Check `--vs` names ("all" = every installed peer); unknown -> LNEError listing the choices."""
    names: list[str] = []
    for v in vs:
        for n in (installed() if v == "all" else [v]):
            if n not in ADAPTERS:
                raise LNEError(f"--vs {n!r}: unknown peer; installed here: {', '.join(installed()) or 'none'} "
                               f"(known: {', '.join(PEERS)}, or all)")
            if n not in names:
                names.append(n)
    return names


def _convert_litert(name: str, out: str) -> None:
    """Run under the interpreter that has litert-torch: PyTorch reference network -> .tflite."""
    import litert_torch
    import torch

    from .models import build

    module, shape = build(name)
    edge = litert_torch.convert(module, (torch.zeros(shape),))
    edge.export(out)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "convert-litert":
        _convert_litert(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m lne.peers convert-litert NAME OUT.tflite")
