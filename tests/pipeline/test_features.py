"""MFCC tool: equal to a direct librosa call per clip; pinned attributes; augmentation."""
from __future__ import annotations

import numpy as np
import pytest

from lne.pipeline.executor import Executor
from lne.pipeline.workflow import load

from .helpers import write_wav

librosa = pytest.importorskip("librosa")
h5py = pytest.importorskip("h5py")

WORDS = ["yes", "no", "stop"]


def make_folder(root, rng):
    t = np.arange(16000) / 16000
    for w_i, w in enumerate(WORDS):
        for s in ("1234abcd", "5678ef01", "9abc2345"):
            f0 = 200 + 150 * w_i + rng.uniform(0, 50)
            x = 0.3 * np.sin(2 * np.pi * f0 * t * (1 + t)) * np.exp(-((t - rng.uniform(0.3, 0.7)) / 0.15) ** 2)
            x += rng.normal(0, 0.01, t.size)
            write_wav(root / w / f"{s}_nohash_0.wav", np.round(x * 32767).astype(np.int16))
    write_wav(root / "_background_noise_" / "white.wav", rng.normal(0, 3000, 40000).astype(np.int16))
    (root / "testing_list.txt").write_text("".join(f"{w}/9abc2345_nohash_0.wav\n" for w in WORDS))
    (root / "validation_list.txt").write_text("")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mfcc")
    make_folder(tmp / "sc", np.random.default_rng(0))
    wf = tmp / "wf.yml"
    wf.write_text(f"""\
steps:
  dataset:
    tool: ingest-speech-commands
    params: {{source: "{tmp / 'sc'}", words: [yes, no, stop]}}
  features:
    tool: mfcc
    inputs: {{dataset: dataset}}
    params: {{augment_copies: 2, seed: 3}}
""")
    Executor(load(wf), tmp / "work", quiet=True).run()
    return tmp / "work" / "dataset" / "data" / "dataset.h5", tmp / "work" / "features" / "data" / "features.h5"


def test_mfcc_equals_librosa_on_each_clip(artifacts):
    audio_path, feat_path = artifacts
    with h5py.File(audio_path) as a, h5py.File(feat_path) as f:
        assert f.attrs["n_mfcc"] == 40 and f.attrs["n_fft"] == 2048 and f.attrs["hop_length"] == 512
        assert f.attrs["window"] == "hann" and f.attrs["center"] and f.attrs["top_db"] == 80.0
        for part in ("train", "validation", "test"):
            clips = a[part]["audio"][()]
            feats = f[part]["mfcc"][: len(clips)]
            assert list(f[part]["sample_id"].asstr()[: len(clips)]) == list(a[part]["sample_id"].asstr()[()])
            for clip, feat in zip(clips, feats):
                ref = librosa.feature.mfcc(y=clip.astype(np.float32) / 32768, sr=16000, n_mfcc=40, n_fft=2048,
                                           hop_length=512)
                assert ref.shape == feat.shape == (40, 32)
                np.testing.assert_allclose(feat, ref, rtol=1e-5, atol=1e-4)


def test_augmented_copies_only_in_train(artifacts):
    audio_path, feat_path = artifacts
    with h5py.File(audio_path) as a, h5py.File(feat_path) as f:
        n_train = a["train"]["audio"].shape[0]
        assert f["train"]["mfcc"].shape[0] == 3 * n_train
        assert f["test"]["mfcc"].shape[0] == a["test"]["audio"].shape[0]
        labels = a["train"]["label"][()]
        np.testing.assert_array_equal(f["train"]["label"][()], np.tile(labels, 3))
        ids = list(f["train"]["sample_id"].asstr()[()])
        assert ids[n_train].endswith("#aug1") and ids[-1].endswith("#aug2")
        x = f["train"]["mfcc"][()]
        assert not np.allclose(x[:n_train], x[n_train:2 * n_train])


def test_augment_shift_and_noise():
    from lne.pipeline.kws.features import augment

    rng = np.random.default_rng(0)
    audio = rng.integers(-1000, 1000, (8, 16000)).astype(np.int16)
    p = {"time_shift_ms": 100.0, "sample_rate": 16000, "noise_probability": 0.0, "noise_volume": 0.1}
    out = augment(audio, [], p, np.random.default_rng(1))
    for x, y in zip(audio, out):
        shifts = [s for s in range(-1600, 1601)
                  if (np.array_equal(y[s:], x[:16000 - s]) if s >= 0 else np.array_equal(y[:s], x[-s:]))]
        assert len(shifts) == 1
    noise = rng.integers(-3000, 3000, 40000).astype(np.int16)
    p.update(time_shift_ms=0.0, noise_probability=1.0)
    out = augment(audio, [noise], p, np.random.default_rng(2))
    diff = out.astype(np.float64) - audio
    from scipy.signal import correlate

    for d in diff:
        # the added signal is a scaled (volume <= 0.1) window of the noise file
        best = int(np.argmax(np.abs(correlate(noise.astype(np.float64), d, mode="valid"))))
        seg = noise[best:best + 16000].astype(np.float64)
        assert np.corrcoef(d, seg)[0, 1] > 0.99
        assert 0 <= (d @ seg) / (seg @ seg) <= 0.1
