"""segment/: objects split from the background."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.artifacts.base import ArtifactError, Document, FileArtifact, JsonArtifact, rerun_hint

STAGE = "segment"


@dataclass
class Objects(Document):
    objects: list  # [{id, index, label, label_score, gaussians, centroid, bbox_min, bbox_max, extent_robust, support, merged, notes, lying_flat, confidence, ...}]
    method: str = "geometric"
    label_source: str = "none"
    support_plane: dict = field(default_factory=dict)


OBJECTS = JsonArtifact(STAGE, "objects.json", 1, Objects, "objects with labels, bounding boxes and flags", frame="world")
LABELS = FileArtifact(STAGE, "gaussian_labels.npy", "int32 [N] per splat Gaussian: -1 background, k >= 0 object index")


def read_labels(stage_dir: Path, count: int | None = None) -> np.ndarray:
    """gaussian_labels.npy, checked against the splat's Gaussian count when given."""
    path = LABELS.require(stage_dir)
    labels = np.load(path)
    if labels.ndim != 1 or (count is not None and len(labels) != count):
        raise ArtifactError(f"segment/{LABELS.file} has shape {labels.shape}, the splat has {count} Gaussians",
                            hint=rerun_hint(STAGE))  # fmt: skip
    return labels.astype(np.int32)
