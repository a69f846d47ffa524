"""Shared names of the keyword-spotting chain: artifact formats, classes, HDF5 helpers."""
from __future__ import annotations

import importlib

from lne.errors import LNEError

# artifact formats
SPEECH_FOLDER = "speech-commands-folder"   # raw WAVs in the Google Speech Commands layout
AUDIO_DATASET = "kws-audio-dataset"        # HDF5: 1 s int16 clips, labels, ids, partitions
FEATURES = "kws-mfcc-features"             # HDF5: MFCC 40x32 per clip, labels, partitions
MODEL = "kws-model"                        # trained PyTorch model + its ONNX export
BUNDLE = "lne-bundle"                      # LNE-compiled, validated, benchmarked library
REPORT = "kws-accuracy-report"             # JSON accuracy report

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
NOISE_DIR = "_background_noise_"
SAMPLE_RATE = 16000
PARTITIONS = ("train", "validation", "test")


def need(module: str, what: str):
    """Import an optional dependency of the pipeline, or raise a clear LNEError."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise LNEError(f"{what} needs the Python package {module.split('.')[0]!r}: "
                       "pip install 'lne[pipeline]'") from None


def write_strings(group, name: str, values) -> None:
    h5py = need("h5py", "HDF5 artifacts")
    group.create_dataset(name, data=list(values), dtype=h5py.string_dtype("utf-8"))


def open_h5(path, what: str = "the HDF5 file"):
    """An artifact's HDF5 file for reading: a regular file only (a FIFO would block the open);
    LNEError if it is missing or not HDF5."""
    from lne.limits import check_regular, plain

    h5py = need("h5py", "HDF5 artifacts")
    check_regular(path, what)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise LNEError(f"{plain(str(path), 200)}: cannot read {what}: {plain(str(e), 200)}") from None


def read_strings(dataset) -> list[str]:
    return [s for s in dataset.asstr()[()]] if dataset.shape != (0,) else []


def classes_of(h5file) -> list[str]:
    return [str(c) for c in h5file.attrs["classes"]]
