"""Rendering frames with MuJoCo's offscreen renderer from OpenCV-axis camera poses."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from splat2sim.errors import DependencyError
from splat2sim.geometry.transforms import mujoco_from_opencv_camera


def mujoco_module():
    """Import MuJoCo with a headless GL backend chosen first (EGL; OSMesa is the fallback
    the user can pick with MUJOCO_GL=osmesa)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
    except ImportError as exc:
        raise DependencyError("synthetic captures need MuJoCo", hint="pip install mujoco") from exc
    return mujoco


def set_camera(model, data, world_from_camera_cv: np.ndarray, camera: str = "phone") -> None:
    """Move the model's fixed camera to a pose given as world_from_camera (4, 4), OpenCV axes."""
    mujoco = mujoco_module()
    mj = mujoco_from_opencv_camera(world_from_camera_cv)
    cid = model.camera(camera).id
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mj[:3, :3]).ravel())
    model.cam_pos[cid] = mj[:3, 3]
    model.cam_quat[cid] = quat
    mujoco.mj_forward(model, data)


@contextmanager
def renderer(model, width: int, height: int) -> Iterator[object]:
    """A MuJoCo offscreen renderer that is always closed (EGL contexts are scarce)."""
    mujoco = mujoco_module()
    try:
        r = mujoco.Renderer(model, height=height, width=width)
    except Exception as exc:
        raise DependencyError(
            f"MuJoCo's offscreen renderer could not start ({os.environ.get('MUJOCO_GL')}): {exc}",
            hint="set MUJOCO_GL=egl (or MUJOCO_GL=osmesa with libosmesa6 installed)",
        ) from exc
    try:
        yield r
    finally:
        r.close()


def render_rgb(r, model, data, world_from_camera_cv: np.ndarray, camera: str = "phone") -> np.ndarray:
    """One frame (H, W, 3) uint8, row 0 at the top."""
    set_camera(model, data, world_from_camera_cv, camera)
    r.update_scene(data, camera=camera)
    return r.render().copy()
