"""report/: the HTML report."""

from __future__ import annotations

from splat2sim.artifacts.base import FileArtifact

STAGE = "report"

INDEX = FileArtifact(STAGE, "index.html", "the report page (pictures beside it)")
