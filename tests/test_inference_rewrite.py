"""blender_p2m.model.inference: the folded, channels-last network computes what the trained
one does (the unchanged network is the oracle), for every configuration the API can load."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.efficientnet_lite import ConvBN
from blender_p2m.model.inference import fold_batch_norms, for_inference


def trained_like(name: str) -> Pixel2Mesh:
    """A network whose batch norms and offset heads hold values a trained one would: random
    running statistics and affine parameters, non-zero offsets (zero offsets would hide any
    difference behind the template)."""
    torch.manual_seed(0)
    net = Pixel2Mesh(get_config(name))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for p in net.parameters():
            if p.dim() >= 2 and not p.any():
                p.normal_(0.0, 1e-3)
    return net.eval()


@pytest.mark.parametrize("name", ["lite0_tiny", "lite0", "compact"])
def test_outputs_are_unchanged(name):
    net = trained_like(name)
    s = net.config.input_size
    images = torch.rand(2, 3, s, s, generator=torch.Generator().manual_seed(1))
    intrinsics = torch.tensor([[250.0, 250.0, 112.0, 112.0], [300.0, 310.0, 110.0, 115.0]]) * s / 224
    head = net.config.silhouette
    with torch.inference_mode():
        expected, expected_mask = net(images, intrinsics, return_silhouette=True) if head else (net(images, intrinsics), None)
    n_convbn = sum(isinstance(m, ConvBN) for m in net.modules())
    fast = for_inference(copy.deepcopy(net))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules() if not isinstance(m, nn.Identity)) \
        == sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) - n_convbn
    with torch.inference_mode():
        got, got_mask = fast(images, intrinsics, return_silhouette=True) if head else (fast(images, intrinsics), None)
    for i, (e, g) in enumerate(zip(expected, got)):
        assert not torch.allclose(e.vertices, net.template(i).expand_as(e.vertices))   # offsets do act
        torch.testing.assert_close(g.vertices, e.vertices, rtol=1e-4, atol=1e-5)
    if expected_mask is not None:
        torch.testing.assert_close(got_mask, expected_mask, rtol=1e-4, atol=1e-4)


def test_every_convbn_of_lite0_is_folded_once():
    net = trained_like("lite0_tiny")
    n_convbn = sum(isinstance(m, ConvBN) for m in net.modules())
    assert n_convbn > 40 and fold_batch_norms(net) == n_convbn and fold_batch_norms(net) == 0
    assert all(m.conv.bias is not None for m in net.modules() if isinstance(m, ConvBN))
