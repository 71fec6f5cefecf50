"""TriMesh plus the closed primitives every category generator is assembled from.

Every builder returns a closed, watertight, outward-wound mesh (one part).  Objects
are unions of such parts (`merge`), so ground-truth surface sampling and normals are
well defined per part.  Builders orient themselves by signed volume, so callers never
have to think about winding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from . import polygon as poly2d

# --------------------------------------------------------------------------- the type

@dataclass
class TriMesh:
    """Triangle mesh: vertices (N,3) float64, faces (F,3) int64 CCW from outside, parts (F,) int32."""

    vertices: np.ndarray
    faces: np.ndarray
    parts: np.ndarray = field(default=None)

    def __post_init__(self):
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        if self.parts is None:
            self.parts = np.zeros(len(self.faces), dtype=np.int32)
        self.parts = np.ascontiguousarray(self.parts, dtype=np.int32).reshape(-1)

    @property
    def n_parts(self) -> int:
        return int(self.parts.max()) + 1 if len(self.parts) else 0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def copy(self) -> "TriMesh":
        return TriMesh(self.vertices.copy(), self.faces.copy(), self.parts.copy())

    # ---- transforms (all return new meshes) -----------------------------------------
    def transformed(self, matrix=None, offset=(0.0, 0.0, 0.0)) -> "TriMesh":
        """v -> M v + t.  Mirroring matrices flip the winding so normals stay outward."""
        m = np.eye(3) if matrix is None else np.asarray(matrix, dtype=np.float64)
        v = self.vertices @ m.T + np.asarray(offset, dtype=np.float64)
        f = self.faces[:, ::-1] if np.linalg.det(m) < 0 else self.faces
        return TriMesh(v, f.copy(), self.parts.copy())

    def translated(self, offset) -> "TriMesh":
        return TriMesh(self.vertices + np.asarray(offset, dtype=np.float64),
                       self.faces.copy(), self.parts.copy())

    def scaled(self, factors) -> "TriMesh":
        return self.transformed(np.diag(np.broadcast_to(np.asarray(factors, float), (3,))))

    def rotated(self, axis, angle: float, about=(0.0, 0.0, 0.0)) -> "TriMesh":
        about = np.asarray(about, dtype=np.float64)
        r = rotation(axis, angle)
        return self.transformed(r, about - r @ about)

    def mirrored(self, axis: int = 0) -> "TriMesh":
        """Reflect across the plane through the origin normal to `axis` (0=x, 1=y, 2=z)."""
        d = np.ones(3)
        d[axis] = -1.0
        return self.transformed(np.diag(d))


def merge(meshes: Iterable[TriMesh]) -> TriMesh:
    """Concatenate meshes; part ids are renumbered so every input part stays distinct."""
    meshes = [m for m in meshes if m is not None and len(m.faces)]
    verts, faces, parts = [], [], []
    v_off, p_off = 0, 0
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + v_off)
        parts.append(m.parts + p_off)
        v_off += len(m.vertices)
        p_off += m.n_parts
    if not meshes:
        return TriMesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int32))
    return TriMesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(parts))


def subdivide(mesh: TriMesh) -> TriMesh:
    """Split every triangle into four at its edge midpoints (shape unchanged, still closed).

    Used to give very plain objects (a box-legged table is ~60 triangles) enough
    triangles for downstream tools that expect a few hundred.
    """
    f = mesh.faces
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(e, axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    mids = 0.5 * (mesh.vertices[uniq[:, 0]] + mesh.vertices[uniq[:, 1]])
    n, F = len(mesh.vertices), len(f)
    m01, m12, m20 = (n + inv[i * F:(i + 1) * F] for i in range(3))
    a, b, c = f[:, 0], f[:, 1], f[:, 2]
    faces = np.concatenate([np.stack([a, m01, m20], 1), np.stack([m01, b, m12], 1),
                            np.stack([m20, m12, c], 1), np.stack([m01, m12, m20], 1)])
    return TriMesh(np.concatenate([mesh.vertices, mids]), faces, np.tile(mesh.parts, 4))


def mirrored_pair(mesh: TriMesh, axis: int = 0) -> list[TriMesh]:
    """The mesh and its mirror image: left/right symmetric parts in one call."""
    return [mesh, mesh.mirrored(axis)]


# --------------------------------------------------------------------------- geometry utils

def rotation(axis, angle: float) -> np.ndarray:
    """3x3 rotation about `axis` ('x'/'y'/'z' or a vector) by `angle` radians (right hand)."""
    if isinstance(axis, str):
        axis = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = a
    return np.array([
        [c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
        [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
        [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)],
    ])


def frame_z_to(direction) -> np.ndarray:
    """Rotation taking +Z to `direction` (used to aim lathe-built parts)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    c = float(np.dot(z, d))
    if c > 1 - 1e-12:
        return np.eye(3)
    if c < -1 + 1e-12:
        return np.diag([1.0, -1.0, -1.0])
    axis = np.cross(z, d)
    return rotation(axis, np.arccos(np.clip(c, -1.0, 1.0)))


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def _closed(vertices, faces) -> TriMesh:
    """Wrap a freshly built closed surface, flipping it if it came out inside-out."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if signed_volume(v, f) < 0:
        f = f[:, ::-1]
    return TriMesh(v, f)


def _grid_quads(rows: int, cols: int, wrap_cols: bool) -> np.ndarray:
    """Two triangles per cell of a rows x cols vertex grid (row-major indices)."""
    c_end = cols if wrap_cols else cols - 1
    i, j = np.meshgrid(np.arange(rows - 1), np.arange(c_end), indexing="ij")
    i, j = i.ravel(), j.ravel()
    j1 = (j + 1) % cols
    a, b = i * cols + j, i * cols + j1
    c, d = (i + 1) * cols + j1, (i + 1) * cols + j
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


# --------------------------------------------------------------------------- boxes

_BOX_FACES = np.array([
    [0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
    [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [0, 4, 7], [0, 7, 3]], dtype=np.int64)


def box(size, center=(0.0, 0.0, 0.0)) -> TriMesh:
    """Axis-aligned box of full extents `size` centred at `center` (12 triangles)."""
    h = 0.5 * np.asarray(size, dtype=np.float64)
    corners = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                        [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=np.float64)
    return _closed(corners * h + np.asarray(center, dtype=np.float64), _BOX_FACES)


def box_between(lo, hi) -> TriMesh:
    """Axis-aligned box spanning corner `lo` to corner `hi`."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return box(np.abs(hi - lo), 0.5 * (lo + hi))


def rounded_box(size, radius, segments: int = 2, center=(0.0, 0.0, 0.0), divisions=(1, 1, 1)) -> TriMesh:
    """Box with rounded edges/corners; `radius` scalar or per-axis (elliptic rounding).

    Built as a subdivided cube whose grid lines include the start of each rounding
    zone; points in a zone are pushed onto the rounding ellipsoid.  segments=1 gives a
    chamfer-like bevel.  Per-axis radii allow e.g. a soft cushion with flatter top.
    `divisions` splits the flat middle so the box can later be bent (`bend`).
    """
    h = 0.5 * np.asarray(size, dtype=np.float64)
    r = np.minimum(np.broadcast_to(np.asarray(radius, dtype=np.float64), (3,)), h * 0.999)
    divisions = np.broadcast_to(np.asarray(divisions), (3,))
    if np.all(r <= 1e-6) and np.all(divisions <= 1):
        return box(size, center)
    r = np.maximum(r, 1e-5)
    t = np.tan(np.linspace(0.0, 0.25 * np.pi, segments + 1))  # equi-angular spacing
    coords = []
    for ax in range(3):
        inner = h[ax] - r[ax]
        zone = inner + r[ax] * t  # inner .. h
        mid = np.linspace(-inner, inner, int(divisions[ax]) + 1)
        c = np.concatenate([-zone[::-1], mid, zone])
        c = np.unique(np.round(c, 12))
        keep = np.concatenate([[True], np.diff(c) > 1e-9 * max(h[ax], 1e-9)])
        c = c[keep]
        c[0], c[-1] = -h[ax], h[ax]  # exact faces so the six grids weld
        coords.append(c)
    verts, faces, base = [], [], 0
    for ax in range(3):
        b, c = (ax + 1) % 3, (ax + 2) % 3
        U, V = np.meshgrid(coords[b], coords[c], indexing="ij")
        nu, nv = U.shape
        quads = _grid_quads(nu, nv, False)
        for sign in (-1.0, 1.0):
            p = np.empty((nu * nv, 3))
            p[:, ax] = sign * h[ax]
            p[:, b] = U.ravel()
            p[:, c] = V.ravel()
            f = quads[:, ::-1] if sign > 0 else quads  # grid normal is -axis
            verts.append(p)
            faces.append(f + base)
            base += len(p)
    v = np.concatenate(verts)
    f = np.concatenate(faces)
    # weld the shared edges of the six grids
    key = np.round(v / (np.abs(h).max() * 1e-8 + 1e-15)).astype(np.int64)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    v = v[first]
    f = inv.reshape(-1)[f]
    inner = h - r
    core = np.clip(v, -inner, inner)
    d = (v - core) / r
    n = np.linalg.norm(d, axis=1, keepdims=True)
    d = np.where(n > 1e-12, d / np.maximum(n, 1e-12), 0.0)
    v = core + d * r
    return _closed(v + np.asarray(center, dtype=np.float64), f)


def bend(mesh: TriMesh, along: int, toward: int, amount: float, half_span: float) -> TriMesh:
    """Parabolic bend: coordinate `toward` += amount * (coord[along] / half_span)^2.

    Curves flat panels (chair backs, monitor screens, hull decks) without new topology;
    subdivide the panel along `along` first so the curve is visible.
    """
    v = mesh.vertices.copy()
    v[:, toward] += amount * (v[:, along] / half_span) ** 2
    return TriMesh(v, mesh.faces.copy(), mesh.parts.copy())


# --------------------------------------------------------------------------- revolution

def lathe(profile, segments: int = 24, closed_loop: bool = False) -> TriMesh:
    """Revolve an (r, z) profile around +Z.

    Open profile: endpoints with r == 0 become poles; endpoints with r > 0 are closed
    with a flat cap (a pole on the axis at the same z).  closed_loop=True revolves a
    closed outline that never touches the axis (torus, lamp-shade shell, tyre).
    """
    prof = np.asarray(profile, dtype=np.float64)
    ang = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    cs, sn = np.cos(ang), np.sin(ang)
    if closed_loop:
        prof = poly2d.drop_duplicates(prof)
        P = len(prof)
        v = np.stack([prof[:, 0, None] * cs, prof[:, 0, None] * sn,
                      np.repeat(prof[:, 1, None], segments, 1)], axis=-1).reshape(-1, 3)
        f = _grid_quads(P + 1, segments, True)
        f = np.where(f >= P * segments, f - P * segments, f)  # wrap last row to first
        return _closed(v, f)
    bottom_pole = prof[0, 0] <= 1e-12
    top_pole = prof[-1, 0] <= 1e-12
    ring = prof[(1 if bottom_pole else 0): (len(prof) - 1 if top_pole else len(prof))]
    z_bot, z_top = prof[0, 1], prof[-1, 1]
    R = len(ring)
    v = np.stack([ring[:, 0, None] * cs, ring[:, 0, None] * sn,
                  np.repeat(ring[:, 1, None], segments, 1)], axis=-1).reshape(-1, 3)
    faces = [_grid_quads(R, segments, True)] if R > 1 else []
    j = np.arange(segments)
    j1 = (j + 1) % segments
    nb = R * segments
    v = np.concatenate([v, [[0.0, 0.0, z_bot], [0.0, 0.0, z_top]]])
    faces.append(np.stack([np.full(segments, nb), j1, j], 1))
    last = (R - 1) * segments
    faces.append(np.stack([np.full(segments, nb + 1), last + j, last + j1], 1))
    return _closed(v, np.concatenate(faces))


def _aim(mesh: TriMesh, base, direction) -> TriMesh:
    return mesh.transformed(frame_z_to(direction), base)


def cylinder(radius: float, height: float, segments: int = 24, base=(0.0, 0.0, 0.0),
             direction=(0.0, 0.0, 1.0)) -> TriMesh:
    """Capped cylinder from `base` along `direction`."""
    return frustum(radius, radius, height, segments, base, direction)


def frustum(r0: float, r1: float, height: float, segments: int = 24, base=(0.0, 0.0, 0.0),
            direction=(0.0, 0.0, 1.0)) -> TriMesh:
    """Truncated cone (r1 = 0 gives a cone) from `base` along `direction`."""
    prof = [(r0, 0.0), (r1, height)] if r1 > 1e-9 else [(r0, 0.0), (0.0, height)]
    return _aim(lathe(prof, segments), base, direction)


def rounded_cylinder(radius: float, height: float, edge: float, segments: int = 24, edge_segments: int = 3,
                     base=(0.0, 0.0, 0.0), direction=(0.0, 0.0, 1.0)) -> TriMesh:
    """Cylinder whose rim edges are rounded with radius `edge`: cushions, knobs, bases, tyres."""
    e = float(min(edge, 0.49 * height, 0.99 * radius))
    if e <= 1e-6:
        return cylinder(radius, height, segments, base, direction)
    lower = poly2d.arc((radius - e, e), e, -0.5 * np.pi, 0.0, edge_segments)
    upper = poly2d.arc((radius - e, height - e), e, 0.0, 0.5 * np.pi, edge_segments)
    prof = np.concatenate([[[0.0, 0.0]], lower, upper, [[0.0, height]]])
    return _aim(lathe(poly2d.drop_duplicates(prof), segments), base, direction)


def cylinder_between(p0, p1, radius: float, segments: int = 16, r1: float | None = None) -> TriMesh:
    """Rod from point p0 to p1 (optionally tapering to radius r1): legs, struts, masts."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    return frustum(radius, radius if r1 is None else r1, float(np.linalg.norm(d)), segments, p0, d)


def ellipsoid(radii, center=(0.0, 0.0, 0.0), segments: int = 24, rings: int = 12) -> TriMesh:
    """UV ellipsoid with poles on Z."""
    t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, rings + 1)
    m = lathe(np.stack([np.cos(t), np.sin(t)], 1), segments)
    return m.scaled(radii).translated(center)


def sphere(radius: float, center=(0.0, 0.0, 0.0), segments: int = 20, rings: int = 10) -> TriMesh:
    return ellipsoid((radius, radius, radius), center, segments, rings)


def capsule(radius: float, length: float, segments: int = 16, rings: int = 4, base=(0.0, 0.0, 0.0),
            direction=(0.0, 0.0, 1.0)) -> TriMesh:
    """Cylinder with hemispherical ends; `length` is the total length along the axis."""
    cyl = max(length - 2 * radius, 1e-6)
    t = np.linspace(0.0, 0.5 * np.pi, rings + 1)
    lower = np.stack([radius * np.sin(t), radius - radius * np.cos(t)], 1)
    upper = np.stack([radius * np.cos(t), radius + cyl + radius * np.sin(t)], 1)
    return _aim(lathe(np.concatenate([lower, upper]), segments), base, direction)


def torus(major: float, minor: float, segments: int = 24, tube_segments: int = 10,
          center=(0.0, 0.0, 0.0), direction=(0.0, 0.0, 1.0)) -> TriMesh:
    ring = poly2d.circle(minor, tube_segments, center=(major, 0.0))
    return _aim(lathe(ring, segments, closed_loop=True), center, direction)


# --------------------------------------------------------------------------- sweeps

def loft(rings, start=None, end=None) -> TriMesh:
    """Skin a sequence of rings (M, K, 3) (same point count, consistent order).

    Ends are closed by a fan: to the ring centroid (flat cap, default) or to the given
    `start` / `end` point (pointed nose or tail).  Rings must be star-shaped about the
    fan centre for the cap to be valid.
    """
    rings = np.asarray(rings, dtype=np.float64)
    M, K, _ = rings.shape
    v = rings.reshape(-1, 3)
    f = [_grid_quads(M, K, True)]
    s = rings[0].mean(0) if start is None else np.asarray(start, float)
    e = rings[-1].mean(0) if end is None else np.asarray(end, float)
    n = M * K
    j = np.arange(K)
    j1 = (j + 1) % K
    v = np.concatenate([v, s[None], e[None]])
    f.append(np.stack([np.full(K, n), j1, j], 1))
    last = (M - 1) * K
    f.append(np.stack([np.full(K, n + 1), last + j, last + j1], 1))
    return _closed(v, np.concatenate(f))


def _path_frames(path: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation-minimising frames (tangent, normal, binormal) along a polyline."""
    tang = np.gradient(path, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tang[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    nrm = np.zeros_like(path)
    n = np.cross(tang[0], ref)
    n /= np.linalg.norm(n)
    for i in range(len(path)):
        n = n - tang[i] * np.dot(n, tang[i])
        n /= np.linalg.norm(n)
        nrm[i] = n
    return tang, nrm, np.cross(tang, nrm)


def rounded_path(points, radius: float, segments: int = 4) -> np.ndarray:
    """Replace the inner corners of a polyline by circular-ish fillets (bent tubes)."""
    pts = np.asarray(points, dtype=np.float64)
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        a, b, c = pts[i - 1], pts[i], pts[i + 1]
        da, dc = a - b, c - b
        la, lc = np.linalg.norm(da), np.linalg.norm(dc)
        r = min(radius, 0.45 * la, 0.45 * lc)
        p0, p2 = b + da / la * r, b + dc / lc * r
        t = np.linspace(0.0, 1.0, segments + 1)[:, None]
        out.extend((1 - t) ** 2 * p0 + 2 * (1 - t) * t * b + t ** 2 * p2)  # quadratic Bezier
    out.append(pts[-1])
    return np.asarray(out)


def tube(path, radius, segments: int = 12, section=None) -> TriMesh:
    """Sweep a circle (or a given 2-D `section`) along a 3-D polyline; capped ends.

    `radius` may be a scalar or one value per path point (tapering arms, handles).
    """
    path = np.asarray(path, dtype=np.float64)
    _, nrm, bin_ = _path_frames(path)
    sec = poly2d.circle(1.0, segments) if section is None else np.asarray(section, float)
    rad = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(path),))
    rings = (path[:, None, :] + rad[:, None, None] * (sec[None, :, 0, None] * nrm[:, None, :]
                                                      + sec[None, :, 1, None] * bin_[:, None, :]))
    return loft(rings)


def extrude(outline, z0: float, z1: float, bevel: float = 0.0) -> TriMesh:
    """Prism of a simple 2-D outline (XY) between z0 and z1, optionally bevelled.

    The bevel insets the outline at both ends (mitre offset), giving soft edges to car
    bodies, phone slabs and rifle stocks without any boolean operation.
    """
    pts = poly2d.ensure_ccw(poly2d.drop_duplicates(np.asarray(outline, float)))
    tri = poly2d.triangulate(pts)
    n = len(pts)
    bevel = float(min(bevel, 0.45 * (z1 - z0)))
    edge = np.linalg.norm(pts - np.roll(pts, 1, axis=0), axis=1)
    for _ in range(6):  # shrink a bevel that would collapse tight corners into slivers
        if bevel <= 1e-6:
            break
        inset = poly2d.offset(pts, -bevel)
        inset_edge = np.linalg.norm(inset - np.roll(inset, 1, axis=0), axis=1)
        if np.all(inset_edge > 0.3 * edge):
            break
        bevel *= 0.5
    if bevel > 1e-6:
        layers = [(inset, z0), (pts, z0 + bevel), (pts, z1 - bevel), (inset, z1)]
    else:
        layers = [(pts, z0), (pts, z1)]
    v = np.concatenate([np.column_stack([p, np.full(n, z)]) for p, z in layers])
    f = [_grid_quads(len(layers), n, True)]
    f.append(tri[:, ::-1])  # bottom looks down
    f.append(tri + (len(layers) - 1) * n)
    return _closed(v, np.concatenate(f))


# Axis permutations that put an extrusion's outline into a chosen plane.
_PLANES = {
    "xy": np.eye(3),                                            # outline (x, y), depth z
    "yz": np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float),   # outline (y, z), depth x
    "xz": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float),  # outline (x, z), depth -y
}


def extrude_in_plane(outline, plane: str, d0: float, d1: float, bevel: float = 0.0) -> TriMesh:
    """Extrude an outline drawn in 'xy', 'yz' (side profile, depth along x) or 'xz'
    (front profile, depth along -y) between depths d0 and d1."""
    m = extrude(outline, d0, d1, bevel)
    return m.transformed(_PLANES[plane])


def side_profile(outline_yz, width: float, bevel: float = 0.0, x_center: float = 0.0) -> TriMesh:
    """Side silhouette in (y, z) extruded symmetrically across x: car bodies, stocks, hulls."""
    return extrude_in_plane(outline_yz, "yz", x_center - 0.5 * width, x_center + 0.5 * width, bevel)


def front_profile(outline_xz, depth: float, bevel: float = 0.0, y_center: float = 0.0) -> TriMesh:
    """Front silhouette in (x, z) extruded symmetrically along y: sofa arms, bench ends."""
    m = extrude(outline_xz, -0.5 * depth, 0.5 * depth, bevel).transformed(_PLANES["xz"])
    return m.translated((0.0, y_center, 0.0))


def plate(outline_xy, thickness: float, z: float = 0.0, bevel: float = 0.0) -> TriMesh:
    """Horizontal slab of any outline with its underside at height z: table tops, bases."""
    return extrude(outline_xy, z, z + thickness, bevel)
