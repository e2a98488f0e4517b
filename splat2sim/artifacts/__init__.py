"""The artifacts every stage writes for the next ones, declared in code (see base.py).

    from splat2sim.artifacts import poses
    cams = ctx.read(poses.CAMERAS)          # in a stage: checks the declared upstream list
    poses.CAMERAS.write(ctx.out_dir, cams)  # stamps schema_version

``ALL`` lists every declared artifact in stage order; docs/ARTIFACTS.md's table is made from
it (``python -m splat2sim.artifacts.docs``) and a test keeps the two equal.
"""

from __future__ import annotations

from splat2sim.artifacts import check, collision, export, frames, mesh, physics, poses, report, scale, segment, splat, variants
from splat2sim.artifacts.base import ArtifactError, Document, FileArtifact, JsonArtifact, Loose

MODULES = (frames, poses, splat, segment, scale, mesh, collision, physics, export, check, variants, report)
ALL: tuple = tuple(value for module in MODULES for value in vars(module).values() if isinstance(value, (JsonArtifact, FileArtifact)))

__all__ = ["ALL", "ArtifactError", "Document", "FileArtifact", "JsonArtifact", "Loose", *[m.__name__.rsplit(".", 1)[1] for m in MODULES]]
