"""Speech Commands ingestion on a hand-made miniature dataset: exact partitions and labels."""
from __future__ import annotations

import json
import math
import tarfile

import numpy as np
import pytest

from lne.pipeline.executor import Executor
from lne.pipeline.workflow import load

from .helpers import write_wav

pytest.importorskip("h5py")
pytest.importorskip("soundfile")
import h5py  # noqa: E402

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
CLASSES = KEYWORDS + ["_silence_", "_unknown_"]

# (relative path, length in samples); each clip is filled with its own value (index + 1)
CLIPS = [
    ("yes/aaaa1111_nohash_0.wav", 16000), ("yes/aaaa1111_nohash_1.wav", 8000),     # short: padded
    ("yes/bbbb2222_nohash_0.wav", 16000), ("yes/cccc3333_nohash_0.wav", 20000),    # long: trimmed
    ("yes/dddd4444_nohash_0.wav", 16000),
    ("no/aaaa1111_nohash_0.wav", 16000), ("no/bbbb2222_nohash_0.wav", 16000),
    ("no/cccc3333_nohash_0.wav", 12345), ("no/dddd4444_nohash_0.wav", 16000),
    ("cat/aaaa1111_nohash_0.wav", 16000), ("cat/cccc3333_nohash_0.wav", 16000),
    ("dog/eeee5555_nohash_0.wav", 16000),
]
VALIDATION = ["yes/bbbb2222_nohash_0.wav", "no/bbbb2222_nohash_0.wav"]
TESTING = ["yes/cccc3333_nohash_0.wav", "no/cccc3333_nohash_0.wav", "cat/cccc3333_nohash_0.wav"]


def make_mini(root):
    for i, (rel, n) in enumerate(CLIPS):
        write_wav(root / rel, np.full(n, i + 1, np.int16))
    (root / "yes" / "ffff6666_nohash_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really a wav")
    write_wav(root / "no" / "gggg7777_nohash_0.wav", np.ones(44100, np.int16), rate=44100)
    write_wav(root / "no" / "hhhh8888_nohash_0.wav", np.ones(32000, np.int16), channels=2)
    noise = (np.sin(np.arange(48000) * 0.01) * 10000).astype(np.int16)
    write_wav(root / "_background_noise_" / "hum.wav", noise)
    write_wav(root / "_background_noise_" / "loud.wav", np.ones(88200, np.int16), rate=44100)
    (root / "validation_list.txt").write_text("\n".join(VALIDATION) + "\n")
    (root / "testing_list.txt").write_text("\n".join(TESTING) + "\n")
    (root / "README.md").write_text("mini\n")
    return noise


def ingest(tmp_path, source, **params):
    wf = tmp_path / "ingest.yml"
    extra = "".join(f"      {k}: {json.dumps(v)}\n" for k, v in params.items())
    wf.write_text(f"steps:\n  dataset:\n    tool: ingest-speech-commands\n    params:\n"
                  f"      source: {json.dumps(str(source))}\n{extra}")
    work = tmp_path / "work"
    Executor(load(wf), work, quiet=True).run()
    out = {}
    with h5py.File(work / "dataset" / "data" / "dataset.h5") as h5:
        out["attrs"] = dict(h5.attrs)
        for part in ("train", "validation", "test"):
            g = h5[part]
            out[part] = {"audio": g["audio"][()], "label": g["label"][()],
                         "id": list(g["sample_id"].asstr()[()]), "speaker": list(g["speaker_id"].asstr()[()])}
        out["noise"] = {k: h5["background_noise"][k][()] for k in h5["background_noise"]}
    out["metrics"] = json.loads((work / "dataset" / "metrics.json").read_text())
    return out


def expected_audio(rel):
    i = [c[0] for c in CLIPS].index(rel)
    x = np.zeros(16000, np.int16)
    x[:min(16000, CLIPS[i][1])] = i + 1
    return x


def test_mini_speech_commands_exact_partitions_and_labels(tmp_path):
    noise = make_mini(tmp_path / "sc")
    d = ingest(tmp_path, tmp_path / "sc", unknown_percentage=100.0, silence_percentage=50.0)
    assert list(d["attrs"]["classes"]) == CLASSES and d["attrs"]["sample_rate"] == 16000
    assert not d["attrs"]["synthetic"]
    expect = {
        "train": ["yes/aaaa1111_nohash_0.wav", "yes/aaaa1111_nohash_1.wav", "yes/dddd4444_nohash_0.wav",
                  "no/aaaa1111_nohash_0.wav", "no/dddd4444_nohash_0.wav",
                  "cat/aaaa1111_nohash_0.wav", "dog/eeee5555_nohash_0.wav"],
        "validation": VALIDATION,
        "test": TESTING,
    }
    n_silence = {"train": math.ceil(5 * 0.5), "validation": 1, "test": 1}
    for part, ids in expect.items():
        got = d[part]
        words = [i for i in got["id"] if not i.startswith("_silence_/")]
        assert sorted(words) == sorted(ids), part
        for sid, label, audio, spk in zip(got["id"], got["label"], got["audio"], got["speaker"]):
            if sid.startswith("_silence_/"):
                assert CLASSES[label] == "_silence_" and spk == ""
                name, off = sid.split("/")[1].split("@")
                assert name == "hum"                          # the 44.1 kHz noise file was skipped
                seg = noise[int(off):int(off) + 16000].astype(np.float64)
                vol = float(audio @ seg / (seg @ seg))
                assert 0 <= vol <= 1 and np.abs(audio - np.round(seg * vol)).max() <= 1
                continue
            word = sid.split("/")[0]
            assert CLASSES[label] == (word if word in KEYWORDS else "_unknown_")
            assert spk == sid.split("/")[1].split("_nohash_")[0]
            np.testing.assert_array_equal(audio, expected_audio(sid))
        assert sum(i.startswith("_silence_/") for i in got["id"]) == n_silence[part]
        assert got["audio"].dtype == np.int16 and got["audio"].shape == (len(ids) + n_silence[part], 16000)
    skipped = {s["file"]: s["reason"] for s in d["metrics"]["skipped"]}
    assert set(skipped) == {"yes/ffff6666_nohash_0.wav", "no/gggg7777_nohash_0.wav", "no/hhhh8888_nohash_0.wav",
                            "_background_noise_/loud.wav"}
    assert "44100" in skipped["no/gggg7777_nohash_0.wav"] and "unreadable" in skipped["yes/ffff6666_nohash_0.wav"]
    assert "channels" in skipped["no/hhhh8888_nohash_0.wav"]
    assert d["metrics"]["counts"]["train"] == {"total": 10, **{c: 0 for c in CLASSES},
                                               "yes": 3, "no": 2, "_silence_": 3, "_unknown_": 2}


def test_unknown_share_and_tar_gz_source(tmp_path):
    make_mini(tmp_path / "sc")
    with tarfile.open(tmp_path / "sc.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "sc", arcname="speech_commands_v0.02")
    d = ingest(tmp_path, tmp_path / "sc.tar.gz")         # defaults: 10% unknown, 10% silence
    train = d["train"]
    assert int((train["label"] == 11).sum()) == math.ceil(5 * 0.10) == 1
    assert [i for i in train["id"] if i.startswith(("cat/", "dog/"))][0] in \
        ("cat/aaaa1111_nohash_0.wav", "dog/eeee5555_nohash_0.wav")
    assert int((train["label"] == 10).sum()) == 1
    assert sorted(i for i in d["test"]["id"] if not i.startswith("_")) == sorted(TESTING)


def test_hash_of_speaker_rule_without_list_files(tmp_path):
    root = tmp_path / "sc"
    speakers = [f"{i:08x}" for i in range(0, 400 * 7919, 7919)]
    for s in speakers:
        for w in ("yes", "no"):
            write_wav(root / w / f"{s}_nohash_0.wav", np.ones(100, np.int16))
    d = ingest(tmp_path, root, silence_percentage=0.0)
    where = {}
    for part in ("train", "validation", "test"):
        for sid, spk in zip(d[part]["id"], d[part]["speaker"]):
            where.setdefault(spk, set()).add(part)
    assert sorted(where) == sorted(speakers)
    assert all(len(parts) == 1 for parts in where.values())    # a speaker never spans partitions
    share = {p: sum(parts == {p} for parts in where.values()) / len(speakers) for p in ("validation", "test")}
    assert 0.05 < share["validation"] < 0.15 and 0.05 < share["test"] < 0.15
    assert d["metrics"]["partitions_from"] == "hash of speaker"
