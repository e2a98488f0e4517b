"""splat/: the trained Gaussian splat."""

from __future__ import annotations

from splat2sim.artifacts.base import FileArtifact, JsonArtifact, Loose

STAGE = "splat"


GAUSSIANS = FileArtifact(STAGE, "gaussians.ply", "standard 3DGS PLY (splat2sim/io/gaussians_ply.py)", frame="world")
METRICS = JsonArtifact(STAGE, "metrics.json", 1, Loose, "training and held-out metrics")
