"""Silhouette head: shapes on the real encoder's maps, fitting a mask, the loss and IoU
against hand computations."""
from __future__ import annotations

import pytest
import torch

from blender_p2m.model.efficientnet_lite import FEATURE_SHIFT, EfficientNetLite0
from blender_p2m.model.multiscale_pooling import resample_map
from blender_p2m.model.silhouette_head import SilhouetteHead, mask_iou, mask_target, silhouette_loss, soft_iou, upsample_logits


def square(n: int, top: int, left: int, side: int, height: int | None = None) -> torch.Tensor:
    mask = torch.zeros(1, 1, n, n, dtype=torch.bool)
    mask[..., top:top + (height or side), left:left + side] = True
    return mask


@pytest.mark.parametrize("size", [224, 128])
def test_shapes_on_the_encoder_maps(size):
    encoder = EfficientNetLite0().eval()
    head = SilhouetteHead(encoder.out_channels, encoder.shifts)
    with torch.no_grad():
        logits = head(encoder(torch.rand(2, 3, size, size)))
    assert logits.shape == (2, 1, 56, 56)
    assert upsample_logits(logits, size).shape == (2, 1, size, size)
    small = SilhouetteHead({8: 40, 16: 112}, output_size=20)
    with torch.no_grad():
        maps = encoder(torch.rand(1, 3, size, size))
        assert small({s: maps[s] for s in (8, 16)}).shape == (1, 1, 20, 20)


def test_fits_a_single_mask():
    """A few steps of Adam on fixed features: the loss falls and the mask appears."""
    torch.manual_seed(0)
    size, n = 64, 16
    channels = {4: 8, 8: 8, 16: 8, 32: 8}
    maps = {s: torch.randn(1, c, size // s, size // s) for s, c in channels.items()}
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    disc = (((xx - 30) ** 2 + (yy - 36) ** 2) < 18 ** 2).float()[None]       # (1, S, S) alpha
    target = mask_target(disc, n)
    for iou_weight in (0.0, 0.5):
        torch.manual_seed(1)
        head = SilhouetteHead(channels, FEATURE_SHIFT, hidden=16, output_size=n)
        optimiser = torch.optim.Adam(head.parameters(), lr=2e-2)
        losses = []
        for _ in range(25):
            loss = silhouette_loss(head(maps), target, iou_weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0], losses
        with torch.no_grad():
            iou = mask_iou(torch.sigmoid(head(maps)), target)
        assert iou.item() > 0.85, iou


def test_iou_of_known_masks():
    a = square(8, 0, 0, 4)
    assert mask_iou(a, a).item() == 1.0
    assert mask_iou(a, square(8, 4, 4, 4)).item() == 0.0
    # 4x4 and a 4x4 moved two columns: 8 shared pixels of 24.
    assert mask_iou(a, square(8, 0, 2, 4)).item() == pytest.approx(8 / 24)
    empty = torch.zeros_like(a)
    assert mask_iou(empty, empty).item() == 1.0
    assert mask_iou(a, empty).item() == 0.0
    # Floats are thresholded; a batch gives one IoU per image.
    probabilities = torch.cat([a.float() * 0.9 + 0.05, square(8, 4, 4, 4).float() * 0.7])
    torch.testing.assert_close(mask_iou(probabilities, torch.cat([a, a])), torch.tensor([1.0, 0.0]))


def test_soft_iou_and_loss_against_formulas():
    torch.manual_seed(0)
    logits = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    target = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    p = 1.0 / (1.0 + torch.exp(-logits))
    bce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    iou = torch.stack([(p[i] * target[i]).sum() / (p[i] + target[i] - p[i] * target[i]).sum()
                       for i in range(3)])
    torch.testing.assert_close(soft_iou(p, target), iou)
    torch.testing.assert_close(silhouette_loss(logits, target), bce)
    torch.testing.assert_close(silhouette_loss(logits, target, 0.3), bce + 0.3 * (1 - iou).mean())
    binary = square(8, 1, 2, 3).double()
    assert soft_iou(binary, binary).item() == pytest.approx(1.0)
    assert soft_iou(binary, 1 - binary).item() == pytest.approx(0.0, abs=1e-6)


def test_mask_target_is_the_covered_fraction():
    alpha = torch.zeros(1, 8, 8)
    alpha[0, :4, :4] = 1.0             # exactly the top-left quarter
    alpha[0, 4:7, 4:7] = 1.0           # 9 of the 16 pixels of the bottom-right quarter
    torch.testing.assert_close(mask_target(alpha, 2), torch.tensor([[[[1.0, 0.0], [0.0, 9 / 16]]]]))


def test_upsampling_keeps_the_image_coverage():
    """upsample_logits follows the same pixel convention as resample_map (grid n over S)."""
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 7, 7, dtype=torch.float64)
    up = upsample_logits(logits, 56)
    torch.testing.assert_close(up, resample_map(logits, 8.0, 0.0, 56, 1.0))
    # Coarse pixel j covers image [8 j, 8 j + 8): a ramp holding j, upsampled, holds the
    # coarse coordinate of each fine pixel centre, (k + 0.5) / 8 - 0.5, between the centres.
    ramp = torch.arange(7, dtype=torch.float64).expand(1, 1, 7, 7)
    fine = upsample_logits(ramp, 56)[0, 0, 10]
    k = torch.arange(56, dtype=torch.float64)
    inside = (k + 0.5 >= 4) & (k + 0.5 <= 52)
    torch.testing.assert_close(fine[inside], (k[inside] + 0.5) / 8 - 0.5)
    assert inside.sum() == 48


def test_bad_input_is_explained():
    logits = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="differ in shape"):
        silhouette_loss(logits, torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        silhouette_loss(logits, torch.full((2, 1, 4, 4), 255.0))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        mask_iou(torch.zeros(4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="expected feature maps at strides"):
        SilhouetteHead({8: 4, 16: 4})({8: torch.zeros(1, 4, 8, 8)})
    with pytest.raises(ValueError, match="covers a 128 px image, not 64 px"):
        SilhouetteHead({8: 4, 16: 4})({8: torch.zeros(1, 4, 8, 8), 16: torch.zeros(1, 4, 8, 8)})
