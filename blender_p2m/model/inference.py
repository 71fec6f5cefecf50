"""Rewrites of a trained network that leave its outputs unchanged and make inference faster.

In eval mode a batch norm is a fixed per-channel affine map, so the one after each
convolution of the EfficientNet-Lite0 encoder (ConvBN) folds into that convolution's weights
and a bias: one operation, one OpenMP parallel region, instead of two. On the CPU the
convolution weights are then stored channels-last, the layout oneDNN's convolutions use and
the one the encoders' activations already have there (EfficientNetLite0.features), so no
reorder is left around a convolution. (On CUDA the activations stay contiguous, so the
weights do too.) Only for inference: a folded network has no batch norms left to train and
its state_dict no longer matches a checkpoint. Measured in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .efficientnet_lite import ConvBN
from .network import Pixel2Mesh


def fold_batch_norms(module: nn.Module) -> int:
    """Fold each ConvBN's batch norm into its convolution, in place; returns how many."""
    folded = 0
    for block in module.modules():
        if isinstance(block, ConvBN) and isinstance(block.bn, nn.BatchNorm2d):
            block.conv = fuse_conv_bn_eval(block.conv.eval(), block.bn.eval())
            block.bn = nn.Identity()
            folded += 1
    return folded


def for_inference(network: Pixel2Mesh) -> Pixel2Mesh:
    """The network, changed in place: eval mode, batch norms folded, and on the CPU its
    convolution weights channels-last. Give it a network nothing else will train or save."""
    network.eval()
    with torch.no_grad():
        fold_batch_norms(network)
        for layer in network.modules():
            if isinstance(layer, nn.Conv2d) and layer.weight.device.type == "cpu":
                layer.weight.data = layer.weight.data.contiguous(memory_format=torch.channels_last)
    return network
