"""The filmed keyframes' cameras (export/cameras.json) as simulator cameras.

export/cameras.json holds each registered keyframe's ``world_from_camera`` (OpenCV axes:
x right, y down, z forward) and intrinsics (fx, fy, cx, cy) in pixels, pixel (row i,
column j) centred at (j + 0.5, i + 0.5) as in splat2sim.render.conventions. A scene
finds it beside its scene.json (export), or in the export folder next to it (check's
repaired scene, variants' scenes).

MuJoCo cameras look down -z with +y up, so the camera's orientation is the OpenCV one
times diag(1, -1, -1). The intrinsics go in whole: ``resolution``, ``focalpixel`` and
``principalpixel`` with a ``sensorsize`` of 1 um per pixel (MuJoCo derives fovy from
them). MuJoCo's principal point offset runs opposite to the pixel axes (measured with
MuJoCo 4.0: ``principalpixel="-20 0"`` moves the image of the optical axis 20 px right),
so ``principalpixel = (W/2 - cx, H/2 - cy)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.scene.common import attr, fmt

PIXEL_PITCH = 1e-6  # metres per pixel of the nominal sensor (any value: only ratios matter)


@dataclass
class Keyframe:
    name: str  # keyframe_003
    world_from_camera: np.ndarray  # [4,4] OpenCV axes
    intrinsics: np.ndarray  # [4] fx, fy, cx, cy in pixels
    width: int
    height: int


def cameras_file(root) -> Path | None:
    """export/cameras.json of the scene whose scene.json is in ``root``, or None."""
    if root is None:
        return None
    root = Path(root)
    for candidate in (root / "cameras.json", root / ".." / "export" / "cameras.json", root / ".." / ".." / "export" / "cameras.json"):
        if candidate.is_file():
            return candidate
    return None


def read_keyframes(path) -> list[Keyframe]:
    """Every keyframe of a cameras.json, in its order."""
    doc = json.loads(Path(path).read_text())
    intrinsics = doc.get("cameras") or [doc["intrinsics"]]
    out = []
    for frame in doc["frames"]:
        k = intrinsics[frame.get("camera", 0)]
        out.append(Keyframe(frame["name"], np.asarray(frame["world_from_camera"], np.float64),
                            np.array([k["fx"], k["fy"], k["cx"], k["cy"]], np.float64), int(k["width"]), int(k["height"])))  # fmt: skip
    return out


def mujoco_quat(world_from_camera: np.ndarray) -> np.ndarray:
    """[4] (w, x, y, z) of a MuJoCo camera (-z forward, +y up) looking as the OpenCV one."""
    from splat2sim.geometry.transforms import matrix_to_quat

    r = np.asarray(world_from_camera, np.float64)[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    return np.asarray(matrix_to_quat(r), np.float64)


def mjcf_camera_line(frame: Keyframe, indent: str = "    ") -> str:
    """One ``<camera>`` element that renders as the keyframe was filmed."""
    fx, fy, cx, cy = frame.intrinsics
    w, h = frame.width, frame.height
    return (
        f'{indent}<camera name={attr(frame.name)} mode="fixed" pos="{fmt(frame.world_from_camera[:3, 3])}" '
        f'quat="{fmt(mujoco_quat(frame.world_from_camera))}" resolution="{w} {h}" sensorsize="{fmt([w * PIXEL_PITCH, h * PIXEL_PITCH])}" '
        f'focalpixel="{fmt([fx, fy])}" principalpixel="{fmt([w / 2 - cx, h / 2 - cy])}"/>'
    )


def scene_keyframes(scene) -> list[Keyframe]:
    """The keyframes of a Scene (none when its cameras.json cannot be found)."""
    path = cameras_file(getattr(scene, "root", None))
    return read_keyframes(path) if path is not None else []
