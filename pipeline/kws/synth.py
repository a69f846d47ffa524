"""SYNTHETIC speech: a small dataset in exactly the Google Speech Commands layout, made offline
with espeak-ng (voices, variants, speeds, pitches and volumes play the "speakers") and sox
(16 kHz, 16-bit mono, exactly 1 s; background noise files).

Output (``speech-commands-folder``, marked synthetic)::

    data/<word>/<speaker>_nohash_<n>.wav
    data/_background_noise_/<color>_noise.wav
    data/validation_list.txt, data/testing_list.txt   (whole speakers held out)
    data/README.md                                    (says it is synthetic and how it was made)
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lne.errors import LNEError

from ..params import Param
from ..tool import Tool, register
from .common import KEYWORDS, NOISE_DIR, SAMPLE_RATE, SPEECH_FOLDER

# espeak-ng voices that are distinct native English voices (en-gb+X ignores X and en-us-nyc
# sounds like en-us, so they are left out), and voice variants.
VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")
NOISE_COLORS = ("whitenoise", "pinknoise", "brownnoise")


def _tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        raise LNEError("the synthetic dataset tool needs espeak-ng and sox: apt-get install espeak-ng sox")
    return espeak, sox


def _speakers(p: dict, rng: np.random.Generator) -> list[dict]:
    seen, out = set(), []
    combos = len(p["voices"]) * len(p["variants"]) * (p["speed_max"] - p["speed_min"] + 1) * \
        (p["pitch_max"] - p["pitch_min"] + 1)
    if p["speakers"] > combos:
        raise LNEError(f"speakers={p['speakers']}: only {combos} voice/variant/speed/pitch combinations exist")
    while len(out) < p["speakers"]:
        s = {"voice": str(rng.choice(p["voices"])), "variant": str(rng.choice(p["variants"])),
             "speed": int(rng.integers(p["speed_min"], p["speed_max"] + 1)),
             "pitch": int(rng.integers(p["pitch_min"], p["pitch_max"] + 1))}
        tag = f"{s['voice']}+{s['variant']}:{s['speed']}:{s['pitch']}"
        if tag in seen:
            continue
        seen.add(tag)
        s["id"] = hashlib.sha1(tag.encode()).hexdigest()[:8]
        out.append(s)
    return out


def _say(espeak: str, sox: str, text: str, voice: str, speed: int, pitch: int, lead_s: float, volume: float,
         out: Path) -> None:
    wav = subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         capture_output=True)
    if wav.returncode != 0 or not wav.stdout:
        raise LNEError(f"espeak-ng -v {voice} failed for {text!r}: {wav.stderr.decode(errors='replace').strip()}")
    # rate first (sox would otherwise resample after trim), then drop leading silence, place the
    # word lead_s into the clip, and cut exactly 1 s. -D: no random dither -> reproducible.
    proc = subprocess.run([sox, "-D", "-V1", "-t", "wav", "-", "-b", "16", str(out), "rate", str(SAMPLE_RATE),
                           "channels", "1", "silence", "1", "0.01", "0.1%", "pad", f"{lead_s:.3f}", "1",
                           "trim", "0", f"{SAMPLE_RATE}s", "vol", f"{volume:.3f}"],
                          input=wav.stdout, capture_output=True)
    if proc.returncode != 0:
        raise LNEError(f"sox failed on {out.name}: {proc.stderr.decode(errors='replace').strip()}")


@register
class SynthSpeechCommands(Tool):
    name = "synth-speech-commands"
    version = "1"
    description = ("SYNTHETIC Speech Commands-layout dataset from espeak-ng + sox (offline; speakers are "
                   "voice/variant/speed/pitch combinations)")
    output = SPEECH_FOLDER
    synthetic = True
    params = {
        "words": Param("str_list", list(KEYWORDS), "keywords to speak"),
        "unknown_words": Param("str_list", list(UNKNOWN_WORDS), "other words (the _unknown_ class)"),
        "speakers": Param("int", 150, "number of synthetic speakers", min=1),
        "repetitions": Param("int", 1, "clips per speaker and word (_nohash_0.._nohash_{n-1})", min=1),
        "voices": Param("str_list", list(VOICES), "espeak-ng voices", choices=VOICES),
        "variants": Param("str_list", list(VARIANTS), "espeak-ng voice variants"),
        "speed_min": Param("int", 120, "slowest speed, words per minute", min=80, max=450),
        "speed_max": Param("int", 200, "fastest speed, words per minute", min=80, max=450),
        "pitch_min": Param("int", 20, "lowest pitch (espeak-ng 0-99)", min=0, max=99),
        "pitch_max": Param("int", 80, "highest pitch (espeak-ng 0-99)", min=0, max=99),
        "lead_min": Param("float", 0.05, "earliest word start in the clip, s", min=0.0, max=0.9),
        "lead_max": Param("float", 0.3, "latest word start in the clip, s", min=0.0, max=0.9),
        "volume_min": Param("float", 0.3, "quietest clip volume (loudest is 1)", min=0.01, max=1.0),
        "noise_seconds": Param("int", 30, "length of each background noise file", min=1),
        "validation_percentage": Param("float", 10.0, "share of speakers in validation_list.txt", min=0, max=100),
        "testing_percentage": Param("float", 10.0, "share of speakers in testing_list.txt", min=0, max=100),
        "seed": Param("int", 0, "random seed"),
        "workers": Param("int", 0, "parallel espeak-ng/sox processes (0: one per CPU)", min=0, key=False),
    }

    @classmethod
    def summary(cls, metrics: dict) -> str:
        return f"{metrics.get('clips', 0)} synthetic clips, {metrics.get('speakers', 0)} speakers"

    def run(self, ctx) -> None:
        import os

        p = ctx.params
        for lo, hi in (("speed_min", "speed_max"), ("pitch_min", "pitch_max"), ("lead_min", "lead_max")):
            if p[lo] > p[hi]:
                raise LNEError(f"step {ctx.step!r}: {lo}={p[lo]} is above {hi}={p[hi]}")
        if p["validation_percentage"] + p["testing_percentage"] > 100:
            raise LNEError(f"step {ctx.step!r}: validation_percentage + testing_percentage exceed 100")
        words = list(dict.fromkeys(p["words"] + p["unknown_words"]))
        if any(not w.isidentifier() or w.startswith("_") for w in words):
            raise LNEError(f"step {ctx.step!r}: words must be plain lower-case words, got {words}")
        espeak, sox = _tools()
        rng = np.random.default_rng(p["seed"])
        speakers = _speakers(p, rng)
        jobs = []
        for w in words:
            (ctx.out / w).mkdir()
            for s in speakers:
                for r in range(p["repetitions"]):
                    jobs.append((w, f"{w}/{s['id']}_nohash_{r}.wav", f"{s['voice']}+{s['variant']}",
                                 s["speed"] + (int(rng.integers(-8, 9)) if r else 0), s["pitch"],
                                 float(rng.uniform(p["lead_min"], p["lead_max"])),
                                 float(rng.uniform(p["volume_min"], 1.0))))
        ctx.log(f"SYNTHETIC: {len(words)} words x {len(speakers)} speakers x {p['repetitions']} = {len(jobs)} clips")
        workers = p["workers"] or os.cpu_count() or 1
        with ThreadPoolExecutor(workers) as pool:
            futs = [pool.submit(_say, espeak, sox, w, v, sp, pi, lead, vol, ctx.out / rel)
                    for w, rel, v, sp, pi, lead, vol in jobs]
            for f in ctx.progress(futs, total=len(futs), desc="espeak-ng + sox", unit="clip"):
                f.result()

        noise = ctx.out / NOISE_DIR
        noise.mkdir()
        for color in NOISE_COLORS:
            proc = subprocess.run([sox, "-R", "-D", "-V1", "-n", "-r", str(SAMPLE_RATE), "-b", "16", "-c", "1",
                                   str(noise / f"{color.replace('noise', '')}_noise.wav"),
                                   "synth", str(p["noise_seconds"]), color, "vol", "0.5"], capture_output=True)
            if proc.returncode != 0:
                raise LNEError(f"sox failed making {color}: {proc.stderr.decode(errors='replace').strip()}")

        order = list(speakers)
        rng.shuffle(order)
        n_test = round(len(order) * p["testing_percentage"] / 100)
        n_val = round(len(order) * p["validation_percentage"] / 100)
        test_ids = {s["id"] for s in order[:n_test]}
        val_ids = {s["id"] for s in order[n_test:n_test + n_val]}
        rels = sorted(rel for _, rel, *_ in jobs)
        (ctx.out / "testing_list.txt").write_text("".join(f"{r}\n" for r in rels
                                                          if r.split("/")[1][:8] in test_ids))
        (ctx.out / "validation_list.txt").write_text("".join(f"{r}\n" for r in rels
                                                             if r.split("/")[1][:8] in val_ids))
        (ctx.out / "README.md").write_text(
            "# SYNTHETIC keyword-spotting dataset (Google Speech Commands layout)\n\n"
            "Not human speech: every clip was generated offline by espeak-ng (voice+variant, speed,\n"
            f"pitch per synthetic speaker) and sox (16 kHz, 16-bit, mono, 1 s). Seed {p['seed']}.\n"
            "Speakers (id voice+variant speed pitch):\n"
            + "".join(f"  {s['id']} {s['voice']}+{s['variant']} {s['speed']} {s['pitch']}\n" for s in speakers))
        ctx.metrics.update({"synthetic": True, "clips": len(jobs), "words": words, "speakers": len(speakers),
                            "test_speakers": len(test_ids), "validation_speakers": len(val_ids),
                            "noise_files": len(NOISE_COLORS)})
        ctx.log(f"SYNTHETIC dataset: {len(jobs)} clips; speakers train/validation/test "
                f"{len(speakers) - len(test_ids) - len(val_ids)}/{len(val_ids)}/{len(test_ids)}")
