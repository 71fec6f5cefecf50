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
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules()) \
        == sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) - n_convbn
    convs = [m for m in fast.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    with torch.inference_mode():
        got, got_mask = fast(images, intrinsics, return_silhouette=True) if head else (fast(images, intrinsics), None)
    assert not torch.allclose(expected[0].vertices, net.template(0).expand_as(expected[0].vertices))  # offsets act
    for e, g in zip(expected, got):
        torch.testing.assert_close(g.vertices, e.vertices, rtol=1e-4, atol=1e-5)
    if expected_mask is not None:
        torch.testing.assert_close(got_mask, expected_mask, rtol=1e-4, atol=1e-4)


def test_every_convbn_of_lite0_is_folded_once():
    net = trained_like("lite0_tiny")
    n_convbn = sum(isinstance(m, ConvBN) for m in net.modules())
    assert n_convbn > 40 and fold_batch_norms(net) == n_convbn and fold_batch_norms(net) == 0
    assert all(m.conv.bias is not None for m in net.modules() if isinstance(m, ConvBN))


def test_load_model_rewrites_its_own_network_and_leaves_a_given_one_alone(tmp_path):
    """load_model folds the network it loads; a LoadedModel built around a caller's network
    (training.evaluate does this) must not change that network under the caller."""
    from blender_p2m.api import LoadedModel, load_model
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    net = trained_like("lite0_tiny")
    atomic_save(checkpoint_dict(net), tmp_path / "w.pt")
    loaded = load_model(tmp_path / "w.pt", device="cpu")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in loaded.network.encoder.modules())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    LoadedModel(net, torch.device("cpu"), {}, "given")
    after = net.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], v) for k, v in before.items())
