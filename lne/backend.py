"""lne.backend: the ONNX backend API (onnx.backend.base.Backend) over compile_model +
InferenceSession, so the official ONNX backend tests can run against LNE.

    from lne.backend import LNEBackend
    rep = LNEBackend.prepare(model_proto)      # an onnx.ModelProto
    (y,) = rep.run([x])                        # list (graph input order) or {name: array}

LNE compiles static graphs: an op's configuration (shapes, axes, pads, clip bounds, BatchNorm
statistics) is compiled in, and only float32 tensors flow at run time. The ONNX node tests
feed such operands as graph inputs, so a rep *specialises* the model on their values before
compiling, binding as few inputs as possible:

  1. every input that is not float32 becomes an initializer (LNE takes float32 at run time only);
  2. if LNE rejects that model, every float32 input that no node reads as its first (data)
     operand becomes an initializer too, and LNE compiles that.

Anything else LNE rejects raises its LNEError. `rep.bound` names the inputs bound on the last
run; a specialisation is compiled once per distinct set of bound values.

Compiled bundles are cached on disk under $LNE_BACKEND_CACHE (default ~/.cache/lne/backend), in
a folder per compiler (a hash of LNE's own sources and the C++ compiler), keyed by a hash of the
specialised model and its input shapes: a rerun builds nothing, any change to LNE rebuilds
everything, and the folders of compilers unused for a week are deleted. `compile_many` fills the
cache for many small models at once: it merges them into shared bundles (one C++ build each
instead of one per model); a later prepare/run of one of them uses its part of the shared
bundle, which computes exactly what the model's own bundle would.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from .errors import LNEError

_BUNDLE = "model"  # bundle name (and C symbol prefix) of every cached bundle


def cache_dir() -> Path:
    return Path(os.environ.get("LNE_BACKEND_CACHE") or Path.home() / ".cache" / "lne" / "backend")


@lru_cache(maxsize=None)
def compiler_fingerprint() -> str:
    """A hash of everything that decides what a compiled bundle contains: LNE's Python sources,
    frontends, templates and runtime headers, and the C++ compiler."""
    import lne
    import lne.frontends
    from .resources import runtime_dir, templates_dir

    h = hashlib.sha256()
    for root in (Path(lne.__file__).parent, Path(lne.frontends.__file__).parent, runtime_dir(), templates_dir()):
        for f in sorted(root.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".h", ".j2", ".cpp", ".txt"):
                h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    cxx = shutil.which(os.environ.get("CXX", "c++")) or ""
    h.update(cxx.encode())
    if cxx:
        try:
            h.update(subprocess.run([cxx, "--version"], capture_output=True, timeout=30).stdout)
        except (OSError, subprocess.SubprocessError):
            pass
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def _root() -> Path:
    """This compiler's part of the cache; parts of other compilers unused for a week go."""
    import time

    root = cache_dir() / compiler_fingerprint()
    if cache_dir().is_dir():
        for other in cache_dir().iterdir():
            try:
                if (other != root and re.fullmatch("[0-9a-f]{16}", other.name) and other.is_dir()
                        and time.time() - other.stat().st_mtime > 7 * 86400):
                    shutil.rmtree(other, ignore_errors=True)
            except OSError:
                pass
    root.mkdir(parents=True, exist_ok=True)
    os.utime(root)  # in use
    return root


def _key(model: onnx.ModelProto, shapes: dict) -> str:
    blob = model.SerializeToString(deterministic=True)
    return hashlib.sha256(blob + repr(sorted(shapes.items())).encode()).hexdigest()[:24]


def _built(bundle: Path) -> bool:
    return (bundle / "build" / f"lib{_BUNDLE}.so").is_file()


@lru_cache(maxsize=256)
def _open(bundle: Path):
    from .session import InferenceSession
    return InferenceSession(bundle, build=False)


def _compile(model: onnx.ModelProto, shapes: dict, dest: Path, build: bool = True) -> None:
    """compile_model (and build) `model` into `dest`, atomically: dest exists only when done."""
    from .codegen import c_identifier
    from .compiler import compile_model

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        src = work / f"{c_identifier(model.graph.name or 'model')}.onnx"  # named in error messages
        src.write_bytes(model.SerializeToString())
        bundle = compile_model(src, work / "bundle", name=_BUNDLE, input_shapes=shapes)
        if build:
            _build_library(bundle)
            try:
                bundle.rename(dest)
            except OSError:  # a parallel process finished the same bundle first
                if not _built(dest):
                    raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_library(bundle: Path) -> None:
    """The bundle's own CMake build (Release), shared library only: lne.build.build_bundle
    without the example app, which the backend never runs."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise LNEError("cmake is not installed; install it (apt-get install cmake) to build bundles")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    for cmd in ([cmake, "-S", str(bundle), "-B", str(bundle / "build"), *generator, "-DCMAKE_BUILD_TYPE=Release",
                 "-DLNE_BUILD_EXAMPLE=OFF"], [cmake, "--build", str(bundle / "build")]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LNEError(f"building {bundle} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")


class _Member:
    """One model's part of a shared bundle: its inputs and outputs under a name prefix; the
    other members' inputs are fed zeros."""

    def __init__(self, sess, prefix: str):
        self.sess, self.prefix = sess, prefix

    def get_inputs(self):
        from .session import NodeArg
        n = len(self.prefix)
        return [NodeArg(t.name[n:], t.shape) for t in self.sess.get_inputs() if t.name.startswith(self.prefix)]

    def run(self, output_names, feeds):
        full = {t.name: np.zeros(t.shape, np.float32) for t in self.sess.get_inputs()}
        full.update({self.prefix + k: v for k, v in feeds.items()})
        return self.sess.run([self.prefix + o for o in output_names], full)


def _session(model: onnx.ModelProto, shapes: dict):
    """A session on the host build of `model` (from the cache, or compiled and cached now)."""
    root = _root()
    key = _key(model, shapes)
    member = root / f"{key}.member.json"
    if member.is_file():
        info = json.loads(member.read_text())
        if _built(root / info["bundle"]):
            return _Member(_open(root / info["bundle"]), info["prefix"])
    if not _built(root / key):
        _compile(model, shapes, root / key)
    return _open(root / key)


class LNEBackendRep(BackendRep):
    """A prepared model: compiled on prepare when it needs no specialisation, else on run."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        inits = {i.name for i in model.graph.initializer}
        self.inputs = [vi for vi in model.graph.input if vi.name not in inits]
        self.output_names = [vi.name for vi in model.graph.output]
        data = {n.input[0] for n in model.graph.node if n.input}
        self._params = [vi.name for vi in self.inputs if vi.name not in data]
        self._sessions: dict[str, tuple] = {}
        self.bound: list[str] = []

    def feeds(self, inputs) -> dict[str, np.ndarray]:
        names = [vi.name for vi in self.inputs]
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            inputs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            if len(inputs) != len(names):
                raise LNEError(f"the model has {len(names)} inputs {names}; got {len(inputs)} arrays")
            feeds = dict(zip(names, inputs))
        missing = [n for n in names if n not in feeds]
        if missing:
            raise LNEError(f"missing inputs {missing}; the model's inputs are {names}")
        return {k: np.asarray(v) for k, v in feeds.items()}

    def specialisations(self, feeds) -> list[tuple[list[str], onnx.ModelProto, dict]]:
        """The (bound inputs, model, run-time input shapes) to try, in order."""
        for vi in self.inputs:
            dims = vi.type.tensor_type.shape.dim
            declared = [d.dim_value if d.HasField("dim_value") else None for d in dims]
            fed = list(feeds[vi.name].shape)
            if vi.type.tensor_type.HasField("shape") and (len(declared) != len(fed) or any(
                    d is not None and d != f for d, f in zip(declared, fed))):
                raise LNEError(f"input {vi.name!r} has shape {fed}; the model declares "
                               f"{[d if d is not None else '?' for d in declared]}")
        first = [vi.name for vi in self.inputs if feeds[vi.name].dtype != np.float32]
        second = [vi.name for vi in self.inputs if vi.name in first or vi.name in self._params]
        if first and len(first) == len(self.inputs):
            dtypes = sorted({str(feeds[n].dtype) for n in first})
            raise LNEError(f"the model's inputs are {', '.join(dtypes)}: LNE computes float32 tensors at run time")
        out = []
        for bind in ([first, second] if second != first else [first]):
            if bind and len(bind) == len(self.inputs):
                continue  # nothing would be left to run
            m = onnx.ModelProto()
            m.CopyFrom(self.model)
            keep = [vi for vi in m.graph.input if vi.name not in bind]
            del m.graph.input[:]
            m.graph.input.extend(keep)
            m.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in bind)
            inits = {i.name for i in m.graph.initializer}
            shapes = {vi.name: tuple(int(d) for d in feeds[vi.name].shape)
                      for vi in m.graph.input if vi.name not in inits}
            out.append((bind, m, shapes))
        return out

    def session(self, feeds):
        error = None
        specs = self.specialisations(feeds)
        for bind, model, shapes in specs:
            key = _key(model, shapes)
            if key not in self._sessions:
                try:
                    self._sessions[key] = (bind, _session(model, shapes))
                except LNEError as e:
                    self._sessions[key] = (bind, e)
            bound, sess = self._sessions[key]
            if not isinstance(sess, LNEError):
                return bound, sess
            error = sess
        raise error

    def run(self, inputs, **kwargs) -> tuple[np.ndarray, ...]:
        feeds = self.feeds(inputs)
        self.bound, sess = self.session(feeds)
        return tuple(sess.run(self.output_names, {t.name: feeds[t.name] for t in sess.get_inputs()}))


class LNEBackend(Backend):
    """ONNX backend over LNE's host build: prepare / run_model / run_node / supports_device."""

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return Device(device).type == DeviceType.CPU
        except (AttributeError, ValueError):
            return False

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs) -> LNEBackendRep:
        if not cls.supports_device(device):
            raise LNEError(f"LNE's backend runs on the CPU only, not {device!r}")
        if isinstance(model, (bytes, str, os.PathLike)):
            from google.protobuf.message import DecodeError
            try:
                model = onnx.load_model_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
            except (OSError, DecodeError, ValueError) as e:
                raise LNEError(f"cannot read the ONNX model: {e}") from None
        rep = LNEBackendRep(model)
        tt = [vi.type.tensor_type for vi in rep.inputs]
        if not rep._params and all(t.elem_type == onnx.TensorProto.FLOAT and t.HasField("shape")
                                   and all(d.HasField("dim_value") for d in t.shape.dim) for t in tt):
            # nothing to specialise: compile now, so that an unsupported model fails in prepare
            rep.session({vi.name: np.zeros([d.dim_value for d in t.shape.dim], np.float32)
                         for vi, t in zip(rep.inputs, tt)})
        return rep

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs) -> tuple[np.ndarray, ...]:
        """Run one NodeProto: wrapped in a one-node model of the default opset (or
        kwargs["opset_version"]), with one graph input per named node input."""
        from onnx import helper

        names = [n for n in node.input if n]
        if isinstance(inputs, dict):
            arrays = [np.asarray(inputs[n]) for n in names]
        else:
            arrays = [np.asarray(x) for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        if len(arrays) != len(names):
            raise LNEError(f"node {node.name!r} has {len(names)} inputs; got {len(arrays)} arrays")
        graph = helper.make_graph(
            [node], "run_node",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in zip(names, arrays)],
            [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in node.output if o])
        from .frontends.onnx import MAX_OPSET
        opset = kwargs.get("opset_version", min(onnx.defs.onnx_opset_version(), MAX_OPSET))
        return cls.run_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), arrays, device)


def compile_many(items, batch_size: int = 24) -> int:
    """Fill the cache for many (model, inputs) pairs at once; returns the number of C++ builds.

    Each model is specialised as `run(inputs)` would, checked by compiling it without a build,
    and the ones LNE accepts are merged (grouped by opset imports, `batch_size` at a time) into
    shared bundles. Safe to call from several processes at once: they share the work through
    a lock per shared bundle. A model left out (rejected, or in a shared bundle that failed to
    build) is simply compiled on its own when it is run."""
    root = _root()
    groups: dict[str, list] = {}
    for model, inputs in items:
        rep = LNEBackendRep(model)
        try:
            feeds = rep.feeds(inputs)
            specs = rep.specialisations(feeds)
        except LNEError:
            continue
        for _, spec, shapes in specs:
            if _accepted(spec, shapes):
                opsets = repr(sorted((o.domain, o.version) for o in spec.opset_import))
                groups.setdefault(opsets, []).append((spec, shapes))
                break
    batches = [g[i:i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]
    builds, waiting = 0, []
    for blocking in (False, True):
        for batch in (batches if not blocking else waiting):
            merged, shapes, prefixes = _merge(batch)
            name = "batch-" + _key(merged, shapes)
            root.mkdir(parents=True, exist_ok=True)
            with open(root / f"{name}.lock", "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    waiting.append(batch)
                    continue
                if _built(root / name):
                    continue
                try:
                    _compile(merged, shapes, root / name)
                except LNEError:
                    continue
                builds += 1
                for (spec, spec_shapes), prefix in zip(batch, prefixes):
                    _write_atomic(root / f"{_key(spec, spec_shapes)}.member.json",
                                  json.dumps({"bundle": name, "prefix": prefix}))
    return builds


@lru_cache(maxsize=4096)
def _accepted_cached(blob: bytes, shapes: tuple) -> bool:
    model = onnx.load_model_from_string(blob)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _compile(model, dict(shapes), Path(tmp) / "b", build=False)
        except LNEError:
            return False
    return True


def _accepted(model, shapes) -> bool:
    """Does LNE compile `model` (up to the C++ build)?"""
    return _accepted_cached(model.SerializeToString(deterministic=True), tuple(sorted(shapes.items())))


def _merge(batch) -> tuple[onnx.ModelProto, dict, list[str]]:
    """One model computing every model of `batch` side by side, names prefixed m<i>_."""
    from onnx import compose, helper

    graph = helper.make_graph([], "batch", [], [])
    shapes, prefixes = {}, []
    for i, (model, model_shapes) in enumerate(batch):
        prefix = f"m{i}_"
        p = compose.add_prefix(model, prefix)
        for field in ("node", "input", "output", "initializer", "value_info"):
            getattr(graph, field).extend(getattr(p.graph, field))
        shapes.update({prefix + k: v for k, v in model_shapes.items()})
        prefixes.append(prefix)
    first = batch[0][0]
    merged = helper.make_model(graph, opset_imports=first.opset_import,
                               ir_version=max(m.ir_version for m, _ in batch))
    return merged, shapes, prefixes


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


prepare = LNEBackend.prepare
run_model = LNEBackend.run_model
run_node = LNEBackend.run_node
supports_device = LNEBackend.supports_device
