"""scale/: the metric scale of the world, decided once, and the one converter into it.

poses/, splat/ and segment/ are written before object sizes can give a scale, so when poses
found no marker or known length they stay in poses' world units (their ``units`` field says
so). From ``scale`` on every artifact is metric: stages read upstream world-frame geometry
through ``MetricFrame``, which is the only place the factor is applied.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from splat2sim.artifacts.base import Document, JsonArtifact, require_finite

STAGE = "scale"


@dataclass
class Scale(Document):
    scale: float  # metres per world unit of poses' frame (1.0 when poses were metric)
    source: str  # marker | known_length | imported_metric | prior:<cue>+<cue> | user | unknown
    poses_metric: bool
    range: list = field(default_factory=list)  # [low, high], about 95 %
    log_sigma: float | None = None
    cues: dict = field(default_factory=dict)  # per cue: its scale, log_sigma, weight; + skipped {cue: why}, disagreement
    per_object: dict = field(default_factory=dict)
    note: str = ""


SCALE = JsonArtifact(STAGE, "scale.json", 1, Scale, "metres per world unit, its range and the cues behind it")


@dataclass(frozen=True)
class MetricFrame:
    """Converts world-frame (poses' units) geometry into the metric world frame: a uniform
    scale about the world origin (which lies on the support plane, so z = 0 stays the table)."""

    scale: float = 1.0

    @classmethod
    def from_doc(cls, doc: Scale) -> "MetricFrame":
        require_finite("scale/scale.json's scale", doc.scale, STAGE)
        if doc.scale <= 0:
            from splat2sim.errors import StageError

            raise StageError(f"scale/scale.json's scale is {doc.scale}, not positive", hint="re-run the 'scale' stage")
        return cls(float(doc.scale))

    @property
    def identity(self) -> bool:
        return self.scale == 1.0

    def points(self, xyz):
        """[..., 3] positions (or lengths) -> metres."""
        return np.asarray(xyz, np.float64) * self.scale

    def matrix(self, world_from_x):
        """A 4x4 rigid transform whose target is the world frame -> the same with metric translation."""
        T = np.array(world_from_x, np.float64)
        T[:3, 3] *= self.scale
        return T

    def cameras(self, cameras):
        """poses' Cameras document (or dict) -> a copy with metric world_from_camera."""
        from splat2sim.artifacts.poses import UNITS_METRIC, Cameras

        doc = copy.deepcopy(cameras.to_dict() if isinstance(cameras, Cameras) else cameras)
        for f in doc["frames"]:
            if f.get("world_from_camera") is not None:
                f["world_from_camera"] = self.matrix(f["world_from_camera"]).tolist()
        doc["units"] = UNITS_METRIC
        return Cameras.from_dict(doc) if isinstance(cameras, Cameras) else doc

    def gaussians(self, means, log_scales):
        """Splat centres [N, 3] and log-scales [N, 3] -> metric ones (rotations, opacities and
        colours do not change under a uniform scale)."""
        return np.asarray(means) * self.scale, np.asarray(log_scales) + math.log(self.scale)

    def objects(self, objects):
        """segment's Objects -> a copy with metric centroids and bounding boxes."""
        from splat2sim.artifacts.segment import Objects

        doc = copy.deepcopy(objects.to_dict() if isinstance(objects, Objects) else objects)
        plane = doc.get("support_plane") or {}
        for key in ("offset", "layer_thickness", "height_margin"):
            if isinstance(plane.get(key), (int, float)):
                plane[key] = float(plane[key]) * self.scale
        for o in doc["objects"]:
            for key in ("centroid", "bbox_min", "bbox_max", "extent_robust"):
                if o.get(key) is not None:
                    o[key] = self.points(o[key]).tolist()
        return Objects.from_dict(doc) if isinstance(objects, Objects) else doc
