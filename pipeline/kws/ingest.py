"""Import Google Speech Commands (v0.01 / v0.02 layout, folder or .tar.gz) into an HDF5 dataset.

Layout read: one folder per word of ``<speaker>_nohash_<n>.wav`` clips, ``_background_noise_/``,
``validation_list.txt`` and ``testing_list.txt`` (paths relative to the root).

Written (``kws-audio-dataset``): ``data/dataset.h5`` with one group per partition (train,
validation, test), each holding ``audio`` (N x 16000 int16, 1 s: zero-padded or trimmed at the
end), ``label`` (int64 index into the ``classes`` attribute), ``sample_id`` (``word/file.wav``;
``_silence_/<noise file>@<offset>`` for silence) and ``speaker_id``; a ``background_noise`` group
(one int16 dataset per noise file); attributes ``classes``, ``sample_rate``, ``clip_samples``,
``source``, ``synthetic``.

Classes: the chosen words (default the standard 10), ``_silence_`` and ``_unknown_``. Every other
word is ``_unknown_``; per partition, ``unknown_percentage`` / ``silence_percentage`` of the
partition's keyword-clip count are kept / made (the TensorFlow speech_commands convention),
unknown clips picked with a seeded shuffle, silence clips cut from the background noise at a
random offset and volume. Partitions come from the list files; when both are absent, from the
dataset's hash-of-speaker rule (sha1 of the file name up to ``_nohash_``). Corrupt, non-16 kHz or
non-mono WAVs are reported in the log and metrics and skipped, and so is anything named ``*.wav``
that is not a regular file (a FIFO would block the read forever). Sizes are bounded before
anything is read: a keyword clip is read up to its first second, a background-noise file of
more than ``MAX_NOISE_SECONDS`` is skipped, an archive is extracted member by member (links out of
it, devices and FIFOs refused by the ``data`` filter) up to ``MAX_ARCHIVE_MEMBERS`` files and
``MAX_ARCHIVE_BYTES``.
"""
from __future__ import annotations

import hashlib
import math
import re
import tarfile
from pathlib import Path

import numpy as np

from lne import limits
from lne.errors import LNEError
from lne.limits import plain

from ..params import Param
from ..tool import Input, Tool, register
from .common import (AUDIO_DATASET, KEYWORDS, NOISE_DIR, PARTITIONS, SAMPLE_RATE, SILENCE, SPEECH_FOLDER,
                     UNKNOWN, need, write_strings)

_MAX_PER_CLASS = 2 ** 27 - 1
MAX_NOISE_SECONDS = 600                 # a background-noise file (Speech Commands' are about 60 s)
MAX_ARCHIVE_MEMBERS = 1_000_000         # Speech Commands v0.02 has about 106,000
MAX_ARCHIVE_BYTES = 64 << 30            # ... and about 3.8 GB
MAX_LIST_BYTES = 16 << 20               # validation_list.txt / testing_list.txt


def hash_partition(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """The Speech Commands README's rule: a speaker's clips all land in one partition."""
    speaker = re.sub(r"_nohash_.*$", "", Path(filename).name)
    h = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    pct = (h % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    if pct < validation_percentage:
        return "validation"
    if pct < validation_percentage + testing_percentage:
        return "test"
    return "train"


def _open(path: Path):
    """(open binary file, "") for a regular file, else (None, why it is skipped)."""
    try:
        return limits.open_regular(path, "the WAV file"), ""
    except LNEError as e:
        return None, str(e).rpartition("cannot read the WAV file: ")[2] or str(e)


def _header_problem(info) -> str:
    if info.samplerate != SAMPLE_RATE:
        return f"sample rate {info.samplerate} Hz, expected {SAMPLE_RATE}"
    if info.channels != 1:
        return f"{info.channels} channels, expected mono"
    if info.frames == 0:
        return "no samples"
    return ""


def check_wav(path: Path) -> str:
    """Why ``path`` is skipped ("" for a readable 16 kHz mono WAV header of a regular file)."""
    sf = need("soundfile", "reading WAV files")
    f, why = _open(path)
    if f is None:
        return why
    with f:
        try:
            info = sf.info(f)
        except Exception as e:  # soundfile raises several types for corrupt files
            return f"unreadable: {plain(str(e).strip(), 200) or type(e).__name__}"
    return _header_problem(info)


def read_wav(path: Path, max_frames: int | None = None, keep: int | None = None) -> tuple[np.ndarray | None, str]:
    """(int16 samples, "") for a good 16 kHz mono WAV, else (None, why it is skipped). A file of
    more than ``max_frames`` samples is skipped; only the first ``keep`` samples are read."""
    sf = need("soundfile", "reading WAV files")
    f, why = _open(path)
    if f is None:
        return None, why
    with f:
        try:
            with sf.SoundFile(f) as snd:
                why = _header_problem(snd)
                if why:
                    return None, why
                if max_frames is not None and snd.frames > max_frames:
                    return None, (f"{snd.frames} samples ({snd.frames / SAMPLE_RATE:.0f} s); at most "
                                  f"{max_frames} are read")
                n = snd.frames if keep is None else min(snd.frames, keep)
                data = snd.read(frames=n, dtype="int16", always_2d=False)
        except Exception as e:
            return None, f"unreadable: {plain(str(e).strip(), 200) or type(e).__name__}"
    return (data, "") if data.size else (None, "no samples")


def fit_1s(x: np.ndarray) -> np.ndarray:
    out = np.zeros(SAMPLE_RATE, np.int16)
    n = min(len(x), SAMPLE_RATE)
    out[:n] = x[:n]
    return out


def _find_root(folder: Path) -> Path:
    """The folder holding the word folders (an archive may wrap them in one extra folder)."""
    def looks_like(d: Path) -> bool:
        return (d / NOISE_DIR).is_dir() or (d / "testing_list.txt").is_file() or \
            any(c.is_dir() and not c.name.startswith("_") and any(c.glob("*.wav")) for c in d.iterdir())
    if looks_like(folder):
        return folder
    subs = [d for d in folder.iterdir() if d.is_dir()]
    if len(subs) == 1 and looks_like(subs[0]):
        return subs[0]
    raise LNEError(f"{plain(str(folder), 200)}: no Speech Commands layout here (no word folders with .wav files)")


def _source_root(ctx) -> tuple[Path, str]:
    raw, src = ctx.inputs.get("raw"), ctx.params["source"]
    if (raw is None) == (src is None):
        raise LNEError(f"step {ctx.step!r}: give exactly one of the input 'raw' or the parameter 'source'")
    if raw is not None:
        return _find_root(raw.data), f"artifact {raw.metadata['step']} ({raw.hash[:12]})"
    path = Path(src)
    if path.is_dir():
        return _find_root(path), str(path)
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        dest = ctx.scratch / "extracted"
        done = ctx.scratch / "extracted.ok"
        if not done.is_file():
            ctx.log(f"extracting {plain(str(path), 200)} ...")
            _extract(path, dest)
            done.touch()
        return _find_root(dest), str(path)
    raise LNEError(f"source {plain(str(src), 200)}: not a folder or a .tar.gz archive")


def _bounded(tar, label: str):
    """The archive's members, refusing (before extracting it) one past the count or size limit."""
    count = total = 0
    for m in tar:
        count += 1
        total += max(int(m.size), 0)
        if count > MAX_ARCHIVE_MEMBERS:
            raise LNEError(f"{label}: more than {MAX_ARCHIVE_MEMBERS} files in the archive")
        if total > MAX_ARCHIVE_BYTES:
            raise LNEError(f"{label}: the archive holds more than {MAX_ARCHIVE_BYTES >> 30} GiB")
        yield m


def _extract(path: Path, dest: Path) -> None:
    """Extract a (compressed) tar archive with the ``data`` filter (no absolute or '..' member,
    no link out of ``dest``, no device or FIFO), opened only if it is a regular file."""
    label = plain(str(path), 200)
    with limits.open_regular(path, "the archive") as f:
        try:
            with tarfile.open(fileobj=f, mode="r:*") as tar:
                tar.extractall(dest, members=_bounded(tar, label), filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise LNEError(f"{label}: cannot extract: {plain(str(e), 200)}") from None


def _read_list(root: Path, name: str) -> set[str] | None:
    p = root / name
    if not p.exists() and not p.is_symlink():
        return None
    text = limits.read_text(p, f"the partition list {name}", MAX_LIST_BYTES)
    return {line.strip().replace("\\", "/") for line in text.splitlines() if line.strip()}


@register
class IngestSpeechCommands(Tool):
    name = "ingest-speech-commands"
    version = "1"
    description = "Google Speech Commands (folder or .tar.gz, v0.01/v0.02 layout) -> HDF5 dataset of 1 s clips"
    inputs = {"raw": Input(SPEECH_FOLDER, optional=True, help="a Speech Commands-layout folder artifact")}
    output = AUDIO_DATASET
    params = {
        "source": Param("path", None, "Speech Commands folder or .tar.gz (instead of the 'raw' input)"),
        "words": Param("str_list", list(KEYWORDS), "keyword classes (others become _unknown_)"),
        "silence_percentage": Param("float", 10.0, "silence clips per partition, % of its keyword clips", min=0),
        "unknown_percentage": Param("float", 10.0, "unknown clips kept per partition, % of its keyword clips",
                                    min=0),
        "validation_percentage": Param("float", 10.0, "hash rule share of validation (no list files)", min=0),
        "testing_percentage": Param("float", 10.0, "hash rule share of test (no list files)", min=0),
        "seed": Param("int", 0, "seed for picking unknown clips and cutting silence"),
    }

    @classmethod
    def summary(cls, metrics: dict) -> str:
        c = metrics.get("counts", {})
        return ", ".join(f"{p} {c[p]['total']}" for p in PARTITIONS if p in c) + \
            (f"; {len(metrics.get('skipped', []))} WAVs skipped" if metrics.get("skipped") else "")

    def run(self, ctx) -> None:
        h5py = need("h5py", "the ingestion tool")
        p = ctx.params
        root, source = _source_root(ctx)
        classes = list(p["words"]) + [SILENCE, UNKNOWN]
        if len(set(classes)) != len(classes):
            raise LNEError(f"step {ctx.step!r}: duplicate words in {p['words']}")
        val_list, test_list = _read_list(root, "validation_list.txt"), _read_list(root, "testing_list.txt")
        use_lists = val_list is not None or test_list is not None
        ctx.log(f"reading {plain(str(root), 200)} ({'list files' if use_lists else 'hash-of-speaker rule'} for partitions)")
        skipped: list[dict] = []

        files = sorted(f for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))
                       for f in d.glob("*.wav"))
        known = {part: [] for part in PARTITIONS}
        unknown = {part: [] for part in PARTITIONS}
        for f in ctx.progress(files, desc="checking WAVs", unit="file"):
            rel = f"{f.parent.name}/{f.name}"
            why = check_wav(f)
            if why:
                skipped.append({"file": rel, "reason": why})
                ctx.log(f"skipped {plain(rel, 200)}: {why}")
                continue
            if use_lists:
                part = "validation" if rel in (val_list or ()) else "test" if rel in (test_list or ()) else "train"
            else:
                part = hash_partition(f.name, p["validation_percentage"], p["testing_percentage"])
            word = f.parent.name
            item = (rel, re.sub(r"_nohash_.*$", "", f.name), f)
            if word in p["words"]:
                known[part].append((classes.index(word), *item))
            else:
                unknown[part].append((classes.index(UNKNOWN), *item))

        noise = {}
        for f in sorted((root / NOISE_DIR).glob("*.wav")) if (root / NOISE_DIR).is_dir() else []:
            audio, why = read_wav(f, max_frames=MAX_NOISE_SECONDS * SAMPLE_RATE)
            if audio is None or len(audio) < SAMPLE_RATE:
                why = why or "shorter than 1 s"
                skipped.append({"file": f"{NOISE_DIR}/{f.name}", "reason": why})
                ctx.log(f"skipped {NOISE_DIR}/{plain(f.name, 200)}: {why}")
                continue
            noise[f.stem] = audio
        if not noise and p["silence_percentage"] > 0:
            ctx.log("no usable background noise: silence clips are all zeros")

        counts = {}
        out_path = ctx.out / "dataset.h5"
        with h5py.File(out_path, "w") as h5:
            for pi, part in enumerate(PARTITIONS):
                rng = np.random.default_rng([p["seed"], pi])
                items = known[part]
                n_unknown = min(len(unknown[part]), math.ceil(len(items) * p["unknown_percentage"] / 100))
                pick = rng.permutation(len(unknown[part]))[:n_unknown]
                items = items + [unknown[part][i] for i in sorted(pick)]
                n_sil = math.ceil(len(known[part]) * p["silence_percentage"] / 100)
                items = items + self._silence(n_sil, noise, rng, classes.index(SILENCE))
                labels = self._write_partition(ctx, h5.create_group(part), items, skipped)
                per = np.bincount(np.array(labels, np.int64), minlength=len(classes))
                counts[part] = {"total": len(labels), **{c: int(n) for c, n in zip(classes, per)}}
            ng = h5.create_group("background_noise")
            for name, audio in noise.items():
                ng.create_dataset(name, data=audio, dtype=np.int16)
            h5.attrs["format"] = AUDIO_DATASET
            h5.attrs["classes"] = classes
            h5.attrs["sample_rate"] = SAMPLE_RATE
            h5.attrs["clip_samples"] = SAMPLE_RATE
            h5.attrs["source"] = ("SYNTHETIC (espeak-ng + sox) " if ctx.synthetic else "") + source
            h5.attrs["synthetic"] = ctx.synthetic
            h5.attrs["partitions_from"] = "list files" if use_lists else "hash of speaker"
        ctx.metrics.update({"synthetic": ctx.synthetic, "classes": classes, "counts": counts, "skipped": skipped,
                            "partitions_from": "list files" if use_lists else "hash of speaker"})
        ctx.log("clips per partition: " + ", ".join(f"{k} {v['total']}" for k, v in counts.items())
                + f"; skipped {len(skipped)} WAV(s)")

    @staticmethod
    def _write_partition(ctx, g, items: list, skipped: list) -> list[int]:
        """Write (label, id, speaker, path-or-samples) items; WAVs are read here, one at a time."""
        audio = g.create_dataset("audio", shape=(0, SAMPLE_RATE), maxshape=(None, SAMPLE_RATE),
                                 chunks=(64, SAMPLE_RATE), dtype=np.int16)
        labels, ids, speakers, buf = [], [], [], []

        def flush():
            if buf:
                n = audio.shape[0]
                audio.resize(n + len(buf), axis=0)
                audio[n:] = np.stack(buf)
                buf.clear()
        for label, sid, speaker, src in ctx.progress(items, desc=f"writing {g.name[1:]}", unit="clip"):
            if isinstance(src, Path):
                x, why = read_wav(src, keep=SAMPLE_RATE)
                if x is None:
                    skipped.append({"file": sid, "reason": why})
                    ctx.log(f"skipped {plain(sid, 200)}: {why}")
                    continue
                src = fit_1s(x)
            buf.append(src)
            labels.append(label)
            ids.append(sid)
            speakers.append(speaker)
            if len(buf) >= 1024:
                flush()
        flush()
        g.create_dataset("label", data=np.array(labels, np.int64))
        write_strings(g, "sample_id", ids)
        write_strings(g, "speaker_id", speakers)
        return labels

    @staticmethod
    def _silence(n: int, noise: dict, rng, label: int) -> list:
        out = []
        names = sorted(noise)
        for i in range(n):
            if names:
                name = names[int(rng.integers(len(names)))]
                src = noise[name]
                off = int(rng.integers(0, len(src) - SAMPLE_RATE + 1))
                vol = float(rng.uniform(0.0, 1.0))
                clip = np.round(src[off:off + SAMPLE_RATE].astype(np.float32) * vol).astype(np.int16)
                sid = f"{SILENCE}/{name}@{off}"
            else:
                clip, sid = np.zeros(SAMPLE_RATE, np.int16), f"{SILENCE}/zeros@{i}"
            out.append((label, sid, "", clip))
        return out
