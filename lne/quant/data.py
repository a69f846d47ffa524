"""Calibration / evaluation data: an HDF5 dataset artifact, a folder of .npy files, one .npy file,
or a Python reader with onnxruntime's CalibrationDataReader contract (``get_next() -> dict | None``).

Every source becomes a :class:`Samples`: a list of feed dicts of batch-1 arrays shaped like the
model's inputs, and labels when the source has them. HDF5 files: a split (group) such as the
pipeline's ``train`` / ``validation`` / ``test`` holding a float dataset (``mfcc``, ``x``,
``data``, ``input``, ``features`` or the only float one) and optionally ``label``; or a bare
dataset path (``--calib-split group/name``). A pipeline artifact folder (``data/features.h5``
inside) is accepted too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lne.errors import LNEError
from lne.limits import check_regular, load_npy, show

MAX_DATASET_BYTES = 1 << 30  # one calibration dataset read whole

_X_NAMES = ("mfcc", "x", "data", "input", "inputs", "features")
_Y_NAMES = ("label", "labels", "y", "target", "targets")


@dataclass
class Samples:
    feeds: list[dict[str, np.ndarray]]
    labels: np.ndarray | None = None
    origin: str = ""
    index: np.ndarray | None = None     # which samples of the source were taken

    def __len__(self) -> int:
        return len(self.feeds)


def model_inputs(model) -> list[tuple[str, tuple]]:
    """(name, shape) of the graph inputs that are not initializers; unknown dims are None."""
    inits = {i.name for i in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                     for d in vi.type.tensor_type.shape.dim)
        out.append((vi.name, dims))
    return out


def _fit(x: np.ndarray, shape: tuple, what: str, name: str) -> np.ndarray:
    """One sample ``x`` reshaped to the model input ``shape`` (batch 1)."""
    want = (1,) + tuple(shape[1:]) if shape else ()
    if all(d is not None for d in want):
        if int(np.prod(want)) != x.size:
            raise LNEError(f"{what}: sample of shape {tuple(x.shape)} does not fit model input {name!r} "
                           f"of shape {tuple(d if d is not None else '?' for d in shape)}")
        return np.ascontiguousarray(x.reshape(want), np.float32)
    if x.ndim == len(shape) - 1:
        x = x[None]
    if x.ndim != len(shape) or any(d is not None and d != s for d, s in zip(want, x.shape)):
        raise LNEError(f"{what}: sample of shape {tuple(x.shape)} does not fit model input {name!r} "
                       f"of shape {tuple(d if d is not None else '?' for d in shape)}")
    return np.ascontiguousarray(x, np.float32)


def _split_batch(arr: np.ndarray, shape: tuple, what: str, name: str) -> list[np.ndarray]:
    """An array holding one sample or a batch of samples -> list of samples."""
    per = int(np.prod([d for d in shape[1:] if d is not None])) if shape else 1
    if not np.issubdtype(arr.dtype, np.number):
        raise LNEError(f"{what}: data of type {arr.dtype} is not numeric")
    if all(d is not None for d in shape[1:]) and arr.size == per:
        return [arr]
    if arr.ndim >= 1 and arr.shape[0] > 0 and arr.size % arr.shape[0] == 0 and arr.size // arr.shape[0] == per:
        return list(arr)
    if arr.ndim >= 2 and arr.shape[1] == 1 and arr.size == arr.shape[0] * per:
        return list(arr)
    raise LNEError(f"{what}: array of shape {tuple(arr.shape)} does not fit model input {name!r} of shape "
                   f"{tuple(d if d is not None else '?' for d in shape)} (one sample or a batch of them)")


def _subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _h5_read(path: Path, split: str | None, default_split: str, what: str):
    try:
        import h5py
    except ImportError:
        raise LNEError(f"{what}: reading HDF5 needs h5py (pip install h5py)") from None
    check_regular(path, what)
    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        raise LNEError(f"{what}: cannot read {path} as HDF5: {e}") from None
    with h5:
        node = h5
        if split:
            if split not in h5:
                raise LNEError(f"{what}: {path} has no group or dataset {split!r} "
                               f"(top level: {', '.join(sorted(h5.keys())) or 'empty'})")
            node = h5[split]
        elif default_split in h5 and isinstance(h5[default_split], h5py.Group):
            node = h5[default_split]
        if isinstance(node, h5py.Dataset):
            return _read_dataset(node, what), None, f"{path}:{node.name}"
        floats = {k: v for k, v in node.items() if isinstance(v, h5py.Dataset) and v.dtype.kind == "f"}
        xs = [k for k in _X_NAMES if k in floats] or sorted(floats)
        if len(xs) != 1 and not (xs and xs[0] in _X_NAMES):
            raise LNEError(f"{what}: {path}:{node.name} has {'no' if not xs else 'several'} float datasets "
                           f"({', '.join(sorted(floats)) or 'none'}); name one with --calib-split GROUP/NAME")
        ys = [k for k in _Y_NAMES if k in node and isinstance(node[k], h5py.Dataset) and node[k].dtype.kind in "iu"]
        return (_read_dataset(node[xs[0]], what), (_read_dataset(node[ys[0]], what) if ys else None),
                f"{path}:{node[xs[0]].name}")


def _npy(path: Path, what: str) -> np.ndarray:
    return load_npy(path, what)


def _read_dataset(node, what: str) -> np.ndarray:
    """A whole HDF5 dataset, its size bounded first (a compressed file of a few kilobytes can
    claim gigabytes)."""
    nbytes = int(node.size) * node.dtype.itemsize
    if node.dtype.kind not in "biuf" or nbytes > MAX_DATASET_BYTES:
        raise LNEError(f"{what}: dataset {show(node.name)} ({node.dtype}, shape {list(node.shape)}) is not a "
                       f"numeric array of at most {MAX_DATASET_BYTES >> 20} MiB")
    return node[()]


def load_samples(source, inputs: list[tuple[str, tuple]], *, split: str | None = None,
                 default_split: str = "train", limit: int | None = None, seed: int = 0,
                 what: str = "calibration data") -> Samples:
    """Samples from ``source`` (path or reader object) for a model with ``inputs`` (model_inputs())."""
    if hasattr(source, "get_next"):
        return _from_reader(source, inputs, limit, what)
    path = Path(source)
    what = f"{what} {path}"
    if not path.exists():
        raise LNEError(f"{what}: no such file or folder")
    if path.is_dir() and (path / "data" / "features.h5").is_file():
        path = path / "data" / "features.h5"
    if len(inputs) != 1:
        raise LNEError(f"{what}: the model has {len(inputs)} inputs; files feed single-input models only, "
                       "use a reader object (get_next() -> {input name: array}) for several")
    name, shape = inputs[0]
    labels = None
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise LNEError(f"{what}: folder has no .npy files")
        arrays = [s for f in files for s in _split_batch(_npy(f, f"{what}/{f.name}"), shape, f"{what}/{f.name}", name)]
        origin = f"{path}/*.npy ({len(files)} files)"
    elif path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        x, labels, origin = _h5_read(path, split, default_split, what)
        arrays = _split_batch(x, shape, origin, name)
        if labels is not None and len(labels) != len(arrays):
            labels = None
    elif path.suffix.lower() == ".npy":
        arrays = _split_batch(_npy(path, what), shape, what, name)
        origin = str(path)
    else:
        raise LNEError(f"{what}: expected an .h5 dataset, a folder of .npy files or an .npy file")
    if not arrays:
        raise LNEError(f"{what}: no samples")
    idx = _subset(len(arrays), limit, seed)
    feeds = [{name: _fit(np.asarray(arrays[i]), shape, what, name)} for i in idx]
    return Samples(feeds, None if labels is None else np.asarray(labels)[idx].astype(np.int64), origin, idx)


def _from_reader(reader, inputs, limit, what) -> Samples:
    names = {n: s for n, s in inputs}
    feeds = []
    while limit is None or len(feeds) < limit:
        try:
            item = reader.get_next()
        except Exception as e:  # the user's code
            raise LNEError(f"{what}: reader.get_next() failed: {type(e).__name__}: {e}") from None
        if item is None:
            break
        if not isinstance(item, dict):
            raise LNEError(f"{what}: reader.get_next() returned {type(item).__name__}, expected a dict "
                           "{input name: array} or None")
        missing = sorted(set(names) - set(item))
        extra = sorted(set(item) - set(names))
        if missing or extra:
            raise LNEError(f"{what}: reader sample has inputs {sorted(item)}, the model takes {sorted(names)}")
        batch = {k: _split_batch(np.asarray(v), names[k], what, k) for k, v in item.items()}
        n = {len(v) for v in batch.values()}
        if len(n) != 1:
            raise LNEError(f"{what}: reader sample inputs have different batch sizes {sorted(n)}")
        for i in range(n.pop()):
            feeds.append({k: _fit(np.asarray(v[i]), names[k], what, k) for k, v in batch.items()})
    if not feeds:
        raise LNEError(f"{what}: the reader gave no samples")
    return Samples(feeds[:limit] if limit else feeds, None, type(reader).__name__)


def load_labels(path, samples: Samples, what: str = "labels") -> np.ndarray:
    """Integer labels for ``samples`` from an .npy file holding one label per source sample."""
    y = _npy(Path(path), f"{what} {path}") if Path(path).exists() else None
    if y is None:
        raise LNEError(f"{what} {path}: no such file")
    y = np.asarray(y).reshape(-1)
    idx = samples.index if samples.index is not None else np.arange(len(samples))
    need = int(idx.max()) + 1 if len(idx) else 0
    if y.dtype.kind not in "iu" or len(y) < need:
        raise LNEError(f"{what} {path}: expected {need} integer labels, got {len(y)} of type {y.dtype}")
    return y[idx].astype(np.int64)
