"""The scale stage's size cue: which extent of an object it measures against the priors."""

from __future__ import annotations

import numpy as np
import pytest

from splat2sim.stages.scale.run import _extent
from splat2sim.stages.scale.sizes import scale_from_sizes


def test_extent_prefers_the_robust_one_and_falls_back_to_the_box():
    obj = {"bbox_min": [0, 0, 0], "bbox_max": [3.0, 2.0, 1.0], "extent_robust": [2.0, 1.5, 0.9]}
    assert _extent(obj).tolist() == [2.0, 1.5, 0.9]
    del obj["extent_robust"]  # an objects.json written by another tool
    assert _extent(obj).tolist() == [3.0, 2.0, 1.0]
    assert _extent({"id": "x"}) is None


def test_strays_do_not_move_the_robust_size():
    # a 10-unit cube's surface points plus 2 % strays up to 5 units out: min/max grows by
    # up to 100 %, the 2-98 % extent by a few %
    rng = np.random.default_rng(0)
    surface = rng.uniform(0, 10, (2000, 3))
    surface[np.arange(2000), rng.integers(0, 3, 2000)] = rng.choice([0.0, 10.0], 2000)
    strays = rng.uniform(-5, 15, (40, 3))
    points = np.concatenate([surface, strays])
    robust = np.percentile(points, 98, axis=0) - np.percentile(points, 2, axis=0)
    assert np.all(np.abs(robust - 10) < 0.6)
    assert np.ptp(points, axis=0).max() > 15
    one = scale_from_sizes([("a", robust, None)])
    loose = scale_from_sizes([("a", np.ptp(points, axis=0), None)])
    assert one["scale"] / loose["scale"] == pytest.approx(np.ptp(points, axis=0).max() / robust.max())


def test_a_measured_scale_states_its_uncertainty():
    from splat2sim.artifacts.poses import World
    from splat2sim.stages.scale.run import MEASURED_SIGMA_FLOOR, measured_sigma

    def world(source: str, detail: dict) -> World:
        return World.from_dict({"units": "metres", "scale_source": source, "sim_from_sfm": {}, "support_plane": {},
                                "scale": {"value": 0.12, "source": source, **detail}})  # fmt: skip

    # views agreeing to 1 % (a MAD) still leave the floor: the error shared by all views
    assert measured_sigma(world("marker", {"pairwise_relative_mad": 0.01})) == MEASURED_SIGMA_FLOOR
    # views disagreeing by a MAD of 3 %: a sigma of 1.4826 x 3 %
    assert measured_sigma(world("marker", {"pairwise_relative_mad": 0.03})) == pytest.approx(0.0445, abs=1e-4)
    assert measured_sigma(world("known_length", {})) == MEASURED_SIGMA_FLOOR
    assert measured_sigma(world("marker", {"pairwise_relative_mad": float("nan")})) == MEASURED_SIGMA_FLOOR
    # a marker in 2 views: one pair, so a MAD of 0 says nothing; its square's sides 7.8 % apart
    # do (bench_objects seed 144, whose marker scale was 10.6 % off: inside 2 sigma now)
    two = {"pairwise_relative_mad": 0.0, "side_relative_spread": 0.078, "markers": {"0": {"views": 2}}}
    assert measured_sigma(world("marker", two)) == pytest.approx(0.078)
    # many views of a sharp marker: the floor
    many = {"pairwise_relative_mad": 0.002, "side_relative_spread": 0.0025, "markers": {"0": {"views": 20}}}
    assert measured_sigma(world("marker", many)) == MEASURED_SIGMA_FLOOR
