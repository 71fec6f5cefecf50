"""Image decoding: every odd file is either a correct RGBA array or one clear P2MError."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_p2m.errors import P2MError
from blender_p2m.image_io import MAX_PIXELS, array_to_rgba, load_image_file, to_rgba

PIL_LIMIT_AT_IMPORT = Image.MAX_IMAGE_PIXELS                      # Pillow's bomb guard


def split_colours(w: int = 40, h: int = 30) -> np.ndarray:
    """uint8 RGB: red left half, blue right half, green bottom-right quarter."""
    a = np.zeros((h, w, 3), dtype=np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2:] = (0, 0, 255)
    a[h // 2:, w // 2:] = (0, 255, 0)
    return a


def check_rgba(rgba: np.ndarray, shape) -> None:
    assert rgba.dtype == np.float32 and rgba.shape == (*shape, 4)
    assert np.isfinite(rgba).all() and rgba.min() >= 0 and rgba.max() <= 1
    assert rgba.flags.c_contiguous


def assert_clear(excinfo, name: str) -> None:
    message = str(excinfo.value)
    assert name in message, message
    assert "Traceback" not in message and len(message) < 300


# ---- broken or hostile files -------------------------------------------------------------

def test_missing_empty_and_folder(tmp_path):
    with pytest.raises(P2MError, match="not found") as e:
        load_image_file(tmp_path / "nope.png")
    assert_clear(e, "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(P2MError, match="empty") as e:
        load_image_file(tmp_path / "empty.png")
    assert_clear(e, "empty.png")
    with pytest.raises(P2MError, match="folder"):
        load_image_file(tmp_path)


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg")])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.95])
def test_truncated_files(tmp_path, fmt, suffix, keep):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)     # incompressible: a long file
    full = tmp_path / f"full{suffix}"
    Image.fromarray(noise).save(full, format=fmt)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(P2MError, match="truncated or damaged|could not be decoded") as e:
        load_image_file(cut)
    assert_clear(e, "cut" + suffix)


def test_text_renamed_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping list: eggs, milk\n")
    with pytest.raises(P2MError, match="not an image") as e:
        load_image_file(path)
    assert_clear(e, "notes.png")


def test_one_pixel_image(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    with pytest.raises(P2MError, match="1x1") as e:
        load_image_file(path)
    assert_clear(e, "dot.png")
    with pytest.raises(P2MError, match="1x1"):
        to_rgba(np.zeros((1, 1, 3), dtype=np.uint8))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _bomb(path: Path, w: int, h: int) -> Path:
    """A valid PNG header claiming w x h greyscale pixels, a few kilobytes on disk."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (w + 1) * 64, 9)               # only 64 rows of data
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows)
                     + _png_chunk(b"IEND", b""))
    assert path.stat().st_size < 10_000
    return path


@pytest.mark.parametrize("w,h", [(30000, 30000), (10000, 9000), (8100, 8000)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch, w, h):
    """Beyond Pillow's hard limit, in its warning range, and just over ours (64 Mpx)."""
    import warnings

    path = _bomb(tmp_path / "bomb.png", w, h)
    assert w * h > MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # no DecompressionBombWarning
        with pytest.raises(P2MError, match="megapixels") as e:
            load_image_file(path)
    assert_clear(e, "bomb.png")
    assert PIL_LIMIT_AT_IMPORT is not None
    assert Image.MAX_IMAGE_PIXELS == PIL_LIMIT_AT_IMPORT         # Pillow's guard left in force
    # The same refusal for an opened (header only, not decoded) PIL image given directly.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(path) as img:
        assert img.size == (w, h)                                 # the header really says so
        with pytest.raises(P2MError, match="megapixels"):
            to_rgba(img)


# ---- unusual but valid images --------------------------------------------------------------

def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as img:
        assert img.n_frames == 3
    rgba = load_image_file(path)
    check_rgba(rgba, (16, 20))
    np.testing.assert_allclose(rgba[8, 10], [1, 0, 0, 1], atol=0.02)
    # An animated GIF already advanced to frame 2 still gives frame 1.
    with Image.open(path) as img:
        img.seek(2)
        np.testing.assert_allclose(to_rgba(img)[8, 10], [1, 0, 0, 1], atol=0.02)


def test_16_bit_png_keeps_its_precision(tmp_path):
    values = (np.arange(32 * 24).reshape(24, 32) * 80 + 7).astype(np.uint16)   # up to 61447
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    rgba = load_image_file(path)
    check_rgba(rgba, (24, 32))
    grey = values.astype(np.float64) / 65535
    for c in range(3):
        np.testing.assert_allclose(rgba[..., c], grey, atol=1e-6)   # far finer than 8 bits
    np.testing.assert_array_equal(rgba[..., 3], 1.0)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "print.jpg"
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))             # red in CMYK
    cmyk.paste((0, 0, 0, 0), (16, 0, 32, 32))                         # right half: paper white
    cmyk.save(path, quality=95)
    with Image.open(path) as img:
        assert img.mode == "CMYK"
    rgba = load_image_file(path)
    check_rgba(rgba, (32, 32))
    np.testing.assert_allclose(rgba[16, 4], [1, 0, 0, 1], atol=0.06)
    np.testing.assert_allclose(rgba[16, 28], [1, 1, 1, 1], atol=0.06)


def test_palette_png_with_transparency(tmp_path):
    img = Image.new("P", (20, 10), 0)
    img.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    img.paste(1, (5, 2, 15, 8))
    img.info["transparency"] = 0
    path = tmp_path / "sprite.png"
    img.save(path, transparency=0)
    rgba = load_image_file(path)
    check_rgba(rgba, (10, 20))
    assert rgba[0, 0, 3] == 0.0                                       # index 0 is transparent
    np.testing.assert_allclose(rgba[5, 10], [200 / 255, 30 / 255, 30 / 255, 1.0], atol=1e-6)


def test_exif_orientation_is_honoured(tmp_path):
    stored = split_colours(40, 30)                                    # as the sensor wrote it
    exif = Image.Exif()
    exif[0x0112] = 6                                                  # display rotated 90 deg clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    rgba = load_image_file(path)
    check_rgba(rgba, (40, 30))                                        # width and height swapped
    expected = np.rot90(stored, k=-1).astype(np.float32) / 255       # clockwise
    # Compare the middle of each colour region (JPEG blurs the edges).
    for i, j in ((5, 7), (5, 22), (34, 7), (34, 22), (15, 3), (25, 26)):
        np.testing.assert_allclose(rgba[i, j, :3], expected[i, j], atol=0.08)
    # The red half (stored on the left) is on top once displayed.
    assert rgba[:20, :, 0].mean() > 0.9 and rgba[20:, :, 0].mean() < 0.1


def test_fully_transparent_and_all_white_images(tmp_path):
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (24, 24), (0, 0, 0, 0)).save(clear)
    rgba = load_image_file(clear)
    check_rgba(rgba, (24, 24))
    assert rgba[..., 3].max() == 0.0
    white = tmp_path / "white.png"
    Image.new("RGB", (24, 24), (255, 255, 255)).save(white)
    rgba = load_image_file(white)
    check_rgba(rgba, (24, 24))
    assert rgba.min() == 1.0


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "1", "I", "F", "I;16", "P"])
def test_every_pil_mode_gives_rgba(mode):
    img = Image.fromarray(split_colours(20, 12)).convert("RGBA").convert(mode) \
        if mode not in ("I;16",) else Image.fromarray(np.full((12, 20), 30000, dtype=np.uint16))
    rgba = to_rgba(img)
    check_rgba(rgba, (12, 20))
    if mode == "RGB":
        np.testing.assert_allclose(rgba[3, 3], [1, 0, 0, 1])
        np.testing.assert_allclose(rgba[9, 15], [0, 1, 0, 1])


# ---- arrays --------------------------------------------------------------------------------

def test_arrays_of_every_kind():
    rgb8 = split_colours(20, 10)
    expected = rgb8.astype(np.float32) / 255
    check_rgba(to_rgba(rgb8), (10, 20))
    np.testing.assert_allclose(to_rgba(rgb8)[..., :3], expected)
    np.testing.assert_allclose(to_rgba(rgb8.astype(np.uint16) * 257)[..., :3], expected, atol=1e-6)
    np.testing.assert_allclose(to_rgba(expected)[..., :3], expected)
    np.testing.assert_allclose(to_rgba(expected.astype(np.float64))[..., :3], expected)
    grey = rgb8[..., 0]
    np.testing.assert_allclose(to_rgba(grey)[..., 1], grey / 255)                 # H x W
    np.testing.assert_allclose(to_rgba(grey[..., None])[..., 2], grey / 255)      # H x W x 1
    rgba8 = np.concatenate([rgb8, np.full((10, 20, 1), 128, np.uint8)], axis=2)
    np.testing.assert_allclose(to_rgba(rgba8)[..., 3], 128 / 255)
    # Integer arrays of other types with 0..255 values.
    np.testing.assert_allclose(to_rgba(rgb8.astype(np.int64))[..., :3], expected)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((10, 10, 5)), "expected an H x W"),
    (np.zeros((10,)), "expected an H x W"),
    (np.full((8, 8, 3), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((8, 8, 3), dtype=bool), "unsupported pixel type"),
    (np.zeros((8, 8, 3), dtype=np.complex64), "unsupported pixel type"),
])
def test_bad_arrays(bad, match):
    with pytest.raises(P2MError, match=match):
        array_to_rgba(bad)


def test_unsupported_object():
    with pytest.raises(P2MError, match="Unsupported image type"):
        to_rgba(12345)
    with pytest.raises(P2MError, match="not found"):
        to_rgba(str(Path("/definitely/not/here.png")))
