"""physics/: material, mass, inertia, friction, restitution per object, with ranges."""

from __future__ import annotations

from dataclasses import dataclass

from splat2sim.artifacts.base import Document, JsonArtifact, Loose

STAGE = "physics"


@dataclass
class Physics(Document):
    objects: list  # [{id, label, material, density, mass, center_of_mass, inertia, friction, restitution, source, ...}]


PHYSICS = JsonArtifact(STAGE, "physics.json", 1, Physics, "physical properties per object (object frame, SI units)", frame="object")
VLM_LOG = JsonArtifact(STAGE, "vlm_log.json", 1, Loose, "the VLM requests of this run (no secrets)")
