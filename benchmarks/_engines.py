"""Shared by peer_table.py and test_bench_networks.py: a reference network exported to ONNX and
compiled to an LNE bundle, and one runner per engine (LNE in-process through lne.InferenceSession,
the peers through lne.peers), all one thread, fp32, batch 1."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import lne
from lne.compiler import compile_model
from lne.models import INPUT_SHAPES, export_onnx
from lne.peers import ADAPTERS, PEERS, Runner

ENGINES: tuple[str, ...] = ("lne", *PEERS)

TITLES = {"kws_cnn": "KWS CNN (kws_cnn)", "ds_cnn": "DS_CNN (ds_cnn)", "alexnet": "AlexNet",
          "googlenet": "GoogLeNet", "squeezenet1_1": "SqueezeNet 1.1", "mobilenet_v2": "MobileNetV2",
          "resnet50": "ResNet50"}
PEER_TITLES = {"onnxruntime": "onnxruntime", "ncnn": "ncnn", "litert": "LiteRT (XNNPACK)", "openvino": "OpenVINO"}


class Network:
    """`name` exported to `workdir`/name.onnx and compiled + built to `workdir`/name (host)."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.onnx = workdir / f"{name}.onnx"
        if not self.onnx.is_file():
            export_onnx(name, self.onnx)
        self.bundle = workdir / name
        rng = np.random.default_rng(0)
        self.feeds = {"input": rng.standard_normal(INPUT_SHAPES[name]).astype(np.float32)}

    def runner(self, engine: str) -> Runner:
        """The engine's runner; LNEError (PeerSkipped when it cannot take this network) otherwise."""
        if engine == "lne":
            if not (self.bundle / "build").is_dir():
                compile_model(self.onnx, self.bundle, "host", build=True)
            sess = lne.InferenceSession(self.bundle)
            return Runner(lambda feeds: sess.run(None, feeds), lne.__version__)
        shapes = {k: v.shape for k, v in self.feeds.items()}
        return ADAPTERS[engine].prepare(self.onnx, self.name, shapes)


def installed_engines() -> list[str]:
    return ["lne"] + [p for p in PEERS if ADAPTERS[p].available()]
