"""SYNTHETIC dataset tool: exactly the Speech Commands layout, 16 kHz 1 s clips, labelled synthetic."""
from __future__ import annotations

import re

import numpy as np
import pytest

from lne.pipeline.artifact import Artifact
from lne.pipeline.executor import Executor
from lne.pipeline.workflow import load

from ..conftest import have

sf = pytest.importorskip("soundfile")
pytestmark = pytest.mark.skipif(not (have("espeak-ng") and have("sox")),
                                reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")

WF = """\
steps:
  speech:
    tool: synth-speech-commands
    params:
      words: [yes, no]
      unknown_words: [cat]
      speakers: 5
      voices: [en-us, en-gb-scotland]
      testing_percentage: 20
      validation_percentage: 20
      noise_seconds: 2
"""


def test_synthetic_speech_commands_layout(tmp_path):
    (tmp_path / "wf.yml").write_text(WF)
    Executor(load(tmp_path / "wf.yml"), tmp_path / "w", quiet=True).run()
    art = Artifact.open(tmp_path / "w" / "speech")
    root = art.data
    assert art.synthetic and art.metadata["synthetic"] is True
    assert "SYNTHETIC" in (root / "README.md").read_text()
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "_background_noise_", "cat", "no",
                                                        "testing_list.txt", "validation_list.txt", "yes"]
    speakers = {}
    for word in ("yes", "no", "cat"):
        files = sorted((root / word).iterdir())
        assert len(files) == 5
        for f in files:
            assert re.fullmatch(r"[0-9a-f]{8}_nohash_0\.wav", f.name)
            x, rate = sf.read(f, dtype="int16")
            info = sf.info(f)
            assert (rate, info.channels, info.subtype, x.shape) == (16000, 1, "PCM_16", (16000,))
            assert np.abs(x.astype(np.int32)).max() > 1000           # a spoken word, not silence
            speakers.setdefault(f.name[:8], []).append(word)
    assert len(speakers) == 5 and all(sorted(w) == ["cat", "no", "yes"] for w in speakers.values())
    noise = sorted((root / "_background_noise_").iterdir())
    assert [p.name for p in noise] == ["brown_noise.wav", "pink_noise.wav", "white_noise.wav"]
    assert all(sf.info(p).samplerate == 16000 and sf.info(p).frames == 32000 for p in noise)
    test = (root / "testing_list.txt").read_text().split()
    val = (root / "validation_list.txt").read_text().split()
    spk = {name: {line.split("/")[1][:8] for line in lst} for name, lst in (("test", test), ("val", val))}
    assert len(spk["test"]) == 1 and len(spk["val"]) == 1 and not spk["test"] & spk["val"]
    assert len(test) == len(val) == 3                       # whole speakers: every word of each
    assert all((root / line).is_file() for line in test + val)
    # reproducible: the same parameters give the same bytes
    Executor(load(tmp_path / "wf.yml"), tmp_path / "w2", quiet=True).run()
    assert Artifact.open(tmp_path / "w2" / "speech").hash == art.hash
