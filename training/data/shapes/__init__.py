"""Procedural stand-ins for the 13 ShapeNet categories used by Pixel2Mesh.

ShapeNet cannot be downloaded here, so training objects are generated: each category
module assembles closed primitives (see `mesh.py`) with proportions and sub-types
drawn from a seeded generator.  Usage:

    from training.data.shapes import CATEGORIES, generate, TriMesh
    mesh = generate("chair", seed=123)     # deterministic in (category, seed)

World +Z is up, the object stands on z = 0 centred on the Z axis, metres, front -Y.
"""
from __future__ import annotations

import numpy as np

from . import airplane, bench, cabinet, car, chair, display, lamp, loudspeaker, rifle, sofa, table, telephone, watercraft
from .mesh import TriMesh, subdivide

CATEGORIES: tuple[str, ...] = (
    "airplane", "bench", "cabinet", "car", "chair", "display", "lamp",
    "loudspeaker", "rifle", "sofa", "table", "telephone", "watercraft",
)

MIN_FACES = 300  # plain objects are subdivided up to at least this many triangles

_BUILDERS = {
    "airplane": airplane.build, "bench": bench.build, "cabinet": cabinet.build, "car": car.build,
    "chair": chair.build, "display": display.build, "lamp": lamp.build,
    "loudspeaker": loudspeaker.build, "rifle": rifle.build, "sofa": sofa.build,
    "table": table.build, "telephone": telephone.build, "watercraft": watercraft.build,
}


def generate(category: str, seed: int) -> TriMesh:
    """Build one object of `category`; identical (category, seed) give identical meshes.

    The category index is mixed into the seed so that seed k of two categories does
    not share its random draws.  The result is centred on the Z axis with its lowest
    point at z = 0, and has at least MIN_FACES triangles.
    """
    if category not in _BUILDERS:
        raise ValueError(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    rng = np.random.Generator(np.random.PCG64([seed, CATEGORIES.index(category)]))
    mesh = _BUILDERS[category](rng)
    while len(mesh.faces) < MIN_FACES:  # very plain objects: refine flat faces
        mesh = subdivide(mesh)
    lo, hi = mesh.bounds()
    return mesh.translated((-0.5 * (lo[0] + hi[0]), -0.5 * (lo[1] + hi[1]), -lo[2]))


__all__ = ["CATEGORIES", "TriMesh", "generate"]
