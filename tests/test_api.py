"""The public inference API: loading, inputs of every kind, batching, intrinsics checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from blender_p2m import api
from blender_p2m.api import Intrinsics, P2MError, load_model
from blender_p2m.model import get_config


def test_image(w: int = 96, h: int = 72, seed: int = 0) -> np.ndarray:
    """uint8 RGB: a coloured blob on a light background."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 235, dtype=np.uint8)
    cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
    ii, jj = np.mgrid[:h, :w]
    blob = ((ii - cy) / (0.25 * h)) ** 2 + ((jj - cx) / (0.2 * w)) ** 2 < 1
    img[blob] = rng.integers(0, 200, 3)
    img[blob & (ii > cy)] //= 2
    return img


test_image.__test__ = False   # a helper, not a test


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_model(tiny_checkpoint, device="cpu")


def assert_same(a, b, atol=1e-5):
    assert len(a.stages) == len(b.stages)
    for (va, fa), (vb, fb) in zip(a.stages, b.stages):
        np.testing.assert_allclose(va, vb, atol=atol, rtol=0)
        np.testing.assert_array_equal(fa, fb)


def test_load_model_on_cpu(model, tiny_checkpoint):
    assert model.device == torch.device("cpu")
    assert not model.network.training
    assert model.config == get_config("tiny")
    assert model.metadata == {"note": "random weights for tests"}
    assert model.weights_path == str(tiny_checkpoint)
    assert "cpu" in api.available_devices()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_a_clear_error(tiny_checkpoint, device):
    with pytest.raises(P2MError, match="no CUDA GPU is available") as e:
        load_model(tiny_checkpoint, device=device)
    assert "'cpu'" in str(e.value)
    assert api.available_devices() == ["cpu"]
    # "auto" falls back to the CPU.
    assert load_model(tiny_checkpoint, device="auto").device == torch.device("cpu")


@pytest.mark.parametrize("device", ["tpu", "", "meta", "CPU"])
def test_unknown_devices_are_clear_errors(tiny_checkpoint, device):
    with pytest.raises(P2MError, match="device"):
        load_model(tiny_checkpoint, device=device)


def test_missing_bundled_weights_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(api, "bundled_weights_path", lambda: None)
    with pytest.raises(P2MError, match="No bundled weights"):
        load_model(None, device="cpu")


def test_reconstruction_shapes_and_types(model):
    rec = model.reconstruct(test_image())
    assert rec.vertices.shape == (2466, 3) and rec.vertices.dtype == np.float32
    assert rec.faces.shape == (4928, 3) and rec.faces.dtype == np.int64
    assert [v.shape[0] for v, _ in rec.stages] == [156, 618, 2466]
    assert [f.shape[0] for _, f in rec.stages] == [308, 1232, 4928]
    for i, (v, f) in enumerate(rec.stages):
        assert np.isfinite(v).all() and f.min() == 0 and f.max() == len(v) - 1
        np.testing.assert_array_equal(f, model.network.stages[i].faces)
        assert rec.stage(i)[0] is v and rec.stage(api.STAGE_NAMES[i])[0] is v
    assert rec.network_image.shape == (64, 64, 3) and rec.network_image.dtype == np.float32
    assert rec.intrinsics == Intrinsics.default(96, 72)
    with pytest.raises(P2MError, match="Unknown stage"):
        rec.stage("finest")


def test_every_input_kind_gives_the_same_mesh(model, tmp_path):
    rgb8 = test_image()
    reference = model.reconstruct(rgb8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb8).save(path)
    alpha = np.full(rgb8.shape[:2] + (1,), 255, np.uint8)
    same = {
        "path": path,
        "str path": str(path),
        "PIL image": Image.fromarray(rgb8),
        "uint16": rgb8.astype(np.uint16) * 257,
        "float32": rgb8.astype(np.float32) / 255,
        "float64": rgb8.astype(np.float64) / 255,
        "RGBA uint8": np.concatenate([rgb8, alpha], axis=2),
        "RGBA float": np.concatenate([rgb8, alpha], axis=2).astype(np.float32) / 255,
    }
    for name, image in same.items():
        assert_same(model.reconstruct(image), reference), name
    grey8 = rgb8[..., 1]
    grey_reference = model.reconstruct(grey8)
    for image in (grey8[..., None], np.repeat(grey8[..., None], 3, axis=2),
                  grey8.astype(np.uint16) * 257, Image.fromarray(grey8)):
        assert_same(model.reconstruct(image), grey_reference)
    # And the image matters.
    assert np.abs(grey_reference.vertices - reference.vertices).max() > 1e-6


def test_transparent_background_is_white(model):
    rgb8 = test_image()
    background = np.all(rgb8 == 235, axis=2)
    rgba = np.concatenate([rgb8, np.full(rgb8.shape[:2] + (1,), 255, np.uint8)], axis=2)
    rgba[background] = (0, 0, 0, 0)                               # transparent black
    on_white = rgb8.copy()
    on_white[background] = 255
    assert_same(model.reconstruct(rgba), model.reconstruct(on_white), atol=1e-5)


def test_reconstruct_many_equals_single_calls(model):
    images = [test_image(96, 72, 0), test_image(64, 100, 1), test_image(80, 80, 2)]
    intrinsics = [Intrinsics(110.0, 105.0, 50.0, 34.0, 96, 72), None,
                  Intrinsics(90.0, 90.0, 38.5, 41.0, 80, 80)]
    calls = []
    batched = model.reconstruct_many(images, intrinsics, batch_size=2,
                                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 3), (3, 3)]
    for image, intr, rec in zip(images, intrinsics, batched):
        assert_same(rec, model.reconstruct(image, intr))
    # Default intrinsics list.
    assert_same(model.reconstruct_many(images[1:2])[0], batched[1])
    with pytest.raises(P2MError, match="2 images but 1 intrinsics"):
        model.reconstruct_many(images[:2], intrinsics[:1])
    with pytest.raises(P2MError, match="batch_size"):
        model.reconstruct_many(images, batch_size=0)


BAD_INTRINSICS = {
    "NaN focal": (Intrinsics(float("nan"), 100.0, 48.0, 36.0, 96, 72), "NaN or infinity"),
    "inf principal point": (Intrinsics(100.0, 100.0, float("inf"), 36.0, 96, 72), "NaN or infinity"),
    "zero focal": (Intrinsics(0.0, 100.0, 48.0, 36.0, 96, 72), "must be positive"),
    "negative focal": (Intrinsics(100.0, -100.0, 48.0, 36.0, 96, 72), "must be positive"),
    "principal point far right": (Intrinsics(100.0, 100.0, 96 * 5, 36.0, 96, 72), "far outside"),
    "principal point far above": (Intrinsics(100.0, 100.0, 48.0, -200.0, 96, 72), "far outside"),
    "other aspect": (Intrinsics(100.0, 100.0, 320.0, 240.0, 640, 480 * 2), "another aspect ratio"),
    "zero size": (Intrinsics(100.0, 100.0, 48.0, 36.0, 0, 72), "size must be positive"),
}


@pytest.mark.parametrize("case", sorted(BAD_INTRINSICS))
def test_bad_intrinsics_are_clear_errors(model, case):
    intr, match = BAD_INTRINSICS[case]
    with pytest.raises(P2MError, match=match):
        model.reconstruct(test_image(96, 72), intr)


def test_intrinsics_of_a_resized_copy_are_rescaled(model):
    image = test_image(96, 72)
    matching = Intrinsics(120.0, 110.0, 50.5, 33.0, 96, 72)
    for_double = Intrinsics(240.0, 220.0, 101.0, 66.0, 192, 144)        # same camera, 2x image
    for_third = Intrinsics(40.0, 110.0 / 3, 50.5 / 3, 11.0, 32, 24)
    reference = model.reconstruct(image, matching)
    for intr in (for_double, for_third):
        rec = model.reconstruct(image, intr)
        assert_same(rec, reference, atol=1e-5)
        # The reconstruction reports the intrinsics of the image as given.
        for got, want in zip((rec.intrinsics.fx, rec.intrinsics.fy, rec.intrinsics.cx, rec.intrinsics.cy,
                              rec.intrinsics.width, rec.intrinsics.height),
                             (120.0, 110.0, 50.5, 33.0, 96, 72)):
            assert got == pytest.approx(want, rel=1e-9)
    # A different camera gives a different mesh (the check above is not vacuous).
    other = model.reconstruct(image, Intrinsics(200.0, 200.0, 48.0, 36.0, 96, 72))
    assert np.abs(other.vertices - reference.vertices).max() > 1e-6


def test_output_is_in_the_camera_frame_without_crop(still_model):
    ellipsoid = still_model.network.template(0).numpy()
    for intr in (None, Intrinsics(300.0, 280.0, 20.0, 60.0, 96, 72)):
        rec = still_model.reconstruct(test_image(96, 72), intr)
        np.testing.assert_allclose(rec.stages[0][0], ellipsoid, atol=1e-6)


def test_object_crop_maps_the_mesh_back_onto_the_object(still_model):
    """The ellipsoid seen by the turned virtual camera lands on the object in the real image."""
    w, h = 160, 120
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[70:110, 110:150] = (40, 90, 200, 255)                     # object in the lower right
    intr = Intrinsics(150.0, 150.0, 80.0, 60.0, w, h)
    rec = still_model.reconstruct(rgba, intr, crop="object")
    v = rec.vertices.astype(np.float64)
    centre = (v.min(axis=0) + v.max(axis=0)) / 2
    # Distance from the camera is kept (rotation about the camera centre) ...
    assert np.linalg.norm(v.mean(axis=0)) == pytest.approx(0.8, abs=0.01)
    # ... and the centre projects onto the object's centre in the original image.
    u = intr.cx + intr.fx * centre[0] / -centre[2]
    vv = intr.cy - intr.fy * centre[1] / -centre[2]
    assert u == pytest.approx(130.0, abs=1.5) and vv == pytest.approx(90.0, abs=1.5)
    # Without crop it sits on the optical axis instead.
    plain = still_model.reconstruct(rgba, intr).vertices
    assert np.abs(plain[:, :2].mean(axis=0)).max() < 1e-3


def test_image_problems_surface_as_clear_errors(model, tmp_path):
    text = tmp_path / "readme.png"
    text.write_text("hello")
    with pytest.raises(P2MError, match="readme.png"):
        model.reconstruct(text)
    with pytest.raises(P2MError, match="Unsupported image type"):
        model.reconstruct([[1, 2], [3, 4]])
    white = np.full((40, 40, 3), 255, np.uint8)
    with pytest.raises(P2MError, match="No object found"):
        model.reconstruct(white, crop="object")
    assert model.reconstruct(white).vertices.shape == (2466, 3)   # without crop: fine
