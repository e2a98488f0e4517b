"""Objects lying flat (segment.flat) on made-up support layers: a region raised above the
support AND of another colour is an object; a printed marker (coloured, not raised), a
bump of the support's own colour (raised, not coloured), a region at the support's edge
and a region by a standing object are not."""

from __future__ import annotations

import numpy as np

from splat2sim.stages.segment.flat import lying_flat
from splat2sim.stages.segment.support import SupportRegion

MARGIN = 0.02  # the support layer's height margin (m)
SPACING = 0.0125  # cells are 2x this: 2.5 cm, as on CPU-preset splats of a table 1 m across
TABLE_RGB = np.array([0.58, 0.44, 0.30])


def _table(rng, count=60000, half=0.5):
    """A support layer: Gaussians spread 5 mm in height (a CPU splat's blur) and a grain of
    +-0.05 in colour."""
    xy = rng.uniform(-half, half, (count, 2))
    return np.c_[xy, rng.normal(0, 0.005, count)], np.clip(TABLE_RGB + rng.normal(0, 0.05, (count, 3)), 0, 1)


def _disc(means, rgb, centre, radius, dz=0.0, colour=None):
    """Raise by ``dz`` and recolour the layer's Gaussians within ``radius`` of ``centre``."""
    inside = np.linalg.norm(means[:, :2] - centre, axis=1) < radius
    means[inside, 2] += dz
    if colour is not None:
        rgb[inside] = np.clip(np.asarray(colour) + np.random.default_rng(9).normal(0, 0.03, (inside.sum(), 3)), 0, 1)
    return inside


def _run(means, rgb, labels=None):
    labels = np.full(len(means), -1) if labels is None else labels
    support = SupportRegion.of(means, MARGIN, 2 * SPACING)
    return lying_flat(means, rgb, labels, np.ones(len(means)), MARGIN, support)


def test_a_plate_is_found_and_a_marker_and_a_bump_are_not():
    rng = np.random.default_rng(0)
    means, rgb = _table(rng)
    plate = _disc(means, rgb, (0.15, 0.1), 0.09, dz=0.008, colour=(0.9, 0.9, 0.88))  # 8 mm up, white
    _disc(means, rgb, (-0.2, -0.15), 0.06, colour=(0.1, 0.1, 0.1))  # a printed marker: dark, at the support's height
    _disc(means, rgb, (-0.2, 0.2), 0.08, dz=0.008)  # a bump of the support's own colour
    found, stats = _run(means, rgb)
    assert len(found) == 1, stats
    share_on_plate = plate[found[0].indices].mean()
    assert share_on_plate > 0.9 and found[0].raised_z > 2 and found[0].colour_z > 3
    assert "lying flat" in found[0].note()


def test_a_flat_region_at_the_edge_or_by_a_standing_object_is_not_an_object():
    rng = np.random.default_rng(1)
    means, rgb = _table(rng)
    _disc(means, rgb, (0.49, 0.0), 0.09, dz=0.008, colour=(0.9, 0.9, 0.88))  # over the support's edge
    labels = np.full(len(means), -1)
    skirt = _disc(means, rgb, (-0.1, -0.1), 0.05, dz=0.008, colour=(0.2, 0.2, 0.6))  # a standing object's skirt ...
    can = np.c_[rng.normal(-0.1, 0.02, (500, 2)), rng.uniform(0.02, 0.12, 500)]  # ... around the object itself
    means, rgb = np.concatenate([means, can]), np.concatenate([rgb, np.tile([0.2, 0.2, 0.6], (500, 1))])
    labels = np.concatenate([labels, np.zeros(500, int)])
    found, stats = _run(means, rgb, labels)
    assert found == [], [f.note() for f in found]
    assert any(r["reason"].startswith("touches the support's edge") for r in stats["rejected"])
    assert skirt.any()
