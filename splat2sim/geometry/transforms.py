"""Rotations and camera conventions, written once for every layer (scene, simulators,
renderer, synthetic captures). numpy only, so that anything may import it.

Quaternions are (w, x, y, z). Cameras are ``world_from_camera`` 4x4 matrices; OpenCV axes
are x right, y down, z forward (the viewing direction), MuJoCo cameras look along their
-z with +y up. ``mujoco_from_opencv_camera`` is the one place that converts between them.
"""

from __future__ import annotations

import math

import numpy as np

#: Rotation taking OpenCV camera axes to MuJoCo camera axes (and back: it is its own inverse).
CV_TO_MJ_AXES = np.diag([1.0, -1.0, -1.0])


def quat_to_matrix(q) -> np.ndarray:
    """3x3 rotation of a (w, x, y, z) quaternion of any norm."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def matrix_to_quat(R) -> list[float]:
    """Unit (w, x, y, z) quaternion of a 3x3 rotation, with w >= 0."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(np.asarray(R, np.float64)).as_quat()
    q = np.array([w, x, y, z])
    return (q if q[0] >= 0 else -q).tolist()


def quat_angle_deg(q1, q2) -> float:
    """The angle (degrees) of the rotation between two (w, x, y, z) quaternions."""
    a = np.asarray(q1, np.float64) / np.linalg.norm(q1)
    b = np.asarray(q2, np.float64) / np.linalg.norm(q2)
    return math.degrees(2 * math.acos(min(1.0, abs(float(a @ b)))))


def mujoco_from_opencv_camera(world_from_camera_cv: np.ndarray) -> np.ndarray:
    """world_from_camera (4, 4) in OpenCV axes -> the same camera with MuJoCo axes
    (x right, y up, looking along -z). Position unchanged; columns y and z negated."""
    out = np.array(world_from_camera_cv, np.float64, copy=True)
    out[:3, :3] = out[:3, :3] @ CV_TO_MJ_AXES
    return out


def opencv_from_mujoco_camera(world_from_camera_mj: np.ndarray) -> np.ndarray:
    """Inverse of ``mujoco_from_opencv_camera`` (the axis flip is an involution)."""
    return mujoco_from_opencv_camera(world_from_camera_mj)


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> dict:
    """Pinhole intrinsics of a MuJoCo camera (square pixels, vertical field of view).

    OpenCV puts pixel centres at integer coordinates while OpenGL's image spans [0, W],
    so the optical centre is at (W - 1) / 2, (H - 1) / 2."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return {"fx": f, "fy": f, "cx": (width - 1) / 2.0, "cy": (height - 1) / 2.0, "width": width, "height": height}


def surface_points(depth: np.ndarray, world_from_camera: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """World points [H,W,3] of a camera-z depth image [H,W] (pixel centres at +0.5)."""
    h, w = depth.shape
    fx, fy, cx, cy = intrinsics
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], -1)  # camera frame, z = 1
    return world_from_camera[:3, 3] + (rays * depth[..., None]) @ world_from_camera[:3, :3].T
