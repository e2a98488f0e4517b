"""frames/: the keyframes chosen from the video or image folder."""

from __future__ import annotations

from dataclasses import dataclass

from splat2sim.artifacts.base import Document, FileArtifact, JsonArtifact

STAGE = "frames"


@dataclass
class Frames(Document):
    source: dict
    image_size: dict  # {width, height}
    frames: list  # [{file, source_index, time_s?, sharpness, motion_from_start}]


FRAMES = JsonArtifact(STAGE, "frames.json", 1, Frames, "keyframe list: files, source indices, sharpness, motion")
IMAGES = FileArtifact(STAGE, "{file}", "keyframe images (JPEG/PNG) named by frames.json", frame="image")
