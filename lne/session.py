"""InferenceSession: load a host-built bundle through cffi, with an onnxruntime-like API."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LNEError

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


def find_manifest(bundle: Path) -> dict:
    found = sorted(bundle.glob("*.json"))
    for f in found:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "lne_version" in data:
            return data
    raise LNEError(f"{bundle}: not an LNE bundle (no manifest <name>.json)")


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
        blob = (self.bundle / f"{name}.weights.bin").read_bytes()
        self._weights = _aligned(len(blob))
        self._weights[:] = np.frombuffer(blob, dtype=np.uint8)
        self.arena = _aligned(max(1, self.manifest["arena_size"]))
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
            x = np.require(input_feed[t["name"]], dtype=np.float32, requirements="C")  # keeps 0-d shapes
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
            out[name] = self.arena[t["offset"]: t["offset"] + 4 * n].view(np.float32).reshape(t["shape"]).copy()
        return out
