"""Image encoder: VGG-16 up to conv5_3 with a width multiplier.

The paper pools conv3_3, conv4_3 and conv5_3 (256 + 512 + 512 = 1280 channels at width 1).
A normalisation after each convolution lets the network train from scratch on the
project's own (small) datasets. Group normalisation (the default) does not depend on the
batch: training with batch 1 (as in the paper), batch 8, or 8 processes of batch 1 under
torchrun computes the same thing. Batch normalisation is available for comparison.
"""
from __future__ import annotations

import torch
from torch import nn

# (number of 3x3 convs, channels at width 1) per VGG-16 block (the convolutions between two
# max-pools); blocks 3, 4, 5 feed perceptual pooling. ("Stage" names the mesh stages only.)
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
POOLED_BLOCKS = (2, 3, 4)  # conv3_3, conv4_3, conv5_3
# Checkpoints written before the rename name the blocks "encoder.stages.N..."; read them as they are.
LEGACY_PREFIX, PREFIX = "stages.", "conv_blocks."


def _channels(base: int, width: float) -> int:
    return max(8, int(round(base * width)))


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(min(8, channels), channels)


class VGG16Encoder(nn.Module):
    """Returns the feature maps of conv3_3, conv4_3 and conv5_3.

    Args:
        width: channel multiplier (1.0 = VGG-16).
    Input: images (B, 3, S, S) in [0, 1]; S must be a multiple of 16.
    """

    def __init__(self, width: float = 1.0, norm: str = "group"):
        super().__init__()
        if norm not in ("group", "batch"):
            raise ValueError(f"encoder norm must be 'group' or 'batch', got {norm!r}")
        self.conv_blocks = nn.ModuleList()
        in_ch = 3
        for n_convs, base in VGG16_BLOCKS:
            out_ch = _channels(base, width)
            layers: list[nn.Module] = []
            for _ in range(n_convs):
                layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                           _norm(norm, out_ch), nn.ReLU(inplace=True)]
                in_ch = out_ch
            self.conv_blocks.append(nn.Sequential(*layers))
        self.out_channels = tuple(_channels(VGG16_BLOCKS[i][1], width) for i in POOLED_BLOCKS)
        self.strides = tuple(2 ** i for i in POOLED_BLOCKS)        # 4, 8, 16: centred maps
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1), persistent=False)
        self.register_load_state_dict_pre_hook(_read_legacy_block_names)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images - self.mean) / self.std                       # (B, 3, S, S)
        if x.device.type == "cpu":
            # oneDNN's fast layout on CPU (the 3-channel first conv alone is 5-15x faster).
            x = x.contiguous(memory_format=torch.channels_last)
        maps = []
        for i, block in enumerate(self.conv_blocks):
            if i > 0:
                x = nn.functional.max_pool2d(x, 2)
            x = block(x)                                          # (B, C_i, S / 2^i, S / 2^i)
            if i in POOLED_BLOCKS:
                maps.append(x)
        return maps


def _read_legacy_block_names(module, state_dict, prefix, *args) -> None:
    """Rename "<prefix>stages.N..." keys of older checkpoints to "<prefix>conv_blocks.N..."."""
    for key in [k for k in state_dict if k.startswith(prefix + LEGACY_PREFIX)]:
        state_dict[prefix + PREFIX + key[len(prefix + LEGACY_PREFIX):]] = state_dict.pop(key)
