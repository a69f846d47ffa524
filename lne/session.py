"""InferenceSession: load a host-built bundle through cffi, with an onnxruntime-like API."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LNEError
from .limits import MAX_ELEMENTS, MAX_RANK, load_json, plain, read_bytes, show

_ALIGN = 64


@dataclass(frozen=True)
class NodeArg:
    """Like onnxruntime.NodeArg: name, shape, type."""
    name: str
    shape: list[int]
    type: str = "tensor(float)"


def _aligned(nbytes: int) -> np.ndarray:
    raw = np.zeros(nbytes + _ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % _ALIGN
    return raw[start:start + nbytes]


_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_MAX_BYTES = 1 << 40  # an arena or weights size past this is not a bundle LNE wrote
_int = (int,)


def _field(doc, key, types, where, default=...):
    if key not in doc:
        if default is not ...:
            return default
        raise LNEError(f"{where}: field {key!r} is missing")
    value = doc[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise LNEError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _count(doc, key, where, limit=_MAX_BYTES) -> int:
    v = _field(doc, key, _int, where)
    if not 0 <= v <= limit:
        raise LNEError(f"{where}: field {key!r} = {v} is out of range")
    return v


def _shape(doc, where) -> list[int]:
    shape = _field(doc, "shape", (list,), where)
    if len(shape) > MAX_RANK or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_ELEMENTS
                                        for d in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise LNEError(f"{where}: field 'shape' must be at most {MAX_RANK} positive dimensions "
                       f"(got {show(str(shape))})")
    return shape


def check_manifest(m, where: str) -> dict:
    """The bundle manifest with the types of every field LNE reads checked (a manifest is
    a file, and a file can be edited or crafted): errors name the file and field."""
    if not isinstance(m, dict):
        raise LNEError(f"{where}: not an LNE manifest (a JSON object is expected)")
    name = _field(m, "name", (str,), where)
    if not _NAME_RE.fullmatch(name):
        raise LNEError(f"{where}: field 'name' {show(name)} is not a bundle name LNE writes")
    _field(m, "target", (str,), where)
    _field(m, "debug", (bool,), where, False)
    _count(m, "arena_size", where)
    _count(m, "weights_size", where)
    for io in ("inputs", "outputs"):
        items = _field(m, io, (list,), where)
        if not items and io == "outputs":
            raise LNEError(f"{where}: field 'outputs' is empty")
        for i, t in enumerate(items):
            w = f"{where}: {io}[{i}]"
            if not isinstance(t, dict):
                raise LNEError(f"{w} must be an object")
            _field(t, "name", (str,), w)
            _shape(t, w)
    for i, n in enumerate(_field(m, "nodes", (list,), where)):
        w = f"{where}: nodes[{i}]"
        if not isinstance(n, dict):
            raise LNEError(f"{w} must be an object")
        for key in ("name", "op", "kernel"):
            _field(n, key, (str,), w)
        _count(n, "macs", w, 1 << 62)
        _shape(n, w)
    tensors = _field(m, "tensors", (dict,), where, {})
    for tname, t in tensors.items():
        w = f"{where}: tensors[{show(tname)}]"
        if not isinstance(t, dict):
            raise LNEError(f"{w} must be an object")
        _count(t, "offset", w)
        _shape(t, w)
    steps = _field(m, "steps", (list,), where, [])
    if not all(isinstance(s, str) for s in steps):
        raise LNEError(f"{where}: field 'steps' must be a list of node names")
    memory = _field(m, "memory", (dict,), where, None)
    if memory is not None:
        for key in ("arena_size", "lower_bound", "naive_size"):
            _count(memory, key, f"{where}: memory")
        _field(memory, "algorithm", (str,), f"{where}: memory")
        _field(memory, "buffers", (list,), f"{where}: memory")
    params = _field(m, "parameters", (dict,), where, {})
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in params.values()):
        raise LNEError(f"{where}: field 'parameters' must map dtypes to byte counts")
    plugins = _field(m, "plugins", (list,), where, [])
    if not all(isinstance(p, str) for p in plugins):
        raise LNEError(f"{where}: field 'plugins' must be a list of plugin names")
    return m


def find_manifest(bundle: Path, trusted: bool = False) -> dict:
    """The manifest <name>.json of a bundle folder, read and checked (``trusted``: written by
    this process a moment ago, which checked it before writing; parsed only)."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise LNEError(f"{plain(str(bundle), 200)}: not a bundle folder")
    for f in sorted(bundle.glob("*.json")):
        if f.is_symlink() or not f.is_file():
            continue
        try:
            data = json.loads(f.read_bytes()) if trusted else load_json(f, "the manifest")
        except (LNEError, ValueError):
            continue  # another JSON file; the manifest is the one with lne_version
        if isinstance(data, dict) and "lne_version" in data:
            return data if trusted else check_manifest(data, plain(str(f), 200))
    raise LNEError(f"{plain(str(bundle), 200)}: not an LNE bundle (no manifest <name>.json)")


class InferenceSession:
    """Run a compiled bundle from Python.

        sess = lne.InferenceSession("out/")
        (y,) = sess.run(None, {"input": x})

    The bundle is built for the host on first use if it has no build yet."""

    def __init__(self, bundle_dir, build: bool = True):
        import cffi

        self.bundle = Path(bundle_dir)
        self.manifest = find_manifest(self.bundle)
        name = self.manifest["name"]
        lib_path = self.bundle / "build" / f"lib{name}.so"
        if not lib_path.is_file():
            if not build:
                raise LNEError(f"{self.bundle}: no host build ({lib_path.name}); run lne compile --build")
            from .build import build_bundle
            build_bundle(self.bundle)
        self._ffi = ffi = cffi.FFI()
        ffi.cdef(f"""
            typedef struct {{ const unsigned char* private_weights; unsigned char* private_arena;
                              uint32_t private_magic; }} {name}_context;
            int {name}_init({name}_context*, const void*, size_t, void*, size_t);
            int {name}_run({name}_context*, const float* const*, float* const*);
            void {name}_deinit({name}_context*);
            const char* {name}_strerror(int);
        """)
        self._lib = ffi.dlopen(str(lib_path.resolve()))
        self._init = getattr(self._lib, f"{name}_init")
        self._run = getattr(self._lib, f"{name}_run")
        self._strerror = getattr(self._lib, f"{name}_strerror")
        blob = read_bytes(self.bundle / f"{name}.weights.bin", "the weights", max_bytes=_MAX_BYTES)
        if len(blob) != self.manifest["weights_size"]:
            raise LNEError(f"{self.bundle}: {name}.weights.bin has {len(blob)} bytes, not the manifest's weights_size "
                           f"({self.manifest['weights_size']}); recompile the bundle")
        self._weights = _aligned(len(blob))
        self._weights[:] = np.frombuffer(blob, dtype=np.uint8)
        try:
            self.arena = _aligned(max(1, self.manifest["arena_size"]))
        except MemoryError:
            raise LNEError(f"{self.bundle}: its manifest's arena_size ({self.manifest['arena_size']} bytes) "
                           "cannot be allocated on this machine") from None
        self._ctx = ffi.new(f"{name}_context*")
        self._check(self._init(self._ctx, ffi.from_buffer(self._weights), len(blob),
                               ffi.from_buffer(self.arena), self.arena.nbytes), "init")

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            raise LNEError(f"{self.bundle}: {what} failed: {self._ffi.string(self._strerror(rc)).decode()}")

    def get_inputs(self) -> list[NodeArg]:
        return [NodeArg(t["name"], t["shape"]) for t in self.manifest["inputs"]]

    def get_outputs(self) -> list[NodeArg]:
        return [NodeArg(t["name"], t["shape"]) for t in self.manifest["outputs"]]

    def run(self, output_names, input_feed: dict) -> list[np.ndarray]:
        ffi = self._ffi
        ins = []
        for t in self.manifest["inputs"]:
            if t["name"] not in input_feed:
                raise LNEError(f"missing input {t['name']!r}; the model's inputs are "
                               f"{[i['name'] for i in self.manifest['inputs']]}")
            x = np.asarray(input_feed[t["name"]])
            if x.dtype.kind not in "biuf" or x.dtype.fields is not None:
                raise LNEError(f"input {show(t['name'])} holds {x.dtype} values; the bundle takes float32 "
                               "(bool, integer and float arrays are converted)")
            x = np.require(x, dtype=np.float32, requirements="C")  # keeps 0-d shapes
            if list(x.shape) != t["shape"]:
                raise LNEError(f"input {t['name']!r} has shape {list(x.shape)}; the bundle expects {t['shape']}")
            ins.append(x)
        outs = [np.empty(t["shape"], dtype=np.float32) for t in self.manifest["outputs"]]
        in_ptrs = ffi.new("const float*[]", [ffi.cast("const float*", ffi.from_buffer(x)) for x in ins])
        out_ptrs = ffi.new("float*[]", [ffi.cast("float*", ffi.from_buffer(y)) for y in outs])
        self._check(self._run(self._ctx, in_ptrs, out_ptrs), "run")
        by_name = {t["name"]: y for t, y in zip(self.manifest["outputs"], outs)}
        if output_names is None:
            return outs
        unknown = [n for n in output_names if n not in by_name]
        if unknown:
            raise LNEError(f"unknown outputs {unknown}; the model's outputs are {list(by_name)}")
        return [by_name[n] for n in output_names]

    def tensors(self) -> dict[str, np.ndarray]:
        """Every intermediate tensor of the last run. Only meaningful for a debug bundle
        (`lne compile --debug`), where no two tensors share arena memory."""
        if not self.manifest.get("debug"):
            raise LNEError(f"{self.bundle}: intermediate tensors need a debug bundle (lne compile --debug)")
        out = {}
        for name, t in self.manifest["tensors"].items():
            n = int(np.prod(t["shape"], dtype=np.int64))
            if t["offset"] + 4 * n > self.arena.nbytes:
                raise LNEError(f"{self.bundle}: tensor {show(name)} lies outside the arena (a damaged manifest?)")
            out[name] = self.arena[t["offset"]: t["offset"] + 4 * n].view(np.float32).reshape(t["shape"]).copy()
        return out
