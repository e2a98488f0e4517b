"""The geometric segmentation across several synthetic seeds (2-5 objects drawn by the seed,
apart or some touching), on oracle workspaces: the right object count when apart, 3D IoU of
each ground-truth object's Gaussians >= 0.85, visible background not assigned (< 1 %),
merges recorded.
Slow: one capture and oracle workspace per seed (`make test-all`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.stages.test_segment import match_iou, run_segment

os.environ.setdefault("OMP_NUM_THREADS", "1")

pytestmark = pytest.mark.slow


def _under_objects(ws: Path, owner: np.ndarray) -> np.ndarray:
    """[N] bool: background Gaussians on the table under an object's contact patch (the
    convex outline of its lowest 5 mm). The oracle splat samples the table there too, but no
    camera sees it; segment gives that hidden table to the object (its closed bottom)."""
    from scipy.spatial import Delaunay

    from splat2sim.io.gaussians_ply import read_gaussians_ply

    means = read_gaussians_ply(ws / "splat" / "gaussians.ply")["means"]
    out = np.zeros(len(owner), bool)
    table = (owner == -1) & (np.abs(means[:, 2]) < 0.003)
    for g in range(int(owner.max()) + 1):
        own = means[owner == g]
        low = own[own[:, 2] < own[:, 2].min() + 0.005, :2]
        if len(low) >= 4:
            out |= table & (Delaunay(low).find_simplex(means[:, :2]) >= 0)
    return out


def _background_taken(ws: Path, labels: np.ndarray, owner: np.ndarray) -> float:
    """Share of the visible background Gaussians given to some object."""
    visible_bg = (owner == -1) & ~_under_objects(ws, owner)
    return float((visible_bg & (labels >= 0)).sum() / visible_bg.sum())


def _seed_workspace(root: Path, seed: int, touching: bool) -> Path:
    from splat2sim.synth import SynthConfig, generate_capture
    from splat2sim.synth.oracle import oracle_workspace

    cap = root / "cap"
    generate_capture(cap, SynthConfig(seed=seed, width=320, height=240, duration_s=2, touching=touching))
    return oracle_workspace(cap, root / "ws")


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_objects_apart_across_seeds(tmp_path, seed):
    ws = _seed_workspace(tmp_path, seed, touching=False)
    doc, labels, _ = run_segment(ws, "segment.method=geometric", "segment.labels=none")
    owner = np.load(ws / "_imports" / "owner.npy")
    truth = int(owner.max()) + 1
    assert 2 <= truth <= 5
    assert len(doc["objects"]) == truth, (seed, [o["gaussians"] for o in doc["objects"]])
    ious = match_iou(labels, owner)
    assert min(ious.values()) >= 0.85, (seed, ious)
    assert _background_taken(ws, labels, owner) < 0.01, seed


@pytest.mark.parametrize(
    "seed",
    [
        21,
        pytest.param(
            22,
            marks=pytest.mark.xfail(
                strict=True,
                reason="a box and a bowl touch (the bowl's rim against the box's side): their joint footprint has no neck "
                "and the height map no saddle below the rim, so the geometric method merges them without a flag (the "
                "segment-anything path splits such pairs)",
            ),
        ),
    ],
)
def test_touching_objects_across_seeds(tmp_path, seed):
    ws = _seed_workspace(tmp_path, seed, touching=True)
    doc, labels, _ = run_segment(ws, "segment.method=geometric", "segment.labels=none")
    owner = np.load(ws / "_imports" / "owner.npy")
    truth = int(owner.max()) + 1
    if len(doc["objects"]) < truth:  # touching objects may merge, and then it is said
        assert any(o["merged"] for o in doc["objects"]), seed
    else:
        assert min(match_iou(labels, owner).values()) >= 0.85, seed
    # every ground-truth object is inside some object label (none is lost to the background)
    for g in range(truth):
        assert (labels[owner == g] >= 0).mean() > 0.85, (seed, g)
    assert _background_taken(ws, labels, owner) < 0.01, seed
