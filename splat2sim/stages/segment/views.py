"""Keyframes for segmentation: cameras (resized to a render size), images, visibility."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError, StageError


@dataclass
class Views:
    files: list[str]  # keyframe files relative to the frames stage folder
    world_from_camera: np.ndarray  # [C,4,4]
    intrinsics: np.ndarray  # [C,4] fx fy cx cy at (width, height)
    width: int
    height: int
    frames_dir: Path
    distortion: list[np.ndarray]  # per view k1 k2 p1 p2 at the original size
    original_size: tuple[int, int]

    @property
    def num(self) -> int:
        return len(self.files)

    def centers(self) -> np.ndarray:
        return self.world_from_camera[:, :3, 3]

    def subset(self, picks) -> "Views":
        picks = list(picks)
        return Views([self.files[i] for i in picks], self.world_from_camera[picks], self.intrinsics[picks], self.width,
                     self.height, self.frames_dir, [self.distortion[i] for i in picks], self.original_size)  # fmt: skip

    def cameras(self, dtype=None):
        import torch

        from splat2sim.render import Cameras

        dtype = dtype or torch.float32
        return Cameras(torch.tensor(self.world_from_camera, dtype=dtype), torch.tensor(self.intrinsics, dtype=dtype), self.width, self.height)

    def image(self, i: int) -> np.ndarray:
        """RGB uint8 [H,W,3] of view i, undistorted and resized to (width, height)."""
        import cv2

        path = self.frames_dir / self.files[i]
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise InputError(f"keyframe {path} cannot be read", hint="re-run the frames stage (`splat2sim build --force frames`)")
        h, w = bgr.shape[:2]
        dist = self.distortion[i]
        if np.any(np.abs(dist) > 1e-6):
            sx, sy = self.width / w, self.height / h
            fx, fy, cx, cy = self.intrinsics[i] / [sx, sy, sx, sy]
            K = np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1]])
            bgr = cv2.undistort(bgr, K, dist, None, K)
        if (w, h) != (self.width, self.height):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_views(frames_dir: Path, poses_dir: Path, max_side: int) -> Views:
    from splat2sim.artifacts.poses import CAMERAS

    cams = CAMERAS.read(poses_dir).to_dict()
    intrinsics_list = cams.get("cameras") or [cams["intrinsics"]]
    frames = [f for f in cams["frames"] if f.get("registered", True) and f.get("world_from_camera") is not None]
    if len(frames) < 2:
        raise StageError(f"only {len(frames)} registered frame(s)", hint="re-run poses with more keyframes")
    k0 = intrinsics_list[frames[0].get("camera", 0)]
    w, h = int(k0["width"]), int(k0["height"])
    scale = min(1.0, max_side / max(w, h))
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    sx, sy = rw / w, rh / h
    files, w2c, intr, dist = [], [], [], []
    for f in frames:
        k = intrinsics_list[f.get("camera", 0)]
        if (int(k["width"]), int(k["height"])) != (w, h):
            raise StageError("keyframes have different sizes", hint="the frames stage writes one size; re-run it")
        d = k.get("distortion", {}) or {}
        files.append(f["file"])
        w2c.append(np.asarray(f["world_from_camera"], np.float64))
        intr.append([k["fx"] * sx, k["fy"] * sy, k["cx"] * sx, k["cy"] * sy])
        dist.append(np.array([d.get("k1", 0.0), d.get("k2", 0.0), d.get("p1", 0.0), d.get("p2", 0.0)]))
    return Views(files, np.stack(w2c), np.asarray(intr, np.float64), rw, rh, frames_dir, dist, (w, h))


def spread(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over range(total)."""
    if count >= total:
        return list(range(total))
    return sorted(set(np.linspace(0, total - 1, count).round().astype(int).tolist()))


def project(points: np.ndarray, views: Views) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates [C,N,2] (pixel centres at +0.5) and camera depth [C,N]."""
    R = views.world_from_camera[:, :3, :3]
    t = views.world_from_camera[:, :3, 3]
    pc = np.einsum("cji,cnj->cni", R, points[None] - t[:, None])  # R^T (p - t)
    z = pc[..., 2]
    fx, fy, cx, cy = (views.intrinsics[:, i][:, None] for i in range(4))
    zs = np.where(z > 1e-9, z, 1e-9)
    uv = np.stack([pc[..., 0] / zs * fx + cx, pc[..., 1] / zs * fy + cy], axis=-1)
    return uv, z


def frustum_counts(points: np.ndarray, views: Views, near: float, chunk: int = 8) -> np.ndarray:
    """Number of views whose frustum (in front of ``near``, inside the image) holds each point."""
    count = np.zeros(len(points), np.int32)
    for s in range(0, views.num, chunk):
        uv, z = project(points, views.subset(range(s, min(views.num, s + chunk))))
        inside = (z > near) & (uv[..., 0] >= 0) & (uv[..., 0] < views.width) & (uv[..., 1] >= 0) & (uv[..., 1] < views.height)
        count += inside.sum(0).astype(np.int32)
    return count
