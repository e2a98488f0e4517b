"""The scale stage's weak cues without a marker: the camera's distance to what it frames,
and the fusion of independent cues into one scale with a range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splat2sim.stages.scale.camera import camera_distance_cue, focus_point
from splat2sim.stages.scale.fuse import fuse_cues
from splat2sim.synth.trajectory import look_at, orbit


def handheld(units_per_metre: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """synth's handheld orbit (0.75 m out, 0.45 m up, 120 degrees, hand shake) around a
    scene centre, in a world whose unit is 1 / units_per_metre metres; and that centre."""
    centre = np.array([0.1, -0.2, 0.04])
    views = orbit(np.random.default_rng(seed), centre, 30, 10.0, 0.75, 0.45, 120.0, 1.0)
    views[:, :3, 3] *= units_per_metre
    return views, centre * units_per_metre


def test_the_focus_is_where_a_handheld_orbit_aims():
    views, centre = handheld()
    point, why = focus_point(views[:, :3, 3], views[:, :3, 2])
    # the aim wobbles 6 mm (RMS) about the centre (synth.trajectory's hand shake): the least
    # squares point of 30 axes lands within a few mm of it
    assert why == "" and np.linalg.norm(point - centre) < 0.006


def test_the_camera_cue_measures_the_distance_in_world_units():
    for units_per_metre in (1.0, 7.3):  # a marker-less SfM world has an arbitrary unit
        views, centre = handheld(units_per_metre)
        cue = camera_distance_cue(list(views), 0.7, (0.35, 1.4))
        true = float(np.median(np.linalg.norm(views[:, :3, 3] - centre, axis=1)))
        assert cue["distance_units"] == pytest.approx(true, rel=0.01)  # the focus is within mm of the centre
        assert cue["scale"] == pytest.approx(0.7 / cue["distance_units"])
        # so the cue's error is only the prior's: 0.7 m against this orbit's 0.8-0.95 m (0.75 m
        # out, 0.41 m up, the radius wobbling 6 %)
        assert 0.7 / 0.95 < cue["scale"] * units_per_metre < 0.7 / 0.8
        assert cue["log_sigma"] == pytest.approx(math.log(4) / 4)  # a factor of 2 either way is 2 sigma


def test_views_that_do_not_converge_give_no_camera_cue():
    # a camera sliding sideways, always looking the same way (a scan of a shelf)
    slide = [look_at(np.array([x, 0.0, 0.5]), np.array([x, 1.0, 0.5])) for x in np.linspace(0, 1, 10)]
    assert "nearly one direction" in camera_distance_cue(slide, 0.7, (0.35, 1.4))["skipped"]
    # a ring of cameras looking outwards (standing in a room, turning around)
    ring = [look_at(np.array([math.cos(a), math.sin(a), 0.5]), np.array([3 * math.cos(a), 3 * math.sin(a), 0.5]))
            for a in np.linspace(0, 2 * math.pi, 12, endpoint=False)]  # fmt: skip
    assert "do not converge in front" in camera_distance_cue(ring, 0.7, (0.35, 1.4))["skipped"]
    assert "at least 3" in camera_distance_cue(slide[:2], 0.7, (0.35, 1.4))["skipped"]


def test_fusion_weights_cues_by_their_uncertainty():
    fused = fuse_cues({"a": {"scale": 1.0, "log_sigma": 0.2}, "b": {"scale": 1.2, "log_sigma": 0.2}})
    assert fused["scale"] == pytest.approx(math.sqrt(1.2))  # equal sigmas: the geometric mean
    assert fused["weights"] == {"a": 0.5, "b": 0.5}
    # they agree within their sigmas (chi2 per dof 0.83): the sigma shrinks by sqrt(2), unwidened
    assert fused["log_sigma"] == pytest.approx(0.2 / math.sqrt(2)) and fused["disagreement"]["sigma_widened_by"] == 1.0
    tight = fuse_cues({"a": {"scale": 1.0, "log_sigma": 0.1}, "b": {"scale": 2.0, "log_sigma": 0.3}})
    assert tight["weights"]["a"] == pytest.approx(0.9) and tight["scale"] == pytest.approx(2.0**0.1)
    assert fuse_cues({}) is None and fuse_cues({"a": {"skipped": "why"}}) is None
    only = fuse_cues({"a": {"scale": 0.5, "log_sigma": 0.3}})
    assert only["scale"] == 0.5 and only["log_sigma"] == 0.3 and only["disagreement"]["chi2_per_dof"] is None


def test_cues_that_disagree_widen_the_range_to_hold_both():
    # a factor e apart with sigmas of 0.1: chi2 = 50 for one degree of freedom
    fused = fuse_cues({"a": {"scale": 1.0, "log_sigma": 0.1}, "b": {"scale": math.e, "log_sigma": 0.1}})
    assert fused["disagreement"]["chi2_per_dof"] == pytest.approx(50.0)
    assert fused["log_sigma"] == pytest.approx(0.1 / math.sqrt(2) * math.sqrt(50))
    assert fused["range"][0] < 1.0 and fused["range"][1] > math.e
