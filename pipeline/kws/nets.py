"""The KWS network families for training: the paper's tables (lne.models.kws) or a user table.

An architecture is plain data (stored beside the trained weights)::

    {"name": "kws9", "layers": [[5, 5, 50], [1, 1, 20], ...], "depthwise": false,
     "classes": 12, "input_shape": [1, 1, 40, 32], "mean": [...40], "std": [...40]}

The network is an input normalisation (per MFCC coefficient: (x - mean) / std, from the
training set; exported as ONNX Sub + Mul so the deployed library takes raw MFCCs) followed by
``lne.models.kws.KWSNet(layers, depthwise)``: conv1 stride 1x2, conv2 stride 2x2, BN + ReLU
after every conv, DS layers as depthwise + pointwise, global average pool, one FC layer.
"""
from __future__ import annotations

from lne.errors import LNEError

TABLES = ("kws_cnn", "ds_cnn", "kws1", "kws3", "kws9", "ds_kws1", "ds_kws3", "ds_kws9")


def architecture(name: str, layers: list | None, depthwise: bool, classes: int, input_shape) -> dict:
    """Resolve ``name`` (a paper table, or "custom" with ``layers``) to an architecture dict."""
    from lne.models.kws import KWS_CONFIGS

    if name == "custom":
        if not layers:
            raise LNEError("architecture 'custom' needs the parameter layers: [[k_h, k_w, M], ...]")
        table, dw = [list(r) for r in layers], depthwise
    elif name in KWS_CONFIGS:
        if layers:
            raise LNEError(f"architecture {name!r} has its own layer table; use architecture: custom for layers")
        t, dw = KWS_CONFIGS[name]
        table = [list(r) for r in t]
    else:
        raise LNEError(f"unknown architecture {name!r}; choose one of {', '.join(TABLES)} or custom")
    return {"name": name, "layers": table, "depthwise": bool(dw), "classes": int(classes),
            "input_shape": list(input_shape)}


def build(arch: dict):
    """The torch module for ``arch`` (normalisation from arch['mean'/'std'] if present)."""
    import torch
    from torch import nn

    from lne.models.kws import KWSNet

    class Normalize(nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            h = len(mean)
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, 1, h, 1))
            self.register_buffer("scale", (1.0 / torch.tensor(std, dtype=torch.float32)).reshape(1, 1, h, 1))

        def forward(self, x):
            return (x - self.mean) * self.scale

    h = arch["input_shape"][2]
    net = KWSNet([tuple(r) for r in arch["layers"]], arch["depthwise"], in_channels=arch["input_shape"][1],
                 num_classes=arch["classes"])
    norm = Normalize(arch.get("mean", [0.0] * h), arch.get("std", [1.0] * h))
    return nn.Sequential(norm, net)


def count_macs(model, input_shape) -> int:
    """Multiply-accumulates of one inference (convolutions and fully connected layers)."""
    import torch
    from torch import nn

    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() // out.shape[0] * kh * kw * m.in_channels // m.groups

    def fc_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(fc_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


def export_onnx(model, input_shape, path) -> None:
    """ONNX (opset 17, TorchScript exporter, static shape, input "input", output "output")."""
    import torch

    from lne.models.export import _quiet_exporter

    model.eval()
    with _quiet_exporter(), torch.no_grad():
        torch.onnx.export(model, (torch.zeros(input_shape),), str(path), dynamo=False, export_params=True,
                          opset_version=17, input_names=["input"], output_names=["output"],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
