"""Physics crops avoid views where another object hides the object."""

from __future__ import annotations

import numpy as np
import pytest

from splat2sim.stages.physics.run import object_crops, visible_fraction


def _look_at(centre, target):
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    t = np.eye(4)
    t[:3, :3] = np.stack([x, np.cross(z, x), z], 1)
    t[:3, 3] = centre
    return t


def _ball(centre, radius, n=600, seed=0):
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return np.asarray(centre) + radius * d / np.linalg.norm(d, axis=1, keepdims=True)


K = {"fx": 200.0, "fy": 200.0, "cx": 80.0, "cy": 60.0, "width": 160, "height": 120}
TARGET = np.array([0.0, 0.0, 0.05])
ANGLES = np.linspace(0, 2 * np.pi, 8, endpoint=False)
POSES = [_look_at(TARGET + [0.6 * np.cos(a), 0.6 * np.sin(a), 0.25], TARGET) for a in ANGLES]
OWN = _ball(TARGET, 0.05)
# a bigger ball between the object and camera 0
BLOCKER = _ball(TARGET + 0.25 * np.array([np.cos(ANGLES[0]), np.sin(ANGLES[0]), 0.4]), 0.07, seed=1)


def test_visible_fraction_sees_a_ball_hidden_behind_another():
    assert visible_fraction(OWN, BLOCKER, POSES[0], K) < 0.3
    assert visible_fraction(OWN, BLOCKER, POSES[4], K) == 1.0  # from the far side the blocker is behind it
    assert visible_fraction(OWN, np.zeros((0, 3)), POSES[0], K) == 1.0
    # the blocker itself is never hidden by the ball behind it
    assert visible_fraction(BLOCKER, OWN, POSES[0], K) > 0.95


def test_crops_skip_views_where_the_object_is_hidden(tmp_path):
    cv2 = pytest.importorskip("cv2")
    (tmp_path / "images").mkdir()
    frames = []
    for i, pose in enumerate(POSES):
        cv2.imwrite(str(tmp_path / "images" / f"f{i}.jpg"), np.full((120, 160, 3), 40 * (i % 6), np.uint8))
        frames.append({"file": f"images/f{i}.jpg", "registered": True, "world_from_camera": pose.tolist()})
    cameras = {"intrinsics": K, "frames": frames}
    lo, hi = OWN.min(0), OWN.max(0)
    blind = object_crops(tmp_path, cameras, lo, hi, 4, 64)
    assert len(blind[2]) == 4 and blind[3] == [1.0] * 4 and "images/f0.jpg" in blind[2]  # spread evenly, 0 included
    _, jpegs, files, visible = object_crops(tmp_path, cameras, lo, hi, 4, 64, own=OWN, others=BLOCKER)
    assert len(jpegs) == 4 and "images/f0.jpg" not in files and min(visible) >= 0.8
    # asking for every view: the hidden one is used too, and its visibility says so
    _, _, files, visible = object_crops(tmp_path, cameras, lo, hi, 8, 64, own=OWN, others=BLOCKER)
    assert len(files) == 8 and visible[files.index("images/f0.jpg")] < 0.3
