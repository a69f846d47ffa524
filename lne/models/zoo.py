"""Model registry and deterministic random initialisation (imports torch; see ``lne.models``).

The weights are random, not trained: the networks exist to test the compiler, so what matters
is that (a) every op sees non-trivial values (random conv/FC biases, BatchNorm running stats,
gamma and beta all far from the identity, so BN folding is really exercised) and (b)
activations stay O(1) through 50+ layers: conv / linear weights are He-normal (fan-in),
std sqrt(2 / fan_in), which keeps the second moment of ReLU activations roughly constant
(gain 1 instead of sqrt(2) on convs a module marks ``lne_init_gain = 1.0``: those with no ReLU
after them). BN layers a module marks ``lne_gamma_scale`` (ResNet's last BN of each residual
branch, 0.3) get gamma scaled down, so the residual sum does not double the variance per block.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .kws import KWS_CONFIGS, KWS_INPUT_SHAPE, kws_net
from .vision import VISION_INPUT_SHAPE, VISION_MODELS


def _make(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    if name in KWS_CONFIGS:
        return kws_net(name), KWS_INPUT_SHAPE
    return VISION_MODELS[name](), VISION_INPUT_SHAPE


@torch.no_grad()
def init_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter and BN buffer of ``model`` from a generator seeded ``seed``."""
    g = torch.Generator().manual_seed(seed)

    def normal(t: torch.Tensor, std: float, mean: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=g) * std + mean)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()  # (C_in / groups) * k_h * k_w
            gain = getattr(m, "lne_init_gain", math.sqrt(2.0))  # 1.0 where no ReLU follows
            normal(m.weight, gain / math.sqrt(fan_in))
            if m.bias is not None:
                normal(m.bias, 0.05)
        elif isinstance(m, nn.Linear):
            normal(m.weight, math.sqrt(1.0 / m.in_features))
            normal(m.bias, 0.05)
        elif isinstance(m, nn.BatchNorm2d):
            normal(m.running_mean, 0.1)
            uniform(m.running_var, 0.5, 1.5)
            uniform(m.weight, 0.5, 1.5)
            m.weight.mul_(getattr(m, "lne_gamma_scale", 1.0))  # < 1 on residual branches
            normal(m.bias, 0.1)
    return model


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    # fork_rng: module constructors draw default inits from the global RNG; keep the caller's
    # RNG state untouched (everything is overwritten from our own generator anyway).
    with torch.random.fork_rng(devices=[]):
        model, shape = _make(name)
    init_weights(model, seed)
    return model.eval(), shape
