"""Filling a sparse SfM cloud with points back-projected from the training views."""

from __future__ import annotations

import numpy as np

from splat2sim.stages.splat.init import fill_from_views


def _look_at(centre, target):
    """world_from_camera [4,4] with OpenCV axes looking from centre at target (+z up world)."""
    z = target - centre
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], 1)
    T[:3, 3] = centre
    return T


def test_back_projected_points_lie_on_the_sparse_surface_and_take_pixel_colours():
    rng = np.random.default_rng(0)
    # sparse points on the plane z = 0 (a table), 1 m square
    sparse = np.c_[rng.uniform(-0.5, 0.5, (300, 2)), np.zeros(300)]
    h, w = 48, 64
    images = np.zeros((2, h, w, 3))
    images[0, :, :, 0] = 1.0  # view 0 red
    images[1, :, :, 2] = 1.0  # view 1 blue
    poses = np.stack([_look_at(np.array([0.0, -0.6, 0.5]), np.zeros(3)), _look_at(np.array([0.4, 0.5, 0.6]), np.zeros(3))])
    intrinsics = np.array([[50.0, 50.0, w / 2, h / 2]] * 2)
    points, colours, stats = fill_from_views(sparse, images, poses, intrinsics, [0, 1], 500, np.random.default_rng(1))
    assert points.shape == (500, 3) and colours.shape == (500, 3) and stats["views_used"] == 2
    # every new point sits on the plane (inverse depths interpolated from points on it; the
    # error grows towards grazing angles, and would reach ~0.1 m if the cloud's edge were
    # extrapolated)
    assert np.median(np.abs(points[:, 2])) < 0.005 and np.abs(points[:, 2]).max() < 0.04
    assert np.abs(points[:, :2]).max() < 0.55  # inside the sparse cloud: no extrapolation
    # and its colour is the pixel's: red from view 0 or blue from view 1, half each
    red, blue = colours[:, 0] == 1.0, colours[:, 2] == 1.0
    assert (red ^ blue).all() and 150 < red.sum() < 350
    # deterministic from the generator
    again, _, _ = fill_from_views(sparse, images, poses, intrinsics, [0, 1], 500, np.random.default_rng(1))
    np.testing.assert_array_equal(points, again)


def test_views_that_see_no_sparse_points_are_skipped():
    sparse = np.c_[np.random.default_rng(0).uniform(-0.5, 0.5, (100, 2)), np.zeros(100)]
    away = _look_at(np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 2.0]))  # looking up, away from the table
    points, _, stats = fill_from_views(sparse, np.zeros((1, 8, 8, 3)), away[None], np.array([[8.0, 8.0, 4.0, 4.0]]), [0], 50,
                                       np.random.default_rng(0))  # fmt: skip
    assert len(points) == 0 and stats == {"views_used": 0, "views_skipped": 1}
