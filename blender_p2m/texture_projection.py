"""The picture projected onto a reconstruction as its texture, without the background.

A mesh textured by projecting the whole picture through the camera shows the wall behind
the object on its back and around its edges. Here only pixels inside the object's mask are
used: the texture is the picture cropped to the mask, with every pixel outside the mask
replaced by the object's mean colour (the mean over the mask). Faces the camera does not
see (facing away, or hidden behind other faces), and faces whose centre falls outside the
mask, are mapped to a band of that mean colour below the crop.

Pure numpy: the add-on turns `ProjectedTexture.pixels` into a packed Blender image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .intrinsics import Intrinsics

# Rows of mean colour under the crop where unseen faces look up their colour.
MEAN_BAND_ROWS = 4
# Pixels of mean colour kept around the mask's box, so that texture filtering at a face
# that crosses the mask's edge never reaches past the crop.
CROP_MARGIN = 4
# The visibility test rasterises depth at most this many pixels along the picture's long side.
DEPTH_BUFFER_SIZE = 256
# The mesh's own silhouette (used as the mask when the picture has none) is rasterised finer.
COVERAGE_SIZE = 1024
# Faces with a corner nearer than this (metres) are neither drawn nor textured: they cross
# the camera's plane, where projecting means nothing.
NEAR_DEPTH = 1e-3
# The texture's longest side; a larger crop is averaged down by a whole factor.
MAX_TEXTURE_SIDE = 4096
# A face is hidden when something lies closer than its centre by more than this fraction
# of its depth (absorbs the depth buffer's coarse sampling).
DEPTH_TOLERANCE = 0.01


@dataclass
class ProjectedTexture:
    """A texture and the UVs that project it.

    Attributes:
        pixels: (h, w, 4) float32 RGBA in [0, 1], rows top-down, opaque.
        uvs: (F * 3, 2) float32 per face corner (face order, then corner order), (0, 0)
            bottom-left of the texture.
        mean_colour: (3,) float32, the object's mean colour over the mask.
        seen: (F,) bool, faces textured from the picture (the others show mean_colour).
    """

    pixels: np.ndarray
    uvs: np.ndarray
    mean_colour: np.ndarray
    seen: np.ndarray


def project_pixels(vertices_cam: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """(N, 3) camera-frame points (looking down -Z) -> (N, 2) pixel (u from the left, v from the top)."""
    depth = np.maximum(-vertices_cam[:, 2], 1e-9)                             # (N,)
    u = intr.cx + intr.fx * vertices_cam[:, 0] / depth
    v = intr.cy - intr.fy * vertices_cam[:, 1] / depth
    return np.stack([u, v], axis=1)


def in_front(vertices_cam: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces whose three corners lie at least NEAR_DEPTH in front of the camera."""
    return (-vertices_cam[:, 2][faces] > NEAR_DEPTH).all(axis=1)


def front_facing(vertices_cam: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: counter-clockwise faces whose outside looks towards the camera at the origin."""
    a, b, c = (vertices_cam[faces[:, i]] for i in range(3))                   # (F, 3) each
    normals = np.cross(b - a, c - a)
    centres = (a + b + c) / 3.0
    return np.einsum("ij,ij->i", normals, -centres) > 0.0


def depth_buffer(vertices_cam: np.ndarray, faces: np.ndarray, intr: Intrinsics,
                 size: int = DEPTH_BUFFER_SIZE) -> tuple[np.ndarray, np.ndarray, float]:
    """The nearest depth and face per pixel of a coarse raster of the picture.

    Every front-facing triangle is tested at the pixel centres of its bounding box, all
    triangles at once (numpy), and each pixel keeps its nearest hit.

    Returns ((h, w) float64 depth in metres, inf where no face covers the pixel centre;
    (h, w) int64 index of that face, -1 where none; scale = raster pixels per picture pixel).
    Depth is interpolated linearly in the picture (millimetres off at this scale).
    """
    scale = min(1.0, size / max(intr.width, intr.height))
    h, w = max(1, round(intr.height * scale)), max(1, round(intr.width * scale))
    zbuf = np.full(h * w, np.inf)
    ids = np.full(h * w, -1, dtype=np.int64)
    index = np.nonzero(front_facing(vertices_cam, faces) & in_front(vertices_cam, faces))[0]   # (K,) drawn
    p = (project_pixels(vertices_cam, intr) * scale)[faces[index]]            # (K, 3, 2) raster pixels
    depth = -vertices_cam[:, 2][faces[index]]                                 # (K, 3)
    lo = np.maximum(np.floor(p.min(axis=1) - 0.5), 0).astype(np.int64)       # (K, 2) first pixel
    hi = np.minimum(np.ceil(p.max(axis=1) - 0.5), [w - 1, h - 1]).astype(np.int64)
    counts = np.clip(hi - lo + 1, 0, None)                                    # (K, 2) pixels per side
    per_face = counts[:, 0] * counts[:, 1]
    k = np.repeat(np.arange(len(index)), per_face)                            # (P,) face of each test
    if len(k) == 0:
        return zbuf.reshape(h, w), ids.reshape(h, w), scale
    offset = np.arange(len(k)) - np.repeat(np.cumsum(per_face) - per_face, per_face)
    x = lo[k, 0] + offset % counts[k, 0]
    y = lo[k, 1] + offset // counts[k, 0]
    (ax, ay), (bx, by), (cx, cy) = (p[k, i].T for i in range(3))              # (P,) each
    det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)
    xs, ys = x + 0.5, y + 0.5
    wa = ((by - cy) * (xs - cx) + (cx - bx) * (ys - cy)) / det
    wb = ((cy - ay) * (xs - cx) + (ax - cx) * (ys - cy)) / det
    wc = 1.0 - wa - wb
    hit = ok & (wa >= -1e-9) & (wb >= -1e-9) & (wc >= -1e-9)
    z = (wa * depth[k, 0] + wb * depth[k, 1] + wc * depth[k, 2])[hit]
    pixel = (y * w + x)[hit]
    face = index[k[hit]]
    order = np.lexsort((z, pixel))                                            # by pixel, nearest first
    pixel, z, face = pixel[order], z[order], face[order]
    first = np.ones(len(pixel), dtype=bool)
    first[1:] = pixel[1:] != pixel[:-1]
    zbuf[pixel[first]] = z[first]
    ids[pixel[first]] = face[first]
    return zbuf.reshape(h, w), ids.reshape(h, w), scale


def visible_faces(vertices_cam: np.ndarray, faces: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """(F,) bool: faces that face the camera and are the nearest surface somewhere.

    A face is seen when it is the nearest at one pixel or more of the raster; a face
    smaller than a raster pixel, when nothing lies clearly closer than its centre.
    """
    zbuf, ids, scale = depth_buffer(vertices_cam, faces, intr)
    owns_pixels = np.zeros(len(faces), dtype=bool)
    owns_pixels[ids[ids >= 0]] = True
    centres = vertices_cam[faces].mean(axis=1)                                # (F, 3)
    px = project_pixels(centres, intr) * scale                                # (F, 2)
    cols = np.clip(px[:, 0].astype(int), 0, zbuf.shape[1] - 1)
    rows = np.clip(px[:, 1].astype(int), 0, zbuf.shape[0] - 1)
    nearest = zbuf[rows, cols]
    unhidden = ~np.isfinite(nearest) | (-centres[:, 2] <= nearest * (1.0 + DEPTH_TOLERANCE) + 1e-6)
    return front_facing(vertices_cam, faces) & in_front(vertices_cam, faces) & (owns_pixels | unhidden)


def mesh_coverage(vertices_cam: np.ndarray, faces: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """(H, W) float32: 1 where the mesh covers the picture (its own silhouette), else 0.

    Rasterised at up to COVERAGE_SIZE pixels along the long side and shrunk by one of
    those pixels, so that a picture larger than that gets no background at the rim."""
    zbuf, _, scale = depth_buffer(vertices_cam, faces, intr, size=COVERAGE_SIZE)
    covered = np.isfinite(zbuf)
    if scale < 1.0:
        padded = np.pad(covered, 1)
        covered = covered & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rows = np.minimum((np.arange(intr.height) + 0.5) * scale, covered.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(intr.width) + 0.5) * scale, covered.shape[1] - 1).astype(int)
    return covered[rows][:, cols].astype(np.float32)


def _block_mean(pixels: np.ndarray, factor: int, fill: np.ndarray) -> np.ndarray:
    """(h, w, C) averaged over factor x factor blocks; the last blocks padded with `fill`."""
    if factor == 1:
        return pixels
    h, w, c = pixels.shape
    hh, ww = -(-h // factor), -(-w // factor)
    padded = np.empty((hh * factor, ww * factor, c), dtype=pixels.dtype)
    padded[...] = fill
    padded[:h, :w] = pixels
    return padded.reshape(hh, factor, ww, factor, c).mean(axis=(1, 3))


def project_texture(rgb: np.ndarray, mask: np.ndarray | None, vertices_cam: np.ndarray,
                    faces: np.ndarray, intr: Intrinsics) -> ProjectedTexture:
    """The masked texture of a reconstruction, and its UVs.

    Args:
        rgb: (H, W, 3) float32 in [0, 1], rows top-down: the picture the camera sees.
        mask: (H, W) float in [0, 1], the object's silhouette in that picture (alpha, or the
            model's removed background); None uses the mesh's own silhouette.
        vertices_cam: (N, 3) camera frame (X right, Y up, looking down -Z).
        faces: (F, 3) vertex indices, counter-clockwise seen from outside.
        intr: the picture's intrinsics (width, height equal to rgb's).
    """
    rgb = np.asarray(rgb, dtype=np.float32)[..., :3]
    vertices_cam = np.asarray(vertices_cam, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    height, width = rgb.shape[:2]
    if (width, height) != (intr.width, intr.height):
        raise ValueError(f"picture is {width}x{height}, intrinsics are {intr.width}x{intr.height}")
    if mask is None:
        mask = mesh_coverage(vertices_cam, faces, intr)
    mask = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)             # (H, W)
    if mask.shape != (height, width):
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, picture is {width}x{height}")
    inside = mask > 0.5
    weight = float(mask.sum())
    if weight > 0:
        mean = np.einsum("hwc,hw->c", rgb, mask) / weight
    else:
        mean = rgb.reshape(-1, 3).mean(axis=0)
    mean = mean.astype(np.float32)
    if not inside.any():
        inside = np.ones_like(inside)

    rows, cols = np.nonzero(inside)
    r0, r1 = rows.min() - CROP_MARGIN, rows.max() + 1 + CROP_MARGIN           # picture rows of the crop
    c0, c1 = cols.min() - CROP_MARGIN, cols.max() + 1 + CROP_MARGIN
    crop = np.empty((r1 - r0, c1 - c0, 3), dtype=np.float32)                   # the crop, on mean colour
    crop[...] = mean
    sr0, sr1, sc0, sc1 = max(r0, 0), min(r1, height), max(c0, 0), min(c1, width)
    alpha = mask[sr0:sr1, sc0:sc1, None]
    crop[sr0 - r0:sr1 - r0, sc0 - c0:sc1 - c0] = rgb[sr0:sr1, sc0:sc1] * alpha + mean * (1 - alpha)
    factor = -(-max(crop.shape[:2]) // MAX_TEXTURE_SIDE)                     # 1 unless the crop is huge
    crop = _block_mean(crop, factor, mean)                                    # (h, w, 3)
    pixels = np.ones((crop.shape[0] + MEAN_BAND_ROWS, crop.shape[1], 4), dtype=np.float32)
    pixels[:crop.shape[0], :, :3] = crop
    pixels[crop.shape[0]:, :, :3] = mean                                       # the band

    tex_h, tex_w = pixels.shape[0] * factor, pixels.shape[1] * factor         # in picture pixels
    corner_px = project_pixels(vertices_cam, intr)[faces]                     # (F, 3, 2) picture pixels
    uvs = np.stack([(corner_px[..., 0] - c0) / tex_w,
                    1.0 - (corner_px[..., 1] - r0) / tex_h], axis=-1)         # (F, 3, 2)
    centre_px = corner_px.mean(axis=1)                                        # (F, 2)
    in_picture = ((centre_px[:, 0] >= 0) & (centre_px[:, 0] < width)
                  & (centre_px[:, 1] >= 0) & (centre_px[:, 1] < height))
    cu = np.clip(np.nan_to_num(centre_px[:, 0]).astype(np.int64), 0, width - 1)
    cv = np.clip(np.nan_to_num(centre_px[:, 1]).astype(np.int64), 0, height - 1)
    seen = visible_faces(vertices_cam, faces, intr) & in_picture & (mask[cv, cu] > 0.5)
    uvs[~seen] = (0.5, 0.5 * MEAN_BAND_ROWS / pixels.shape[0])                # the band's middle
    return ProjectedTexture(pixels, uvs.reshape(-1, 2).astype(np.float32), mean, seen)
