"""check/: every format loaded and settled; repairs."""

from __future__ import annotations

from splat2sim.artifacts.base import JsonArtifact, Loose

STAGE = "check"

CHECK = JsonArtifact(STAGE, "check.json", 1, Loose, "per format: loaded, settled, drift; repairs; the scene checked; SimReady verdict per prop")
CHECKED_SCENE = JsonArtifact(STAGE, "scene.json", 1, Loose, "the repaired scene when check repaired one", frame="metric")
