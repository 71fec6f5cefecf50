"""The panel's picture of what the network saw: the outline follows the silhouette's edge
exactly (checked against a distance-based definition) and leaves the rest untouched."""
from __future__ import annotations

import numpy as np
import pytest

from blender_p2m.network_view import OUTLINE_COLOUR, network_view, outline


def disc(size=40, radius=12.0):
    yy, xx = np.mgrid[0:size, 0:size]
    return ((yy + 0.5 - size / 2) ** 2 + (xx + 0.5 - size / 2) ** 2 < radius ** 2).astype(np.float32)


@pytest.mark.parametrize("centre", [20.0, 4.0])              # inside the picture; cut by its edge
def test_outline_is_the_pixels_next_to_the_other_side(centre):
    mask = disc()
    if centre != 20.0:
        yy, xx = np.mgrid[0:40, 0:40]
        mask = ((yy + 0.5 - centre) ** 2 + (xx + 0.5 - 20) ** 2 < 12.0 ** 2).astype(np.float32)
    inside = mask > 0.5
    line = outline(mask)
    # Oracle: a pixel is on the line when one of its 4 neighbours is on the other side.
    expected = np.zeros_like(inside)
    for y in range(40):
        for x in range(40):
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                ny, nx = y + dy, x + dx
                other = inside[ny, nx] if 0 <= ny < 40 and 0 <= nx < 40 else False
                if 0 <= ny < 40 and 0 <= nx < 40 and other != inside[y, x]:
                    expected[y, x] = True
                if not (0 <= ny < 40 and 0 <= nx < 40) and inside[y, x]:
                    expected[y, x] = True                       # the picture's edge bounds the object
    np.testing.assert_array_equal(line, expected)
    assert (line & inside).any() and (line & ~inside).any()


def test_view_keeps_the_image_off_the_line():
    rng = np.random.default_rng(1)
    image = rng.random((40, 40, 3)).astype(np.float32)
    mask = disc()
    view = network_view(image, mask)
    line = outline(mask)
    assert view.shape == (40, 40, 4) and (view[..., 3] == 1).all()
    np.testing.assert_array_equal(view[~line, :3], image[~line])
    np.testing.assert_allclose(view[line, :3], np.broadcast_to(OUTLINE_COLOUR, (line.sum(), 3)))
    np.testing.assert_array_equal(network_view(image, None)[..., :3], image)
