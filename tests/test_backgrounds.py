"""Training-time backgrounds: what lands where, in what proportions, and reproducibly.

Expected backgrounds are rebuilt here from the photo file with Pillow alone (open, crop,
resize, mirror), independently of the sampler's own path (cached array, slicing).
"""
from __future__ import annotations

import math
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_p2m.errors import P2MError
from training.data.backgrounds import BackgroundMix, BackgroundSampler, composite_on_photo

FIXTURES = Path(__file__).parent / "data" / "photos"
PHOTOS = [FIXTURES / "rocks.jpg", FIXTURES / "lighthouse.jpg"]
ONLY_PHOTOS = BackgroundMix(photo=1.0, flat=0.0, white=0.0)


def a_view(h: int = 48, w: int = 64) -> np.ndarray:
    """An RGBA 'render': opaque disc, a soft rim of partial alpha, transparent outside."""
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, size=(h, w, 3))
    y, x = np.mgrid[:h, :w]
    r = np.hypot(x - w / 2, y - h / 2)
    alpha = np.clip((18 - r) / 6, 0, 1)                   # 1 inside r<12, 0 beyond r>18
    return np.concatenate([rgb, alpha[..., None]], axis=-1).astype(np.float32)


def expected_background(photo: Path, box, flip: bool, size) -> np.ndarray:
    with Image.open(photo) as img:
        bg = img.convert("RGB").crop(box).resize(size, Image.BILINEAR)
    if flip:
        bg = bg.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(bg, dtype=np.float32) / 255


def test_object_kept_photo_only_where_transparent_and_linear_blend_between():
    view = a_view()
    h, w = view.shape[:2]
    rgb, alpha = view[..., :3], view[..., 3:]
    opaque, clear = alpha[..., 0] == 1, alpha[..., 0] == 0
    partial = ~opaque & ~clear
    assert opaque.sum() > 100 and clear.sum() > 100 and partial.sum() > 100
    sampler = BackgroundSampler(PHOTOS, ONLY_PHOTOS)
    flips = set()
    for seed in range(6):
        drawn = sampler.draw((w, h), np.random.default_rng(seed))
        out = sampler.composite(view, np.random.default_rng(seed))
        assert out.shape == (h, w, 4) and out.dtype == np.float32
        assert np.all(out[..., 3] == 1)
        assert np.array_equal(out[opaque, :3], rgb[opaque])                 # object untouched
        bg = expected_background(drawn.photo, drawn.crop_box, drawn.flip, (w, h))
        np.testing.assert_allclose(out[clear, :3], bg[clear], atol=1e-6)    # photo only there
        np.testing.assert_allclose(out[..., :3], rgb * alpha + bg * (1 - alpha), atol=1e-6)
        # The rim really mixes both: not equal to either one alone.
        assert np.abs(out[partial, :3] - bg[partial]).mean() > 0.02
        assert np.abs(out[partial, :3] - rgb[partial]).mean() > 0.02
        flips.add(drawn.flip)
    assert flips == {True, False}


def test_mix_proportions_over_many_draws():
    mix = BackgroundMix(photo=0.5, flat=0.3, white=0.2)
    sampler = BackgroundSampler(PHOTOS, mix)
    clear = np.zeros((6, 8, 4), np.float32)
    rng = np.random.default_rng(123)
    n = 1500
    counts = {"photo": 0, "flat": 0, "white": 0}
    for _ in range(n):
        rgb = sampler.composite(clear, rng)[..., :3]
        if np.all(rgb == 1):
            counts["white"] += 1
        elif np.all(rgb == rgb[0, 0]):
            counts["flat"] += 1
        else:
            counts["photo"] += 1
    for kind, p in (("photo", 0.5), ("flat", 0.3), ("white", 0.2)):
        assert abs(counts[kind] / n - p) <= 4 * math.sqrt(p * (1 - p) / n), counts


def test_crops_and_flips_vary_with_the_rng_within_bounds():
    sampler = BackgroundSampler(PHOTOS, ONLY_PHOTOS)
    sizes = {}
    for p in PHOTOS:
        with Image.open(p) as img:
            sizes[p] = img.size
    draws = [sampler.draw((32, 32), np.random.default_rng(seed)) for seed in range(400)]
    fractions = []
    for d in draws:
        left, top, right, bottom = d.crop_box
        pw, ph = sizes[d.photo]
        assert 0 <= left < right <= pw and 0 <= top < bottom <= ph
        assert right - left == bottom - top                              # square, like the view
        fractions.append((right - left) / min(pw, ph))
    assert 0.3 - 1e-2 <= min(fractions) < 0.4 and 0.9 < max(fractions) <= 1
    assert 0.4 < np.mean([d.flip for d in draws]) < 0.6
    assert len({(d.photo, d.crop_box) for d in draws}) > 300
    assert {d.photo for d in draws} == set(PHOTOS)
    # Positions spread over the photo, not stuck at a corner.
    lefts = [d.crop_box[0] / (sizes[d.photo][0] - (d.crop_box[2] - d.crop_box[0]) or 1) for d in draws]
    assert min(lefts) < 0.1 and max(lefts) > 0.9


def test_non_square_views_get_crops_of_their_aspect():
    sampler = BackgroundSampler(PHOTOS, ONLY_PHOTOS)
    for seed in range(50):
        d = sampler.draw((90, 30), np.random.default_rng(seed))
        left, top, right, bottom = d.crop_box
        assert (right - left) / (bottom - top) == pytest.approx(3, rel=0.06)


def test_same_seed_same_result_other_seed_other_result():
    sampler = BackgroundSampler(PHOTOS, BackgroundMix(photo=0.6, flat=0.2, white=0.2))
    view = a_view()
    runs = [[sampler.composite(view, np.random.default_rng(seed)) for seed in range(20)] for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    # Every seed gives another image, except that all white backgrounds look alike.
    whites = sum(sampler.draw((64, 48), np.random.default_rng(seed)).kind == "white" for seed in range(20))
    assert 0 < whites < 10
    assert len({r.tobytes() for r in runs[0]}) == 20 - whites + 1
    # A fresh sampler (e.g. in a DataLoader worker, after pickling) gives the same images.
    other = pickle.loads(pickle.dumps(sampler))
    assert other.cached_photos == 0
    assert np.array_equal(other.composite(view, np.random.default_rng(3)), runs[0][3])


def test_composite_on_one_photo_for_evaluation():
    view = a_view()
    h, w = view.shape[:2]
    with Image.open(PHOTOS[0]) as img:
        photo = np.asarray(img.convert("RGB"))                            # 320 x 213
    alpha = view[..., 3:]
    # Default: the largest centred crop of the view's 4:3 aspect: 284 x 213 at x = 18.
    out = composite_on_photo(view, photo)
    bg = expected_background(PHOTOS[0], (18, 0, 302, 213), False, (w, h))
    np.testing.assert_allclose(out[..., :3], view[..., :3] * alpha + bg * (1 - alpha), atol=1e-6)
    # A given crop and flip: the same as the sampler draws them, and the same for float photos.
    sampler = BackgroundSampler(PHOTOS[:1], ONLY_PHOTOS)
    drawn = sampler.draw((w, h), np.random.default_rng(5))
    expected = sampler.composite(view, np.random.default_rng(5))
    assert np.array_equal(composite_on_photo(view, photo, drawn.crop_box, drawn.flip), expected)
    assert np.array_equal(composite_on_photo(view, photo / 255.0, drawn.crop_box, drawn.flip), expected)
    with pytest.raises(ValueError, match="not inside the 320x213 photo"):
        composite_on_photo(view, photo, (300, 0, 400, 100))


def test_flat_and_white_backgrounds():
    view = a_view()
    rgb, alpha = view[..., :3], view[..., 3:]
    white = BackgroundSampler([], BackgroundMix(photo=0, flat=0, white=1))
    np.testing.assert_allclose(white.composite(view, np.random.default_rng(0))[..., :3],
                               rgb * alpha + (1 - alpha), atol=1e-6)
    flat = BackgroundSampler([], BackgroundMix(photo=0, flat=1, white=0))
    colours = set()
    for seed in range(5):
        out = flat.composite(view, np.random.default_rng(seed))[..., :3]
        colour = out[alpha[..., 0] == 0][0]
        np.testing.assert_allclose(out, rgb * alpha + colour * (1 - alpha), atol=1e-6)
        colours.add(tuple(np.round(colour, 4)))
    assert len(colours) == 5


def test_photos_are_decoded_lazily_into_a_bounded_cache(tmp_path):
    copies = []
    for i in range(3):
        copies.append(tmp_path / f"p{i}.jpg")
        shutil.copy(PHOTOS[i % 2], copies[-1])
    sampler = BackgroundSampler(copies, ONLY_PHOTOS, cache_size=2)
    assert sampler.cached_photos == 0
    rng = np.random.default_rng(0)
    for _ in range(30):
        sampler.composite(a_view(16, 16), rng)
        assert sampler.cached_photos <= 2
    assert sampler.cached_photos == 2
    # A photo that disappears after start-up is reported when it is needed, by name.
    lazy = BackgroundSampler(copies[:1], ONLY_PHOTOS)
    copies[0].unlink()
    with pytest.raises(P2MError, match="Cannot read background photo .*p0.jpg"):
        lazy.composite(a_view(16, 16), np.random.default_rng(0))
    with pytest.raises(P2MError, match="1 background photo.*not found.*p0.jpg"):
        BackgroundSampler(copies, ONLY_PHOTOS)


@pytest.mark.parametrize("values, message", [
    ((0.5, 0.5, 0.5), "sum to 1, got 1.5"),
    ((1.2, -0.2, 0.0), "flat must be a finite number >= 0"),
    ((float("nan"), 0.5, 0.5), "photo must be a finite number"),
    (("0.5", 0.5, 0.0), "photo must be a finite number"),
])
def test_bad_mixes_are_refused_clearly(values, message):
    with pytest.raises(ValueError, match=message):
        BackgroundMix(*values)


def test_mix_from_text():
    assert BackgroundMix.parse("photo=0.6, flat=0.3, white=0.1") == BackgroundMix(0.6, 0.3, 0.1)
    assert BackgroundMix.parse("white=1") == BackgroundMix(0, 0, 1)
    with pytest.raises(ValueError, match="kinds photo, flat, white"):
        BackgroundMix.parse("photos=1")
    with pytest.raises(ValueError, match="'lots' is not a number"):
        BackgroundMix.parse("photo=lots")
    with pytest.raises(ValueError, match="sum to 1"):
        BackgroundMix.parse("photo=0.5")


def test_bad_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="asks for photos but no photo files"):
        BackgroundSampler([], ONLY_PHOTOS)
    sampler = BackgroundSampler(PHOTOS, ONLY_PHOTOS)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"shape \(H, W, 4\), got shape \(8, 8, 3\)"):
        sampler.composite(np.zeros((8, 8, 3), np.float32), rng)
    with pytest.raises(ValueError, match="float RGBA values in \\[0, 1\\], got dtype uint8"):
        sampler.composite(np.zeros((8, 8, 4), np.uint8), rng)
    with pytest.raises(ValueError, match="min_crop <= max_crop"):
        BackgroundSampler(PHOTOS, ONLY_PHOTOS, min_crop=0.8, max_crop=0.5)
