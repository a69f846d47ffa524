"""ImageNet reference networks (paper section 8.2.3): 1x3x224x224 input, 1000 logits.

The paper benchmarks the Caffe-repository versions ("Alexnet, Resnet50-V1, Googlenet-V1,
Squeezenet-V1.1, Mobilenet-V2-1.0-224"); these modules follow them:

* ``alexnet``: the original Caffe bvlc_alexnet: grouped convs (group 2 in conv2/4/5), conv
  biases, LocalResponseNorm(5, 1e-4, 0.75, k=1) after relu1 and relu2, ceil-mode 3x3/2 max
  pools (with ceil mode a 224 input still gives the 6x6x256 = 9216 fc6 input), no BN.
  60,965,224 parameters.
* ``googlenet``: Inception v1 as in Caffe bvlc_googlenet: LRN after pool1 and after
  conv2/3x3, ceil-mode max pools, real 5x5 branches (torchvision uses 3x3 there), conv
  biases, no BN, no auxiliary heads, 7x7/1 average pool, dropout, fc. 6,998,552 parameters.
* ``squeezenet1_1``: SqueezeNet 1.1 (torchvision / Caffe layout: ceil-mode pools, final 1x1
  conv + ReLU + global average pool). 1,235,496 parameters.
* ``mobilenet_v2``: MobileNetV2 width 1.0 (torchvision layout), ReLU6, BN. 3,504,872 params.
* ``resnet50``: ResNet-50 **v1** (the paper's "Resnet50-V1", Kaiming He's Caffe model): the
  stride-2 of a downsampling bottleneck sits on its first 1x1 conv (v1.5 / torchvision puts it
  on the 3x3). Otherwise torchvision's layout (conv1 without bias, 3x3/2 pad-1 max pool, global
  average pool). 25,557,032 parameters (same count as v1.5).

LRN is exported as a real ONNX ``LRN`` node (see :class:`LRN`), not as PyTorch's decomposition.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VISION_INPUT_SHAPE = (1, 3, 224, 224)
VISION_NUM_CLASSES = 1000


class _LRNFunction(torch.autograd.Function):
    """local_response_norm whose TorchScript-ONNX export is a single ``LRN`` node."""

    @staticmethod
    def forward(ctx, x, size: int, alpha: float, beta: float, k: float):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm`` (same semantics as Caffe's and ONNX's LRN for odd sizes:
    x / (k + alpha / size * sum_{window} x^2) ** beta) that exports as ONNX ``LRN``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)


def _lrn() -> LRN:
    return LRN(size=5, alpha=1e-4, beta=0.75, k=1.0)


def _maxpool_ceil(k: int = 3, s: int = 2, p: int = 0) -> nn.MaxPool2d:
    return nn.MaxPool2d(k, s, p, ceil_mode=True)


# ----------------------------------------------------------------------------------- AlexNet
class AlexNet(nn.Module):
    def __init__(self, num_classes: int = VISION_NUM_CLASSES):
        super().__init__()
        r = lambda: nn.ReLU(inplace=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), r(), _lrn(), _maxpool_ceil(),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), r(), _lrn(), _maxpool_ceil(),
            nn.Conv2d(256, 384, 3, padding=1), r(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), r(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), r(), _maxpool_ceil(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(256 * 6 * 6, 4096), r(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), r(), nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# --------------------------------------------------------------------------------- GoogLeNet
def _conv_relu(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad), nn.ReLU(inplace=True))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = _conv_relu(cin, c1, 1)
        self.b2 = nn.Sequential(_conv_relu(cin, c3r, 1), _conv_relu(c3r, c3, 3, pad=1))
        self.b3 = nn.Sequential(_conv_relu(cin, c5r, 1), _conv_relu(c5r, c5, 5, pad=2))
        self.b4 = nn.Sequential(_maxpool_ceil(3, 1, 1), _conv_relu(cin, cp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    # (c1, c3reduce, c3, c5reduce, c5, pool_proj), Szegedy et al. 2015 Table 1
    CFG = {
        "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
        "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
        "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
        "4e": (256, 160, 320, 32, 128, 128),
        "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
    }

    def __init__(self, num_classes: int = VISION_NUM_CLASSES):
        super().__init__()
        layers: list[nn.Module] = [
            _conv_relu(3, 64, 7, 2, 3), _maxpool_ceil(), _lrn(),
            _conv_relu(64, 64, 1), _conv_relu(64, 192, 3, pad=1), _lrn(), _maxpool_ceil(),
        ]
        cin = 192
        for name, cfg in self.CFG.items():
            if name in ("4a", "5a"):
                layers.append(_maxpool_ceil())
            layers.append(Inception(cin, *cfg))
            cin = cfg[0] + cfg[2] + cfg[4] + cfg[5]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d(7, 1)
        self.dropout = nn.Dropout(0.4)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.dropout(self.pool(self.features(x)))))


# ------------------------------------------------------------------------------- SqueezeNet
class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = _conv_relu(cin, squeeze, 1)
        self.expand1x1 = _conv_relu(squeeze, e1, 1)
        self.expand3x3 = _conv_relu(squeeze, e3, 3, pad=1)

    def forward(self, x):
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)


class SqueezeNet11(nn.Module):
    def __init__(self, num_classes: int = VISION_NUM_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            _conv_relu(3, 64, 3, 2), _maxpool_ceil(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), _maxpool_ceil(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), _maxpool_ceil(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), _conv_relu(512, num_classes, 1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# ------------------------------------------------------------------------------ MobileNetV2
def _conv_bn(cin, cout, k, stride=1, groups=1, act=True) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
    mods: list[nn.Module] = [conv, nn.BatchNorm2d(cout)]
    if act:
        mods.append(nn.ReLU6(inplace=True))
    else:
        conv.lne_init_gain = 1.0  # linear bottleneck: no ReLU after it (see zoo.init_weights)
    return nn.Sequential(*mods)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        mods: list[nn.Module] = []
        if expand != 1:
            mods.append(_conv_bn(cin, hidden, 1))
        mods += [_conv_bn(hidden, hidden, 3, stride, groups=hidden),
                 _conv_bn(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*mods)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    # (expansion t, channels c, repeats n, first stride s), Sandler et al. 2018 Table 2
    CFG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes: int = VISION_NUM_CLASSES):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in self.CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(1), nn.Dropout(0.2),
                                        nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


# --------------------------------------------------------------------------------- ResNet-50
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * self.expansion
        # v1: the stride is on conv1 (1x1), as in the original Caffe ResNet-50.
        self.conv1 = nn.Conv2d(cin, width, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        # Random weights, not trained ones: without these, every block roughly doubles the
        # activations' variance (2**16 over the net). See zoo.init_weights.
        self.conv3.lne_init_gain = 1.0
        self.bn3.lne_gamma_scale = 0.3
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))
            self.downsample[0].lne_init_gain = 1.0

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes: int = VISION_NUM_CLASSES):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
        cin = 64
        for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for i in range(blocks):
                layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * Bottleneck.expansion
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.features(x))))


VISION_MODELS = {
    "alexnet": AlexNet,
    "googlenet": GoogLeNet,
    "squeezenet1_1": SqueezeNet11,
    "mobilenet_v2": MobileNetV2,
    "resnet50": ResNet50,
}
