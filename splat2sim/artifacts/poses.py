"""poses/: cameras, the world frame (gravity, origin, metric scale when known), sparse points."""

from __future__ import annotations

from dataclasses import dataclass, field

from splat2sim.artifacts.base import Document, FileArtifact, JsonArtifact

STAGE = "poses"
UNITS_METRIC = "metres"
UNITS_SFM = "unknown (SfM units)"


@dataclass
class Cameras(Document):
    intrinsics: dict
    frames: list  # [{file, registered, camera, world_from_camera (4x4 OpenCV axes) | None}]
    cameras: list = field(default_factory=list)
    units: str = UNITS_METRIC  # "metres" or "unknown (SfM units)": see scale/scale.json

    def registered(self) -> list[dict]:
        return [f for f in self.frames if f.get("registered") and f.get("world_from_camera") is not None]


@dataclass
class World(Document):
    units: str
    scale_source: str  # marker | known_length | imported_metric | unknown
    sim_from_sfm: dict
    support_plane: dict

    @property
    def metric(self) -> bool:
        return self.scale_source != "unknown"


CAMERAS = JsonArtifact(STAGE, "cameras.json", 1, Cameras, "intrinsics and world_from_camera per keyframe", frame="world")
WORLD = JsonArtifact(STAGE, "world.json", 1, World, "sim_from_sfm, units, scale source, support plane", frame="world")
POINTS = FileArtifact(STAGE, "points3d.ply", "sparse SfM points (x y z red green blue)", frame="world")
SPARSE = FileArtifact(STAGE, "sparse", "COLMAP binary model of the final reconstruction", frame="world")
