"""The network's encoder options: Lite0 with multi-stride pooling, the silhouette head,
zero-initialised offsets, a frozen encoder, and configurations old and new."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from blender_p2m.model import CONFIGS, ModelConfig, Pixel2Mesh, get_config
from blender_p2m.model.efficientnet_lite import EfficientNetLite0
from blender_p2m.model.graph_conv import GraphConv


def build(name: str, seed: int = 0, **changes) -> Pixel2Mesh:
    torch.manual_seed(seed)
    config = dataclasses.replace(get_config(name), **changes) if changes else get_config(name)
    return Pixel2Mesh(config)


def inputs(config: ModelConfig, batch: int = 2, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = config.input_size
    images = torch.rand(batch, 3, s, s, generator=g)
    intrinsics = torch.tensor([[250.0, 250.0, 112.0, 112.0], [300.0, 310.0, 110.0, 115.0]])[:batch] * s / 224
    return images, intrinsics


@pytest.fixture(scope="module")
def lite0_tiny():
    return build("lite0_tiny").eval()


@pytest.mark.parametrize("name", sorted(n for n, c in CONFIGS.items() if c.encoder == "lite0"))
def test_lite0_configurations_build_with_bottlenecked_strides_8_16_32(name):
    model = build(name)
    config = model.config
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert isinstance(model.encoder, EfficientNetLite0) and model.encoder.freeze_batchnorm
    assert model.pooling.strides == (8, 16, 32)
    # Lite0's TensorFlow padding shifts every map by (s - 1) / 2 pixels: the pooler must know.
    assert model.pooling.shifts == {8: 3.5, 16: 7.5, 32: 15.5}
    assert model.silhouette_head.shifts == {4: 1.5, 8: 3.5, 16: 7.5, 32: 15.5}
    assert model.pooling.out_features == 3 * config.pool_channels
    for i, block in enumerate(model.blocks):
        assert block.input.self_weight.in_features == 3 * config.pool_channels + 3 + (config.hidden if i else 0)
        assert len([m for m in block.modules() if isinstance(m, GraphConv)]) == config.gresnet_layers


def test_zero_offsets_return_the_template_exactly_on_the_first_pass(lite0_tiny):
    images, intrinsics = inputs(lite0_tiny.config)
    with torch.no_grad():
        outputs = lite0_tiny(images, intrinsics)
    for i, out in enumerate(outputs):
        template = lite0_tiny.template(i).expand(2, -1, -1)
        assert torch.equal(out.vertices, template) and torch.equal(out.vertices_before, template)
    # The default (VGG configurations) keeps the paper's small random offsets.
    with torch.no_grad():
        vgg = build("tiny")(*inputs(get_config("tiny")))
    assert not torch.equal(vgg[0].vertices, build("tiny").template(0).expand(2, -1, -1))


def test_zero_offsets_still_learn():
    model = build("lite0_tiny").train()
    images, intrinsics = inputs(model.config)
    model(images, intrinsics)[-1].vertices.square().sum().backward()
    head = model.blocks[-1].coordinates
    assert head.self_weight.weight.grad.abs().sum() > 0


def test_silhouette_comes_from_the_same_encoder_pass(lite0_tiny):
    calls = []
    hook = lite0_tiny.encoder.register_forward_hook(lambda *args: calls.append(1))
    images, intrinsics = inputs(lite0_tiny.config)
    try:
        with torch.no_grad():
            outputs, logits = lite0_tiny(images, intrinsics, return_silhouette=True)
            assert len(calls) == 1
            plain = lite0_tiny(images, intrinsics)
            assert len(calls) == 2
            separate = lite0_tiny.silhouette(lite0_tiny.encode(images))
    finally:
        hook.remove()
    n = lite0_tiny.config.silhouette_size
    assert logits.shape == (2, 1, n, n) and torch.equal(logits, separate)
    assert all(torch.equal(a.vertices, b.vertices) for a, b in zip(outputs, plain))
    with pytest.raises(ValueError, match="no silhouette head"):
        build("tiny").eval()(*inputs(get_config("tiny")), return_silhouette=True)


@pytest.mark.parametrize("name,changes", [("lite0_tiny", {}), ("tiny", {"encoder_norm": "batch"})])
def test_frozen_encoder_gets_no_gradient_and_its_batch_norm_stays(name, changes):
    model = build(name, **changes)
    model.freeze_encoder()
    model.train()
    assert not model.encoder.training and model.blocks[0].training
    stats = {k: v.clone() for k, v in model.encoder.state_dict().items() if "running" in k}
    assert stats
    images, intrinsics = inputs(model.config)
    outputs = model(images, intrinsics, return_silhouette=model.silhouette_head is not None)
    loss = (outputs[0] if isinstance(outputs, tuple) else outputs)[-1].vertices.square().sum()
    if isinstance(outputs, tuple):
        loss = loss + outputs[1].sum()
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in stats.items())
    trained = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    assert all(p.grad is not None for p in trained if p.requires_grad)
    # Unfrozen, the same batch-norm encoder does move its statistics (the test can fail).
    if name == "tiny":
        model.freeze_encoder(False)
        model.train()
        model(images, intrinsics)
        assert any(not torch.equal(v, model.encoder.state_dict()[k]) for k, v in stats.items())


def test_the_pretrained_encoder_loads_into_the_network():
    from training.pretrained import pretrained_lite0

    model = build("lite0_tiny")
    model.encoder.load_state_dict(pretrained_lite0().state_dict())
    reference = pretrained_lite0()
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ours, theirs = model.encode(images), reference(images)
    assert all(torch.equal(ours[s], theirs[s]) for s in (4, 8, 16, 32))


def test_configurations_written_before_the_encoder_option_read_as_vgg():
    old = {k: v for k, v in get_config("compact").to_dict().items()
           if k not in ("encoder", "pool_strides", "pool_channels", "silhouette", "silhouette_size", "zero_offsets")}
    config = ModelConfig.from_dict(old)
    assert config == get_config("compact") and config.encoder == "vgg" and config.strides_pooled == (4, 8, 16)
    assert Pixel2Mesh(config).pooling is None


@pytest.mark.parametrize("changes,message", [
    ({"input_size": 80}, "multiple of 32"),
    ({"pool_channels": 0}, "pool_channels must be > 0"),
    ({"pool_strides": (8, 64)}, "pool_strides"),
    ({"encoder": "resnet"}, "unknown encoder"),
    ({"silhouette_size": 0}, "silhouette_size"),
])
def test_invalid_lite0_configurations_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(get_config("lite0_tiny"), **changes)


def test_images_of_the_wrong_size_are_refused(lite0_tiny):
    with pytest.raises(ValueError, match=r"expected images \(B, 3, 64, 64\)"):
        lite0_tiny(torch.rand(1, 3, 96, 96), inputs(lite0_tiny.config, 1)[1])
