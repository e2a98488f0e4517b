"""variants/: domain-randomized scenes."""

from __future__ import annotations

from splat2sim.artifacts.base import JsonArtifact, Loose

STAGE = "variants"

VARIANTS = JsonArtifact(STAGE, "variants.json", 1, Loose, "seed, count and each variant's draws and check", frame="metric")
