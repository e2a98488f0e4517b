"""Cameras to render the splat from: the training views (from poses/cameras.json, scaled to a
render size) and virtual views on a half-sphere around an object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splat2sim.errors import StageError


@dataclass
class ViewSet:
    world_from_camera: np.ndarray  # [C,4,4] OpenCV axes
    intrinsics: np.ndarray  # [C,4] fx, fy, cx, cy (pixel centres at +0.5)
    width: int
    height: int

    @property
    def num(self) -> int:
        return len(self.world_from_camera)

    def subset(self, index) -> "ViewSet":
        return ViewSet(self.world_from_camera[index], self.intrinsics[index], self.width, self.height)

    def torch(self, index=None):
        import torch

        from splat2sim.render import Cameras

        sel = slice(None) if index is None else index
        return Cameras(
            torch.tensor(self.world_from_camera[sel], dtype=torch.float32),
            torch.tensor(self.intrinsics[sel], dtype=torch.float32),
            self.width,
            self.height,
        )


def training_views(cams: dict, max_side: int) -> ViewSet:
    """The registered frames' cameras (poses' cameras.json as a dict), their images scaled so
    the longer side is at most ``max_side``."""
    intrinsics_list = cams.get("cameras") or [cams["intrinsics"]]
    frames = [f for f in cams["frames"] if f.get("registered", True) and f.get("world_from_camera") is not None]
    if not frames:
        raise StageError("poses/cameras.json has no registered frame", hint="re-run the poses stage")
    sizes = {(intrinsics_list[f.get("camera", 0)]["width"], intrinsics_list[f.get("camera", 0)]["height"]) for f in frames}
    if len(sizes) != 1:
        raise StageError("registered frames have different image sizes", hint="the frames stage writes one size; re-run it")
    w, h = sizes.pop()
    scale = min(1.0, max_side / max(w, h))
    W, H = max(1, round(w * scale)), max(1, round(h * scale))
    sx, sy = W / w, H / h
    w2c, intr = [], []
    for frame in frames:
        k = intrinsics_list[frame.get("camera", 0)]
        w2c.append(np.asarray(frame["world_from_camera"], np.float64))
        intr.append([k["fx"] * sx, k["fy"] * sy, k["cx"] * sx, k["cy"] * sy])
    return ViewSet(np.stack(w2c), np.asarray(intr, np.float64), W, H)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """world_from_camera [4,4] with OpenCV axes looking from ``eye`` at ``target``."""
    forward = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, np.float64)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-6:  # looking straight along the up axis
        right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def orbit_views(
    center: np.ndarray, radius: float, count: int, size: int, fov_deg: float = 40.0, min_elevation_deg: float = 8.0, max_elevation_deg: float = 88.0
) -> ViewSet:
    """``count`` cameras on a half-sphere (above the support plane) around a sphere of
    ``radius`` at ``center``, each framing the whole sphere; elevations and azimuths follow
    a Fibonacci spiral, so the views spread evenly for any count."""
    count = max(1, int(count))
    half = np.radians(fov_deg) / 2
    distance = radius / np.sin(half) * 1.05
    f = size / 2 / np.tan(half)
    golden = np.pi * (3 - np.sqrt(5))
    lo, hi = np.sin(np.radians(min_elevation_deg)), np.sin(np.radians(max_elevation_deg))
    poses = []
    for i in range(count):
        s = lo + (hi - lo) * (i + 0.5) / count  # uniform in sin(elevation): even area on the sphere
        elev = np.arcsin(s)
        az = i * golden
        direction = np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az), np.sin(elev)])
        poses.append(look_at(center + distance * direction, center))
    intr = np.tile([f, f, size / 2, size / 2], (count, 1))
    return ViewSet(np.stack(poses), intr, size, size)
