"""Simulator limits for convex decompositions.

* mujoco: MuJoCo takes any number of mesh geoms; each hull's vertex count drives contact
  cost (and mjMAXCONPAIR contacts per pair). 32 hulls of at most 64 vertices.
* physx: PhysX / Isaac GPU collision allows at most 64 vertices and 64 polygons per convex
  mesh; a triangulated hull of V vertices has up to 2V - 4 faces, so V <= 32 stays inside
  both limits. Isaac's own convex decomposition defaults to 32 hulls.
* bullet: btConvexHullShape has no hard cap, but pybullet's V-HACD defaults (64 vertices
  per hull) and its per-shape compound cost suggest 16 hulls of at most 48 vertices.

Which presets keep a mug's cavity open: all three with the default concavity
(bench/results/collision.json records the cavity test per preset on the procedural mug and
the YCB mug).
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, int]] = {
    "mujoco": {"max_hulls": 32, "max_vertices": 64},
    "physx": {"max_hulls": 32, "max_vertices": 32},
    "bullet": {"max_hulls": 16, "max_vertices": 48},
}


def limits(cfg) -> tuple[int, int]:
    """(max hulls, max vertices per hull) for a CollisionConfig."""
    preset = PRESETS[cfg.preset]
    return cfg.max_hulls or preset["max_hulls"], cfg.max_vertices or preset["max_vertices"]
