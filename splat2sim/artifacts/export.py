"""export/: the simulator-neutral scene.json, the simulator files made from it, the cameras."""

from __future__ import annotations

from dataclasses import dataclass, field

from splat2sim.artifacts.base import Document, FileArtifact, JsonArtifact, Loose

STAGE = "export"


@dataclass
class ExportCameras(Document):
    """The filmed keyframes' cameras in the exported (metric) world, so a user can render the
    simulator from the viewpoints the video was taken from."""

    intrinsics: dict
    frames: list  # [{name, file, camera, world_from_camera (4x4, OpenCV axes: x right, y down, z forward)}]
    cameras: list = field(default_factory=list)
    units: str = "metres"
    camera_axes: str = "opencv: x right, y down, z forward"


SCENE = JsonArtifact(STAGE, "scene.json", 1, Loose, "the scene: bodies, poses, inertials, contacts, ranges (splat2sim.scene.model)", frame="metric")
CAMERAS = JsonArtifact(
    STAGE, "cameras.json", 1, ExportCameras, "keyframe cameras in the scene's frame (intrinsics, world_from_camera)", frame="metric"
)
SIMULATOR_FILES = FileArtifact(
    STAGE,
    "{format}/...",
    "MJCF (mjcf/scene.xml, with a `<camera>` per keyframe of cameras.json), URDF, USD (usd/scene.usda composing one SimReady prop per object, usd/props/), SDFormat",
    frame="metric",
)


def read_scene(stage_dir):
    """scene.json as a splat2sim.scene.model.Scene (its loader checks the version)."""
    from splat2sim.scene.model import load_scene

    return load_scene(SCENE.path(stage_dir))
