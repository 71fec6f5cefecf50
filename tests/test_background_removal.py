"""background="keep" | "remove" | "auto" in the API, and the silhouette it reports.

Weights without a silhouette head keep the background (and say so when asked to remove it);
a model whose head is set to a known answer (everything / nothing is object) checks the
removal path end to end: one extra encoder pass, the mask in the image's own pixels, the
network image after removal, and the clear error when no object is found.
"""
from __future__ import annotations

import numpy as np
import pytest

from blender_p2m.errors import P2MError
from constant_head import constant_head_model


def photo(w: int = 160, h: int = 120) -> np.ndarray:
    """An opaque 'photo': a textured background with an orange disc."""
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0.2, 0.8, size=(h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb[((xx - 90) ** 2 + (yy - 60) ** 2) < 30 ** 2] = (0.9, 0.5, 0.2)
    return np.concatenate([rgb, np.ones((h, w, 1), np.float32)], axis=-1)


def test_weights_without_a_head_keep_and_explain(still_model):
    assert not still_model.can_remove_background
    with pytest.raises(P2MError, match="silhouette head"):
        still_model.reconstruct(photo(), background="remove")
    with pytest.raises(P2MError, match="background mode"):
        still_model.reconstruct(photo(), background="erase")
    auto, keep = still_model.reconstruct(photo(), background="auto"), still_model.reconstruct(photo())
    assert np.array_equal(auto.vertices, keep.vertices) and keep.mask is None


def test_an_image_with_transparency_reports_its_alpha(still_model):
    rgba = photo()
    rgba[:, :40, 3] = 0.0
    rec = still_model.reconstruct(rgba, background="auto")
    assert rec.mask is not None and np.array_equal(rec.mask, rgba[..., 3])


def test_removal_runs_one_extra_encoder_pass_and_maps_the_mask_back(tmp_path):
    model = constant_head_model(tmp_path, logit=20.0)             # everything is object
    calls = []
    model.network.encoder.register_forward_hook(lambda *_: calls.append(1))
    removed = model.reconstruct(photo(), background="remove")
    assert len(calls) == 2                                # the silhouette pass + the reconstruction
    assert removed.mask.shape == (120, 160) and removed.mask.min() > 0.99
    kept = model.reconstruct(photo())
    assert np.allclose(removed.vertices, kept.vertices, atol=1e-5)   # nothing removed: same mesh
    assert model.reconstruct(photo(), background="auto").mask.min() > 0.99     # opaque: auto removes


def test_no_object_found_is_a_clear_error(tmp_path):
    model = constant_head_model(tmp_path, logit=-20.0)            # nothing is object
    with pytest.raises(P2MError, match="No object found"):
        model.reconstruct(photo(), background="remove")
