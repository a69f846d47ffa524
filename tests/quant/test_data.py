"""Calibration readers: HDF5 (pipeline feature layout), a folder of .npy, one .npy and a
CalibrationDataReader-style object give the same samples and the same quantized model."""
from __future__ import annotations

import h5py
import numpy as np
import onnx
import pytest

from lne.errors import LNEError
from lne.quant import quantize
from lne.quant.data import load_labels, load_samples, model_inputs

from .nets import IN_SHAPE, calib_batch, tiny


class Reader:
    """onnxruntime's CalibrationDataReader contract: get_next() -> {input: batch} or None."""

    def __init__(self, x, batch=5):
        self.items = [{"x": x[i:i + batch]} for i in range(0, len(x), batch)]

    def get_next(self):
        return self.items.pop(0) if self.items else None


@pytest.fixture
def sources(tmp_path):
    x = calib_batch(20)
    y = np.arange(20) % 5
    artifact = tmp_path / "features"             # a pipeline artifact folder: data/features.h5
    (artifact / "data").mkdir(parents=True)
    h5 = artifact / "data" / "features.h5"
    with h5py.File(h5, "w") as f:      # the pipeline's feature layout: split/mfcc (N x ...) + label
        for split, sl in (("train", slice(0, 20)), ("validation", slice(0, 10))):
            f.create_dataset(f"{split}/mfcc", data=x[sl].reshape(-1, 2, 64))
            f.create_dataset(f"{split}/label", data=y[sl])
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "a.npy", x[:12])
    for i in range(12, 20):                       # single samples without the batch dim
        np.save(folder / f"b{i:02d}.npy", x[i, :])
    np.save(tmp_path / "all.npy", x)
    return x, y, {"h5": h5, "artifact": artifact, "folder": folder, "npy": tmp_path / "all.npy"}


def test_readers_agree(tmp_path, sources):
    x, y, paths = sources
    inputs = model_inputs(tiny())
    got = {k: load_samples(p, inputs) for k, p in paths.items()}
    got["reader"] = load_samples(Reader(x), inputs)
    for k, s in got.items():
        assert len(s) == 20, k
        np.testing.assert_array_equal(np.concatenate([f["x"] for f in s.feeds]), x, err_msg=k)
        assert all(f["x"].shape == IN_SHAPE for f in s.feeds)
    np.testing.assert_array_equal(got["h5"].labels, y)
    np.testing.assert_array_equal(got["artifact"].labels, y)
    assert got["folder"].labels is None
    # the same samples give the same quantized model
    src = tmp_path / "tiny.onnx"
    onnx.save(tiny(), src)
    models = []
    for k, p in list(paths.items()) + [("reader", Reader(x))]:
        quantize(src, tmp_path / f"q_{k}.onnx", p, method="percentile")
        models.append((tmp_path / f"q_{k}.onnx").read_bytes())
    assert all(m == models[0] for m in models[1:])


def test_splits_subsets_and_labels(sources, tmp_path):
    x, y, paths = sources
    inputs = model_inputs(tiny())
    val = load_samples(paths["h5"], inputs, split="validation")
    assert len(val) == 10 and val.origin.endswith("/validation/mfcc")
    sub = load_samples(paths["h5"], inputs, limit=6, seed=3)
    np.testing.assert_array_equal(np.concatenate([f["x"] for f in sub.feeds]), x[sub.index])
    np.testing.assert_array_equal(sub.labels, y[sub.index])
    np.save(tmp_path / "labels.npy", y)
    np.testing.assert_array_equal(load_labels(tmp_path / "labels.npy", load_samples(paths["npy"], inputs, limit=7)),
                                  y[load_samples(paths["npy"], inputs, limit=7).index])


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.h5", "no such file"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no .npy files"),
    (lambda d: np.save(d / "bad.npy", np.zeros((3, 7), np.float32)) or d / "bad.npy", "does not fit model input"),
    (lambda d: d / "x.txt", "no such file"),
])
def test_bad_sources(tmp_path, make, message):
    with pytest.raises(LNEError, match=message):
        load_samples(make(tmp_path), model_inputs(tiny()))


def test_bad_reader():
    class Bad:
        def get_next(self):
            return {"wrong": np.zeros(IN_SHAPE, np.float32)}
    with pytest.raises(LNEError, match="the model takes"):
        load_samples(Bad(), model_inputs(tiny()))
    with pytest.raises(LNEError, match="gave no samples"):
        load_samples(Reader(calib_batch(0)), model_inputs(tiny()))
