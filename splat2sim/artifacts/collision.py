"""collision/: convex collision hulls per object (object frame)."""

from __future__ import annotations

from dataclasses import dataclass

from splat2sim.artifacts.base import Document, FileArtifact, JsonArtifact

STAGE = "collision"


@dataclass
class Collision(Document):
    objects: list  # [{id, hulls [{file, vertices, volume}], hull_count, hull_volume, mesh_volume, method, ...}]
    preset: str = "mujoco"


COLLISION = JsonArtifact(STAGE, "collision.json", 1, Collision, "hull files and quality per object", frame="object")
HULL = FileArtifact(STAGE, "objects/{id}/hull_{k:03d}.obj", "one closed convex hull", frame="object")
