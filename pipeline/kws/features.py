"""MFCC features (librosa) of every clip of a ``kws-audio-dataset``: the paper's 40 x 32.

16 kHz, 2048-sample (128 ms) Hann window, 512-sample (32 ms) hop, centred frames with constant
padding -> 1 + 16000 // 512 = 32 frames; 128 Slaney mel bands 0-8 kHz, power 2, dB with
``power_to_db(ref=1, amin=1e-10, top_db=80)`` per clip, DCT-II (ortho), 40 coefficients, no
lifter. These are librosa's defaults, pinned here so a librosa upgrade cannot move them, and
stored as HDF5 attributes. The result equals ``librosa.feature.mfcc(y=clip / 32768, sr=16000,
n_mfcc=40, n_fft=2048, hop_length=512)`` clip by clip (to float32 rounding).

Training-time augmentation (parameters): ``augment_copies`` extra copies of each training clip,
each shifted in time by up to ``time_shift_ms`` (zero fill) and, with probability
``noise_probability``, mixed with a random second of background noise at a volume up to
``noise_volume``. Validation and test clips are never augmented.

Written (``kws-mfcc-features``): ``data/features.h5`` with groups train / validation / test, each
``mfcc`` (N x 40 x 32 float32), ``label``, ``sample_id`` (``#augK`` suffix on augmented copies).
"""
from __future__ import annotations

import numpy as np

from lne.errors import LNEError

from ..params import Param
from ..tool import Input, Tool, register
from .common import AUDIO_DATASET, FEATURES, PARTITIONS, SAMPLE_RATE, need, open_h5, read_strings, write_strings

# fixed settings (stored as attributes too)
FIXED = {"window": "hann", "center": True, "pad_mode": "constant", "power": 2.0, "mel_norm": "slaney",
         "htk": False, "ref": 1.0, "amin": 1e-10, "dct_type": 2, "norm": "ortho", "lifter": 0.0,
         "input_scale": 1.0 / 32768}
_CHUNK = 512


def mfcc(audio: np.ndarray, p: dict) -> np.ndarray:
    """(N, samples) int16 -> (N, n_mfcc, frames) float32 MFCCs, dB range limited per clip."""
    librosa = need("librosa", "the MFCC tool")
    y = audio.astype(np.float32) * np.float32(FIXED["input_scale"])
    S = librosa.feature.melspectrogram(
        y=y, sr=p["sample_rate"], n_fft=p["n_fft"], hop_length=p["hop_length"], window=FIXED["window"],
        center=FIXED["center"], pad_mode=FIXED["pad_mode"], power=FIXED["power"], n_mels=p["n_mels"],
        fmin=p["fmin"], fmax=p["fmax"], htk=FIXED["htk"], norm=FIXED["mel_norm"])
    # power_to_db's top_db clamps against the maximum of the whole array: apply it per clip
    db = np.stack([librosa.power_to_db(s, ref=FIXED["ref"], amin=FIXED["amin"], top_db=p["top_db"]) for s in S])
    return librosa.feature.mfcc(S=db, n_mfcc=p["n_mfcc"], dct_type=FIXED["dct_type"], norm=FIXED["norm"],
                                lifter=FIXED["lifter"]).astype(np.float32)


def augment(audio: np.ndarray, noise: list[np.ndarray], p: dict, rng: np.random.Generator) -> np.ndarray:
    """Time shift and background-noise mixing of (N, samples) int16 clips -> int16."""
    n, length = audio.shape
    x = audio.astype(np.float32)
    max_shift = int(round(p["time_shift_ms"] * p["sample_rate"] / 1000))
    out = np.zeros_like(x)
    for i in range(n):
        s = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
        if s >= 0:
            out[i, s:] = x[i, :length - s]
        else:
            out[i, :s] = x[i, -s:]
        if noise and rng.random() < p["noise_probability"]:
            src = noise[int(rng.integers(len(noise)))]
            off = int(rng.integers(0, len(src) - length + 1))
            out[i] += src[off:off + length].astype(np.float32) * rng.uniform(0, p["noise_volume"])
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


@register
class Mfcc(Tool):
    name = "mfcc"
    version = "1"
    description = "librosa MFCC (40 x 32 per 1 s clip by default) with optional training-set augmentation"
    inputs = {"dataset": Input(AUDIO_DATASET)}
    output = FEATURES
    params = {
        "sample_rate": Param("int", SAMPLE_RATE, "expected sample rate of the dataset", min=1),
        "n_mfcc": Param("int", 40, "coefficients per frame", min=1),
        "n_fft": Param("int", 2048, "FFT / window length in samples (128 ms)", min=16),
        "hop_length": Param("int", 512, "hop in samples (32 ms)", min=1),
        "n_mels": Param("int", 128, "mel bands", min=1),
        "fmin": Param("float", 0.0, "lowest mel frequency, Hz", min=0),
        "fmax": Param("float", 8000.0, "highest mel frequency, Hz", min=1),
        "top_db": Param("float", 80.0, "dB range kept below each clip's maximum", min=0),
        "augment_copies": Param("int", 0, "augmented copies of each training clip", min=0),
        "time_shift_ms": Param("float", 100.0, "maximum time shift of an augmented copy, ms", min=0),
        "noise_probability": Param("float", 0.8, "chance an augmented copy gets background noise", min=0, max=1),
        "noise_volume": Param("float", 0.1, "largest background noise volume (x noise file)", min=0),
        "seed": Param("int", 0, "augmentation seed"),
    }

    @classmethod
    def summary(cls, metrics: dict) -> str:
        return "shape " + "x".join(map(str, metrics.get("shape", []))) + ", " + \
            ", ".join(f"{k} {v}" for k, v in metrics.get("counts", {}).items())

    def run(self, ctx) -> None:
        h5py = need("h5py", "the MFCC tool")
        librosa = need("librosa", "the MFCC tool")
        p = ctx.params
        src = ctx.inputs["dataset"].data / "dataset.h5"
        counts = {}
        with open_h5(src, "the audio dataset") as h5, h5py.File(ctx.out / "features.h5", "w") as out:
            sr = int(h5.attrs["sample_rate"])
            if sr != p["sample_rate"]:
                raise LNEError(f"step {ctx.step!r}: dataset sample rate {sr} Hz, parameter sample_rate "
                               f"{p['sample_rate']} Hz")
            noise = [h5["background_noise"][k][()] for k in sorted(h5["background_noise"])] \
                if "background_noise" in h5 else []
            clip = int(h5.attrs["clip_samples"])
            noise = [x for x in noise if len(x) >= clip]
            if p["augment_copies"] and p["noise_probability"] > 0 and not noise:
                ctx.log("no background noise in the dataset: augmented copies are only time-shifted")
            frames = 1 + clip // p["hop_length"] if FIXED["center"] else 1 + (clip - p["n_fft"]) // p["hop_length"]
            rng = np.random.default_rng(p["seed"])
            for part in PARTITIONS:
                g = h5[part]
                n = g["audio"].shape[0]
                copies = p["augment_copies"] if part == "train" else 0
                total = n * (1 + copies)
                og = out.create_group(part)
                ds = og.create_dataset("mfcc", shape=(total, p["n_mfcc"], frames), dtype=np.float32)
                labels = g["label"][()]
                ids = read_strings(g["sample_id"])
                bar = ctx.progress(total=total, desc=f"MFCC {part}", unit="clip")
                for c in range(1 + copies):
                    for i in range(0, n, _CHUNK):
                        audio = g["audio"][i:i + _CHUNK]
                        if c:
                            audio = augment(audio, noise, p, rng)
                        ds[c * n + i: c * n + i + len(audio)] = mfcc(audio, p)
                        bar.update(len(audio))
                bar.close()
                og.create_dataset("label", data=np.tile(labels, 1 + copies))
                write_strings(og, "sample_id", ids + [f"{s}#aug{c}" for c in range(1, 1 + copies) for s in ids])
                counts[part] = total
            for k, v in {**p, **FIXED}.items():
                out.attrs[k] = v
            out.attrs["format"] = FEATURES
            out.attrs["classes"] = h5.attrs["classes"]
            out.attrs["frames"] = frames
            out.attrs["librosa_version"] = librosa.__version__
            out.attrs["source"] = h5.attrs["source"]
            out.attrs["synthetic"] = ctx.synthetic
        ctx.metrics.update({"synthetic": ctx.synthetic, "shape": [p["n_mfcc"], frames], "counts": counts,
                            "librosa_version": librosa.__version__})
        ctx.log(f"MFCC {p['n_mfcc']}x{frames} per clip: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
