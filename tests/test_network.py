"""The Pixel2Mesh network: batching, determinism, configurations, graph convolution."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blender_p2m.model import CONFIGS, ModelConfig, Pixel2Mesh, get_config
from blender_p2m.model.encoder import VGG16Encoder
from blender_p2m.model.graph_conv import GraphConv, GResNet, aggregate_neighbours
from blender_p2m.model.network import unpool

# VGG-16 conv1_1 .. conv5_3 weights (3x3, no bias here): the textbook 14,714,688 parameters
# of VGG-16's convolutions minus its 4,224 biases.
VGG16_CONV_WEIGHTS = 14_710_464


def build(name: str, seed: int = 0) -> Pixel2Mesh:
    torch.manual_seed(seed)
    return Pixel2Mesh(get_config(name)).eval()


def inputs(config: ModelConfig, batch: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = config.input_size
    images = torch.rand(batch, 3, s, s, generator=g)
    focal = torch.tensor([250.0, 200.0, 320.0, 180.0, 290.0, 260.0, 230.0, 210.0])[:batch] * s / 224
    intrinsics = torch.stack([focal, focal * 1.05, torch.full_like(focal, s / 2),
                              torch.full_like(focal, s / 2) - 1.5], dim=1)  # (B, 4)
    return images, intrinsics


@pytest.fixture(scope="module")
def tiny():
    return build("tiny")


def test_output_shapes_and_stage_chaining(tiny):
    images, intrinsics = inputs(tiny.config, 2)
    with torch.no_grad():
        outputs = tiny(images, intrinsics)
    assert [tuple(o.vertices.shape) for o in outputs] == [(2, 156, 3), (2, 618, 3), (2, 2466, 3)]
    assert [tuple(o.faces.shape) for o in outputs] == [(308, 3), (1232, 3), (4928, 3)]
    assert [tuple(o.edges.shape) for o in outputs] == [(462, 2), (1848, 2), (7392, 2)]
    torch.testing.assert_close(outputs[0].vertices_before[0], tiny.template(0))
    for prev, out in zip(outputs, outputs[1:]):
        torch.testing.assert_close(out.vertices_before, unpool(prev.vertices, prev.edges))
    for out in outputs:
        assert out.vertices.dtype == torch.float32 and torch.isfinite(out.vertices).all()
        assert out.faces.dtype == torch.int64
        # Random weights move the ellipsoid, but only a little (coordinate heads start small).
        moved = (out.vertices - out.vertices_before).abs().max()
        assert 0 < moved < 0.1


def test_batch_with_different_intrinsics_equals_single_runs(tiny):
    images, intrinsics = inputs(tiny.config, 3)
    with torch.no_grad():
        batched = tiny(images, intrinsics)
        singles = [tiny(images[b:b + 1], intrinsics[b:b + 1]) for b in range(3)]
    for stage in range(3):
        for b in range(3):
            torch.testing.assert_close(batched[stage].vertices[b], singles[b][stage].vertices[0],
                                       rtol=1e-5, atol=1e-6)
    # The intrinsics really matter: the same image through another camera gives another mesh.
    with torch.no_grad():
        other = tiny(images[:1], intrinsics[1:2])
    assert (other[2].vertices[0] - singles[0][2].vertices[0]).abs().max() > 1e-5


def test_the_image_really_matters(tiny):
    images, intrinsics = inputs(tiny.config, 1)
    with torch.no_grad():
        a = tiny(images, intrinsics)[2].vertices
        b = tiny(1.0 - images, intrinsics)[2].vertices
    assert (a - b).abs().max() > 1e-5


def test_same_seed_same_weights_and_outputs():
    a, b, c = build("tiny", seed=7), build("tiny", seed=7), build("tiny", seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
    images, intrinsics = inputs(a.config, 2)
    with torch.no_grad():
        out_a, out_b = a(images, intrinsics), b(images, intrinsics)
        out_a2 = a(images, intrinsics)
    for x, y, z in zip(out_a, out_b, out_a2):
        assert torch.equal(x.vertices, y.vertices)
        assert torch.equal(x.vertices, z.vertices)


@pytest.mark.parametrize("name", sorted(n for n, c in CONFIGS.items() if c.encoder == "vgg"))
def test_every_vgg_configuration_builds(name):
    model = build(name)
    config = model.config
    assert config == CONFIGS[name]
    assert ModelConfig.from_dict(config.to_dict()) == config
    pooled = sum(model.encoder.out_channels)
    for i, block in enumerate(model.blocks):
        convs = [m for m in block.modules() if isinstance(m, GraphConv)]
        assert len(convs) == config.gresnet_layers
        assert block.input.self_weight.in_features == pooled + 3 + (config.hidden if i else 0)
        assert block.input.self_weight.out_features == config.hidden
        assert block.coordinates.self_weight.out_features == 3
    # The encoder's maps have strides 4, 8, 16 and the advertised channels.
    s = config.input_size
    with torch.no_grad():
        maps = model.encoder(torch.rand(1, 3, s, s))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (c, s // stride, s // stride) for c, stride in zip(model.encoder.out_channels, (4, 8, 16))]


def test_paper_configuration_is_the_papers_network():
    model = build("paper")
    config = model.config
    assert config.input_size == 224
    assert model.encoder.out_channels == (256, 512, 512)
    assert sum(model.encoder.out_channels) == 1280
    assert config.hidden == 128 and config.gresnet_layers == 14
    assert [b.input.self_weight.in_features for b in model.blocks] == [1283, 1411, 1411]
    conv_weights = sum(m.weight.numel() for m in model.encoder.modules()
                       if isinstance(m, torch.nn.Conv2d))
    assert conv_weights == VGG16_CONV_WEIGHTS
    # 3 blocks: one input conv (2 linear maps + bias) and 13 hidden-width convs.
    def conv_params(i, o):
        return 2 * i * o + o
    gresnet = sum(conv_params(i, 128) + 12 * conv_params(128, 128) + conv_params(128, 3)
                  for i in (1283, 1411, 1411))
    assert sum(p.numel() for b in model.blocks for p in b.parameters()) == gresnet


def test_invalid_configurations_are_refused():
    with pytest.raises(ValueError, match="multiple of 16"):
        Pixel2Mesh(ModelConfig(name="bad", input_size=100, encoder_width=0.125, hidden=8,
                               gresnet_layers=2))
    with pytest.raises(ValueError, match="even number"):
        GResNet(10, 8, 3)
    with pytest.raises(ValueError):
        VGG16Encoder(0.125, norm="layer")
    with pytest.raises(ValueError, match="unknown"):
        get_config("huge")


@pytest.mark.parametrize("in_features,out_features", [(5, 3), (3, 7)])
def test_graph_conv_matches_its_formula(in_features, out_features):
    """f'_p = W0 f_p + b + W1 mean_{q in N(p)} f_q on a small explicit graph (both branches)."""
    from blender_p2m.model.topology import normalized_adjacency

    edges = np.array([[0, 1], [1, 2], [2, 3], [0, 3], [0, 2], [3, 4]])
    adjacency = normalized_adjacency(edges, 5)
    neighbours = {p: [q for a, b in edges for p_, q in ((a, b), (b, a)) if p_ == p] for p in range(5)}
    torch.manual_seed(0)
    conv = GraphConv(in_features, out_features)
    torch.nn.init.normal_(conv.self_weight.bias)
    x = torch.randn(2, 5, in_features)
    out = conv(x, adjacency)
    w0, b, w1 = conv.self_weight.weight, conv.self_weight.bias, conv.neighbour_weight.weight
    for batch in range(2):
        for p in range(5):
            mean = torch.stack([x[batch, q] for q in neighbours[p]]).mean(0)
            expected = w0 @ x[batch, p] + b + w1 @ mean
            torch.testing.assert_close(out[batch, p], expected, rtol=1e-5, atol=1e-6)


def test_aggregation_keeps_float64_and_half_precision_inputs():
    from blender_p2m.model.topology import normalized_adjacency

    edges = np.array([[0, 1], [1, 2], [0, 2]])
    adjacency = normalized_adjacency(edges, 3)
    x = torch.tensor([[[1.0], [2.0], [4.0]]], dtype=torch.float64) + 1e-12
    out = aggregate_neighbours(adjacency, x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tensor([[[3.0], [2.5], [1.5]]], dtype=torch.float64) + 1e-12,
                               rtol=0, atol=1e-15)
    out16 = aggregate_neighbours(adjacency.half(), x.half())
    assert out16.dtype == torch.float16
    torch.testing.assert_close(out16.float(), torch.tensor([[[3.0], [2.5], [1.5]]]))


def test_float64_network_matches_float32(tiny):
    """model.double() runs (finite-difference checks of training code need it) and agrees."""
    images, intrinsics = inputs(tiny.config, 1)
    double = build("tiny").double()
    with torch.no_grad():
        a = tiny(images, intrinsics)[2].vertices
        b = double(images.double(), intrinsics.double())[2].vertices
    assert b.dtype == torch.float64
    torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-5)


def test_every_parameter_gets_a_gradient():
    model = build("tiny").train()
    images, intrinsics = inputs(model.config, 2)
    outputs = model(images, intrinsics)
    loss = sum(((o.vertices - o.vertices_before) ** 2).sum() + o.vertices.sum() for o in outputs)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name


def test_fast_adjacency_equals_the_sparse_one_forward_and_backward():
    """The CSR form (with its stored transpose for the backward pass) computes A @ x exactly."""
    from blender_p2m.model.graph_conv import Adjacency

    model = build("tiny")
    for i, stage in enumerate(model.stages):
        coo = getattr(model, f"adjacency_{i}")
        fast = model.adjacency(i)
        torch.testing.assert_close(fast.matrix.to_dense(), coo.to_dense(), rtol=0, atol=0)
        torch.testing.assert_close(fast.transpose.to_dense(), coo.to_dense().t(), rtol=0, atol=0)
        x = torch.randn(2, stage.n_vertices, 5, requires_grad=True)
        weights = torch.randn(2, stage.n_vertices, 5)
        (aggregate_neighbours(fast, x) * weights).sum().backward()
        fast_grad = x.grad.clone()
        x.grad = None
        expected = torch.einsum("nm,bmc->bnc", coo.to_dense(), x)
        torch.testing.assert_close(aggregate_neighbours(fast, x), expected, rtol=1e-5, atol=1e-6)
        (expected * weights).sum().backward()
        torch.testing.assert_close(fast_grad, x.grad, rtol=1e-5, atol=1e-6)
    # Finite differences in float64.
    edges = np.array([[0, 1], [1, 2], [2, 3], [0, 3], [0, 2], [3, 4]])
    from blender_p2m.model.topology import normalized_adjacency

    adjacency = Adjacency.from_sparse(normalized_adjacency(edges, 5).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: aggregate_neighbours(adjacency, t), (x,))


def test_model_copies_pickles_and_casts(tiny):
    """Topology buffers travel with the module (deepcopy, torch.save, dtype casts)."""
    import copy
    import io

    images, intrinsics = inputs(tiny.config, 1)
    clone = copy.deepcopy(tiny)
    buffer = io.BytesIO()
    torch.save(tiny, buffer)
    with torch.no_grad():
        expected = tiny(images, intrinsics)[2].vertices
        assert torch.equal(clone(images, intrinsics)[2].vertices, expected)
        half = copy.deepcopy(tiny).half()
        assert half.adjacency(2).matrix.dtype == torch.float16
    # Only weights are persistent: the topology is rebuilt from the configuration.
    assert all(k.startswith(("encoder.", "blocks.")) for k in tiny.state_dict())
