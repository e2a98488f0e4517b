"""The support rectangle (splat2sim.stages.mesh.support) on synthetic support layers with a
known table top, and the rectangle geometry it is written in (splat2sim.geometry.rectangle)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splat2sim.geometry.rectangle import canonical_yaw, convex_intersection, corners, inside, local_xy, polygon_area, rectangle_iou, world_xy
from splat2sim.stages.mesh.support import level_and_flat, support_rectangle

TABLE = {"center": [0.3, -0.2, 0.0], "size": [1.4, 0.9], "yaw": math.radians(20)}


def _room(rng, table=TABLE, wall_touching=False):
    """Background Gaussians of a table top (holes under two objects) in a room whose walls
    cross the table's height, a sideboard at that height apart from it, and the floor; and
    the objects' Gaussians seen from above."""
    top = world_xy(table, rng.uniform(-0.5, 0.5, (6000, 2)) * np.asarray(table["size"]))
    objects = world_xy(table, np.array([[0.2, 0.1], [-0.3, -0.15]]))
    free = np.all([np.linalg.norm(top - o, axis=1) > 0.06 for o in objects], axis=0)
    top = np.column_stack([top[free], rng.normal(0, 0.003, free.sum())])
    walls = []
    for x in (-3.0, 3.0):  # walls at +-3 m, from the floor (-0.75) to 1.5 m
        walls.append(np.column_stack([np.full(3000, x), rng.uniform(-3, 3, 3000), rng.uniform(-0.75, 1.5, 3000)]))
        walls.append(np.column_stack([rng.uniform(-3, 3, 3000), np.full(3000, x), rng.uniform(-0.75, 1.5, 3000)]))
    if wall_touching:  # a wall along the table's far long side
        edge = world_xy(table, np.column_stack([rng.uniform(-1.5, 1.5, 3000), np.full(3000, table["size"][1] / 2 + 0.01)]))
        walls.append(np.column_stack([edge, rng.uniform(-0.75, 1.5, 3000)]))
    sideboard = np.column_stack(
        [rng.uniform(1.6, 2.4, 1500), rng.uniform(1.4, 2.2, 1500), rng.normal(0, 0.003, 1500)]
    )  # 0.8 x 0.8 m, 0.6 m off the walls
    floor = np.column_stack([rng.uniform(-3, 3, (5000, 2)), np.full(5000, -0.75)])
    object_xy = np.concatenate([o + rng.normal(0, 0.02, (200, 2)) for o in objects])
    return np.concatenate([top, *walls, sideboard, floor]), object_xy


def _true_ring(table):
    return corners(table)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_table_under_the_objects_not_the_room(seed):
    rng = np.random.default_rng(seed)
    means, object_xy = _room(rng)
    rect = support_rectangle(means, 0.0, object_xy)
    score = rectangle_iou(rect, _true_ring(TABLE))
    # a uniform sampling of the top: the minimum-area rectangle of its points is within a
    # point spacing (~1.5 cm on 1.4 x 0.9 m) of the true one, so IoU > 0.95; the layer's
    # whole extent (the old rule) is the room, IoU ~0.1
    assert score["iou"] > 0.95, (rect, score)
    assert math.degrees(rect["yaw"]) == pytest.approx(20, abs=1.5)


def test_a_wall_along_the_table_is_not_taken_in():
    means, object_xy = _room(np.random.default_rng(3), wall_touching=True)
    rect = support_rectangle(means, 0.0, object_xy)
    # the wall's strip (1-2 grid cells wide) is opened away; what stays of it is its foot
    # within a cell of the table's edge: IoU > 0.85 (0.9 x 1.4 m top, 9 cm cells)
    assert rectangle_iou(rect, _true_ring(TABLE))["iou"] > 0.85, rect


def test_without_objects_the_largest_region_and_without_a_layer_none():
    means, _ = _room(np.random.default_rng(4))
    rect = support_rectangle(means, 0.0, np.zeros((0, 2)))
    assert rectangle_iou(rect, _true_ring(TABLE))["iou"] > 0.95
    assert support_rectangle(means[:10], 0.0, np.zeros((0, 2))) is None
    assert support_rectangle(np.zeros((0, 3)), 0.0, np.zeros((0, 2))) is None


def test_an_axis_aligned_table_keeps_yaw_zero_and_its_sides():
    table = {"center": [0.0, 0.0, 0.0], "size": [1.4, 0.9], "yaw": 0.0}
    means, object_xy = _room(np.random.default_rng(5), table=table)
    rect = support_rectangle(means, 0.0, object_xy)
    assert abs(rect["yaw"]) < math.radians(1.5)
    assert rect["size"][0] > rect["size"][1]


@pytest.mark.parametrize("turns", [-3, -2, -1, 1, 2, 3])
def test_canonical_yaw_is_the_same_rectangle(turns):
    plane = {"center": [0.2, 0.1, 0.0], "size": [1.0, 0.4], "yaw": 0.3 + turns * math.pi / 2}
    (sx, sy), yaw = canonical_yaw(plane["size"], plane["yaw"])
    assert -math.pi / 4 < yaw <= math.pi / 4
    same = {"center": plane["center"], "size": [sx, sy], "yaw": yaw}
    assert rectangle_iou(same, corners(plane))["iou"] == pytest.approx(1.0, abs=1e-9)


def test_local_and_world_frames_are_inverse_and_inside_uses_the_turn():
    plane = {"center": [0.5, -1.0, 0.0], "size": [2.0, 0.2], "yaw": math.pi / 4}
    pts = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_allclose(world_xy(plane, local_xy(plane, pts)), pts, atol=1e-12)
    along = world_xy(plane, [[0.9, 0.0]])
    across = np.asarray(plane["center"][:2]) + [0.9, 0.0]  # where the unturned long side would reach
    assert inside(plane, along)[0] and not inside(plane, across)[0]
    assert not inside(plane, along, margin=0.15)[0]


def test_convex_intersection_against_shapely():
    shapely = pytest.importorskip("shapely.geometry")
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = {"center": [*rng.normal(size=2), 0.0], "size": rng.uniform(0.2, 2, 2).tolist(), "yaw": float(rng.uniform(-3, 3))}
        b = {"center": [*rng.normal(size=2), 0.0], "size": rng.uniform(0.2, 2, 2).tolist(), "yaw": float(rng.uniform(-3, 3))}
        ours = convex_intersection(corners(a), corners(b))
        theirs = shapely.Polygon(corners(a)).intersection(shapely.Polygon(corners(b))).area
        assert (polygon_area(ours) if len(ours) >= 3 else 0.0) == pytest.approx(theirs, abs=1e-9)


def _facing(means, wall_axis):
    """Flat Gaussians (scales 2 cm, 2 cm, 2 mm) facing up, or along ``wall_axis`` (0: x, 1: y) where it is set."""
    n = len(means)
    log_scales = np.log(np.tile([0.02, 0.02, 0.002], (n, 1)))
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    h = math.sqrt(0.5)
    quats[wall_axis == 0] = [h, 0.0, h, 0.0]  # body z onto world x
    quats[wall_axis == 1] = [h, h, 0.0, 0.0]  # body z onto world -y
    return log_scales, quats


def test_level_and_flat():
    means = np.zeros((4, 3))
    log_scales, quats = _facing(means, np.array([-1, 0, 1, -1]))
    log_scales[3] = np.log([0.02, 0.02, 0.015])  # a blob: no normal to speak of
    assert level_and_flat(log_scales, quats).tolist() == [True, False, False, False]
    # a normal 30 degrees off vertical is level; 60 degrees is not; the smallest axis need not be the third
    tilt = lambda deg: [math.cos(math.radians(deg) / 2), math.sin(math.radians(deg) / 2), 0.0, 0.0]  # noqa: E731
    assert level_and_flat(np.log([[0.02, 0.02, 0.002]] * 2), np.array([tilt(30), tilt(60)])).tolist() == [True, False]
    assert level_and_flat(np.log([[0.002, 0.02, 0.02]]), np.array([[1.0, 0, 0, 0]])).tolist() == [False]


def test_a_wall_along_the_table_facing_sideways_is_left_out():
    means, object_xy = _room(np.random.default_rng(3), wall_touching=True)
    # walls: the Gaussians off the table's height band or far from the table stay as they
    # are; the ones that matter are the wall's foot along the table: they face sideways
    wall_axis = np.full(len(means), -1)
    vertical = np.abs(means[:, 2]) > 0.01  # every wall Gaussian except a few at the table's height
    wall_axis[vertical] = 0
    log_scales, quats = _facing(means, wall_axis)
    without = rectangle_iou(support_rectangle(means, 0.0, object_xy), _true_ring(TABLE))["iou"]
    with_level = rectangle_iou(support_rectangle(means, 0.0, object_xy, level=level_and_flat(log_scales, quats)), _true_ring(TABLE))["iou"]
    assert with_level > 0.93 and with_level >= without, (with_level, without)
