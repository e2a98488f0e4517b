"""mesh/: visual meshes per object (object frame), the background, the support plane."""

from __future__ import annotations

from dataclasses import dataclass, field

from splat2sim.artifacts.base import Document, FileArtifact, JsonArtifact

STAGE = "mesh"


@dataclass
class MeshIndex(Document):
    objects: list  # [{id, label, visual, world_from_object, watertight, volume, ..., inertia_unit_density}]
    support_plane: dict = field(default_factory=dict)
    background: dict | None = None
    units: str = "metres"


MESH = JsonArtifact(STAGE, "mesh.json", 1, MeshIndex, "per object: visual mesh, world_from_object, volume, inertia", frame="metric")
OBJECT_VISUAL = FileArtifact(STAGE, "objects/{id}/visual.obj", "an object's visual mesh (+ .mtl/.png)", frame="object")
BACKGROUND_VISUAL = FileArtifact(STAGE, "background/visual.obj", "the static background mesh", frame="metric")
