"""Which clusters are objects: the evidence rules of segment.geometric._rejection on small
made-up scenes (a support layer of Gaussians and one cluster on it)."""

from __future__ import annotations

import numpy as np
import pytest

from splat2sim.stages.segment.config import SegmentConfig
from splat2sim.stages.segment.geometric import _rejection, over_footprint
from splat2sim.stages.segment.support import SupportRegion

MARGIN = 0.01  # height margin (m): twice this is the "flat patch" height
SPACING = 0.01


def _table(rng, half=0.5, count=10000):
    return np.c_[rng.uniform(-half, half, (count, 2)), rng.normal(0, 0.002, count)]


def _judge(cluster, means, standing=None):
    support = SupportRegion.of(means, MARGIN, 2 * SPACING)
    return _rejection(cluster, means, MARGIN, SPACING, 1.0, SegmentConfig(), support, standing)


@pytest.fixture
def plate_scene():
    """A plate 15 mm high: a disc of Gaussians between 11 and 15 mm, its top below 2 margins."""
    rng = np.random.default_rng(0)
    r, a = 0.09 * np.sqrt(rng.uniform(0, 1, 800)), rng.uniform(0, 2 * np.pi, 800)
    plate = np.c_[r * np.cos(a), r * np.sin(a), rng.uniform(0.011, 0.015, 800)]
    table = _table(rng)
    return plate, np.concatenate([table, plate])


def test_a_low_cluster_is_a_flat_patch_whatever_the_views_say(plate_scene):
    """Standing in the views' height map is recorded, not trusted: the table's blurred edge
    stands there as much as a plate does (hard capture 200)."""
    plate, means = plate_scene
    reason, _ = _judge(plate, means)
    assert reason["reason"] == "flat patch on the support surface" and "standing_share" not in reason
    reason, _ = _judge(plate, means, standing=0.8)
    assert reason["reason"] == "flat patch on the support surface" and reason["standing_share"] == 0.8


def test_a_sparse_cluster_is_a_blur():
    """40 Gaussians over a 16 cm footprint: far sparser than the support (10000 over 1 m2)."""
    rng = np.random.default_rng(1)
    blur = np.c_[rng.uniform(-0.08, 0.08, (40, 2)), rng.uniform(0.03, 0.06, 40)]
    means = np.concatenate([_table(rng), blur])
    reason, _ = _judge(blur, means)
    assert reason["reason"].startswith("sparser over its footprint")


def test_a_stray_or_two_beyond_the_edge_does_not_reject_an_object_near_it():
    rng = np.random.default_rng(2)
    table = _table(rng)
    ball = np.c_[rng.normal(0.43, 0.015, (90, 2)), rng.uniform(0.02, 0.06, 90)]  # 7 cm from the edge at x = 0.5
    ball = np.clip(ball, -0.44, 0.44)
    stray = np.array([[0.56, 0.43, 0.03]])  # one Gaussian of its blur past the edge
    reason, notes = _judge(np.concatenate([ball, stray]), np.concatenate([table, ball, stray]))
    assert reason is None and notes == ["1 of its Gaussians lie past the support's edge (a stray or two of its blur: kept)"]
    over = np.c_[rng.uniform(0.45, 0.6, (10, 1)), rng.uniform(0.4, 0.46, (10, 1)), rng.uniform(0.02, 0.06, 10)]
    reason, _ = _judge(np.concatenate([ball, over]), np.concatenate([table, ball, over]))
    assert reason["reason"].startswith("reaches the support's edge")


def test_over_footprint_reads_footprints_not_skirts():
    grid = np.array([[0, 1, 1], [-1, 2, 0]], np.int32)
    points = np.array([[0.5, 1.5, 0], [1.5, 0.5, 0], [1.5, 1.5, 0], [0.5, 0.5, 0], [5.0, 5.0, 0], [-1.0, 0.5, 0]])
    assert over_footprint(points, grid, np.zeros(2), 1.0).tolist() == [True, False, True, False, False, False]


def test_a_small_ball_below_two_margins_stands():
    """A 4 cm ball next to a 2 cm height margin (hard capture 202): its top is under two
    margins, but it is as high as it is wide, so it is not a flat patch. A patch of the same
    height but three times as wide still is."""
    rng = np.random.default_rng(3)
    d = rng.normal(size=(300, 3))
    ball = 0.02 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0.1, 0.1, 0.019]  # top at 3.9 cm
    means = np.concatenate([_table(rng), ball])
    small = SupportRegion.of(means, 0.02, 2 * SPACING)
    reason, notes = _rejection(ball, means, 0.02, SPACING, 1.0, SegmentConfig(), small)
    assert reason is None and any("as high as it is wide" in n for n in notes)
    patch = np.c_[rng.uniform(-0.06, 0.06, (300, 2)), rng.uniform(0.02, 0.039, 300)]  # 12 cm wide, same top
    reason, _ = _rejection(patch, np.concatenate([_table(rng), patch]), 0.02, SPACING, 1.0, SegmentConfig(), small)
    assert reason["reason"] == "flat patch on the support surface"
