"""Hostile documents and files: plans, bundle manifests, workflows, WAV folders, FIFOs."""
import json
import struct
from pathlib import Path

import numpy as np

from .base import (ESC_NAME, _write, _short_names, mkfifo, write_wav)
from .onnx_inputs import (HUGE)
from .caffe_inputs import (_CAFFE_IP)


# plan.json (for `lne compile tiny.onnx --plan`)

PLAN_NODES = 35_000   # the largest plan of distinct node names under 1 MB


def _plan(doc) -> str:
    return json.dumps({"format": "lne-plan", "version": 1, **doc}, separators=(",", ":"))


def plan_many_nodes(d, case):
    nodes = [{"name": n, "kernel": "k"} for n in _short_names(PLAN_NODES)]
    return _write(d / "many_nodes.plan.json", _plan({"nodes": nodes}))


def plan_deep(d, case):
    return _write(d / "deep.plan.json", '{"format":"lne-plan","version":1,"nodes":' + "[" * 200_000
                  + "]" * 200_000 + "}")


def plan_deep_object(d, case):
    return _write(d / "deep_object.plan.json", '{"format":"lne-plan","version":1,"x":' + '{"a":' * 100_000
                  + "1" + "}" * 100_000 + ',"nodes":[]}')


def plan_wrong_types(d, case):
    return _write(d / "wrong_types.plan.json", _plan({"nodes": "conv", "plugins": {"a": 1}}))


def plan_wrong_node_types(d, case):
    return _write(d / "wrong_node_types.plan.json", _plan({"nodes": [{"name": 1, "kernel": ["x"]}, 5, None]}))


def plan_wrong_version(d, case):
    return _write(d / "wrong_version.plan.json", json.dumps({"format": "lne-plan", "version": "1" * 100_000,
                                                             "nodes": []}))


def plan_huge_string(d, case):
    return _write(d / "huge_string.plan.json", _plan({"nodes": [{"name": "conv", "kernel": "K" * HUGE},
                                                                {"name": "relu", "kernel": "x"}]}))


def plan_escape(d, case):
    return _write(d / "escape.plan.json", _plan({"target": ESC_NAME,
                                                 "nodes": [{"name": ESC_NAME, "kernel": ESC_NAME}]}))


def plan_fifo(d, case):
    return mkfifo(d / "fifo.plan.json")


# ------------------------------------------------------------------------------------------------
# bundle manifests: edits applied to <name>.json of a copy of a real bundle (by the test)

MANIFEST_EDITS = {
    # name -> (kind, value): "set" a top-level field, or "text" to replace the whole file
    "wrong_types": ("set", {"arena_size": "64", "inputs": {"x": 1}}),
    "inputs_not_objects": ("set", {"inputs": [1, 2]}),
    "bad_shape": ("set", {"inputs": [{"name": "x", "shape": [-1, 2**70]}]}),
    "huge_shape": ("set", {"inputs": [{"name": "x", "shape": [65536, 65536, 65536]}]}),
    "huge_arena": ("set", {"arena_size": 2**39}),
    "arena_too_small": ("set", {"arena_size": 1}),
    "huge_weights_size": ("set", {"weights_size": 2**39}),
    "huge_name": ("set", {"name": "N" * HUGE}),
    "bad_name": ("set", {"name": "../../evil"}),
    "escape_names": ("nodes_escape", None),
    "many_nodes": ("many_nodes", 20_000),
    "deep": ("text", '{"lne_version":"0.1.0","name":"tiny","x":' + "[" * 200_000 + "]" * 200_000 + "}"),
    "deep_inside": ("deep_field", 100_000),
    "not_json": ("text", "\x00\x01garbage"),
    "fifo": ("fifo", None),
}


def edit_manifest(bundle: Path, edit: str) -> Path:
    """Apply MANIFEST_EDITS[edit] to the manifest of the bundle copy ``bundle``."""
    kind, value = MANIFEST_EDITS[edit]
    (manifest,) = [p for p in bundle.glob("*.json") if p.name != "package.json"]
    m = json.loads(manifest.read_text())
    if kind == "set":
        m.update(value)
        text = json.dumps(m)
    elif kind == "nodes_escape":
        for n in m["nodes"]:
            n["name"] = ESC_NAME + n["name"]
            n["kernel"] = ESC_NAME
        m["steps"] = [ESC_NAME + s for s in m.get("steps", [])]
        text = json.dumps(m)
    elif kind == "many_nodes":
        m["nodes"] = [{"name": n, "op": "Relu", "kernel": "k", "macs": 0} for n in _short_names(value)]
        text = json.dumps(m, separators=(",", ":"))
    elif kind == "deep_field":
        text = json.dumps(m)[:-1] + ',"extra":' + "[" * value + "]" * value + "}"
    elif kind == "text":
        text = value
    elif kind == "fifo":
        manifest.unlink()
        mkfifo(manifest)
        return manifest
    else:  # pragma: no cover
        raise ValueError(kind)
    manifest.write_text(text)
    return manifest


# ------------------------------------------------------------------------------------------------
# workflows (YAML) and a Speech Commands-layout folder

def mini_speech(root: Path) -> Path:
    """Two words, two speakers each, one background noise file: ingest takes a second."""
    for w in ("yes", "no"):
        for s in ("aaaa1111", "bbbb2222"):
            write_wav(root / w / f"{s}_nohash_0.wav", np.full(16000, 7 if w == "yes" else -7, np.int16))
    write_wav(root / "_background_noise_" / "hum.wav", (np.arange(48000) % 200 - 100).astype(np.int16))
    return root


INGEST_STEP = ("steps:\n  dataset:\n    tool: ingest-speech-commands\n    params:\n"
               "      source: {src}\n      silence_percentage: 50.0\n")


def _wf(d, stem, text):
    return _write(d / f"{stem}.yml", text)


def wf_billion_laughs(d, case):
    lines = ['name: laughs', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("parameters:\n  p: *i\nsteps:\n  s: {tool: ingest-speech-commands}\n")
    return _wf(d, "billion_laughs", "\n".join(lines))


def wf_deep_flow(d, case):
    return _wf(d, "deep_flow", "name: deep\nparameters:\n  p: " + "[" * 50_000 + "]" * 50_000 + "\nsteps: {}\n")


def wf_deep_block(d, case):
    """1,000 levels of block mappings (indentation): about 500 KB."""
    lines = ["name: deepblock", "parameters:"]
    for i in range(1000):
        lines.append(" " * (i + 1) + "k:")
    lines[-1] += " 1"
    return _wf(d, "deep_block", "\n".join(lines) + "\nsteps: {}\n")


def wf_name_dotdot(d, case):
    src = mini_speech(d / "speech")
    victim = case / "cwd" / "a" / "victim"       # runs/../../victim from the cwd case/cwd/a/b
    _write(victim / "precious.txt", "keep me")
    return _wf(d, "name_dotdot", "name: ../../victim\n" + INGEST_STEP.format(src=json.dumps(str(src))))


def wf_name_abs(d, case):
    src = mini_speech(d / "speech")
    victim = case / "cwd" / "abs_victim"
    _write(victim / "precious.txt", "keep me")
    return _wf(d, "name_abs", f"name: {json.dumps(str(victim))}\n" + INGEST_STEP.format(src=json.dumps(str(src))))


def wf_name_huge(d, case):
    return _wf(d, "name_huge", "name: " + "n" * HUGE + "\nsteps:\n  s: {tool: ingest-speech-commands}\n")


def wf_name_escape(d, case):
    return _wf(d, "name_escape", "name: " + json.dumps(ESC_NAME) + "\nsteps:\n  s: {tool: ingest-speech-commands}\n")


def _tool_wf(d, stem, tool):
    return _wf(d, stem, f"name: {stem}\nsteps:\n  s:\n    tool: {json.dumps(tool)}\n")


def wf_tool_abstract(d, case):
    return _tool_wf(d, "tool_abstract", "lne.pipeline.tool:Tool")


def wf_tool_os_system(d, case):
    return _tool_wf(d, "tool_os_system", "os:system")


def wf_tool_unknown_module(d, case):
    return _tool_wf(d, "tool_unknown_module", "no_such_module_lne_hostile:Thing")


def wf_tool_dotted_attr(d, case):
    return _tool_wf(d, "tool_dotted_attr", "os:path.join")


def wf_tool_bad_syntax(d, case):
    return _tool_wf(d, "tool_bad_syntax", "../../x:Y")


def wf_wrong_types(d, case):
    return _wf(d, "wrong_types", "name: [1, 2]\nparameters: 5\nsteps: {s: {tool: 3, inputs: 7, params: [1]}}\n")


def wf_steps_not_mapping(d, case):
    return _wf(d, "steps_not_mapping", "name: x\nsteps: [1, 2, 3]\n")


def wf_not_yaml(d, case):
    return _wf(d, "not_yaml", "name: x\nsteps: {a: [}\n\x00\x1b[2J")


def wf_tags(d, case):
    """Python tags must never run."""
    return _wf(d, "tags", "name: !!python/object/apply:os.system ['touch PWNED']\nsteps: {}\n")


def wf_fifo(d, case):
    return mkfifo(d / "fifo.yml")


def _dataset_wf(d, stem, root):
    return _wf(d, stem, f"name: {stem}\n" + INGEST_STEP.format(src=json.dumps(str(root))))


def wf_dataset_fifo_wav(d, case):
    """A Speech Commands folder with a FIFO named like a keyword clip and one in the noise folder."""
    root = mini_speech(d / "speech")
    mkfifo(root / "yes" / "cccc3333_nohash_0.wav")
    mkfifo(root / "_background_noise_" / "pipe.wav")
    return _dataset_wf(d, "dataset_fifo_wav", root)


def wf_dataset_fifo_list(d, case):
    root = mini_speech(d / "speech")
    mkfifo(root / "testing_list.txt")
    return _dataset_wf(d, "dataset_fifo_list", root)


def wf_dataset_fifo_archive(d, case):
    mkfifo(d / "speech.tar.gz")
    return _dataset_wf(d, "dataset_fifo_archive", d / "speech.tar.gz")


def wf_dataset_huge_wav(d, case):
    """A keyword clip whose header claims 2^31 frames (a few bytes on disk)."""
    root = mini_speech(d / "speech")
    p = write_wav(root / "yes" / "dddd4444_nohash_0.wav", np.full(100, 5, np.int16))
    data = bytearray(p.read_bytes())
    data[40:44] = struct.pack("<I", 0xFFFFFFF0)
    data[4:8] = struct.pack("<I", 0xFFFFFFF8)
    p.write_bytes(bytes(data))
    return _dataset_wf(d, "dataset_huge_wav", root)


def wf_dataset_ok(d, case):
    """Control: the mini folder as it is (must ingest)."""
    return _dataset_wf(d, "dataset_ok", mini_speech(d / "speech"))


def artifact_deep(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", '{"format":"x","x":' + "[" * 200_000 + "]" * 200_000 + "}")
    (a / "data").mkdir(exist_ok=True)
    return a


def artifact_wrong_types(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", json.dumps({"format": 5, "tool": ["x"], "step": {"a": 1}, "hash": 7,
                                            "inputs": "no", "params": 3}))
    (a / "data").mkdir(exist_ok=True)
    return a


def artifact_escape(d, case):
    a = d / "artifact"
    _write(a / "metadata.json", json.dumps({"format": ESC_NAME, "tool": ESC_NAME, "step": ESC_NAME,
                                            "hash": ESC_NAME, "key": ESC_NAME, "inputs": {}, "params": {}}))
    _write(a / "data" / (ESC_NAME.replace("/", "_").replace("\x00", "") + ".txt"), "x")
    return a


# ------------------------------------------------------------------------------------------------
# FIFOs as inputs

def fifo_onnx(d, case):
    return mkfifo(d / "fifo.onnx")


def fifo_prototxt(d, case):
    return mkfifo(d / "fifo.prototxt")


def fifo_caffemodel(d, case):
    _write(d / "for_fifo.prototxt", _CAFFE_IP)
    return mkfifo(d / "fifo.caffemodel")


# ------------------------------------------------------------------------------------------------
