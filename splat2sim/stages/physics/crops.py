"""Crops of each object for the VLM and CLIP, from views where other objects do not hide it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError, StageError
from splat2sim.stages.physics import reconcile as R


def _object_geometry(mesh_dir: Path, entry: dict) -> R.Geometry:
    import trimesh

    path = mesh_dir / entry["visual"]
    if not path.is_file():
        raise InputError(f"mesh of {entry['id']} ({path}) is missing", hint="re-run the mesh stage")
    mesh = trimesh.load(path, process=False, force="mesh")
    if len(mesh.faces) == 0:
        raise InputError(f"mesh of {entry['id']} ({path}) has no faces", hint="re-run the mesh stage")
    watertight = bool(entry.get("watertight"))
    volume = entry.get("volume") if watertight else None
    if not watertight:  # seams of texture coordinates split vertices: merge by position and look again
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        watertight = bool(mesh.is_watertight)
    return R.geometry_from_mesh(mesh.vertices, mesh.faces, watertight=watertight, volume=volume)


def _surface_in_world(geom: R.Geometry, mesh_entry: dict, count: int = 800) -> np.ndarray:
    """Surface samples [count,3] of an object's visual mesh in the world frame."""
    from splat2sim.geometry.metrics import sample_surface

    t = np.asarray(mesh_entry["world_from_object"], float)
    try:
        local = sample_surface(geom.vertices, geom.faces, count)
    except ValueError:  # no area: its vertices will do
        local = geom.vertices
    return local @ t[:3, :3].T + t[:3, 3]


def _corners(lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def visible_fraction(own: np.ndarray, others: np.ndarray, world_from_camera, k: dict) -> float:
    """Fraction of an object's surface samples ``own`` [M,3] (world) that no other object's
    samples ``others`` [Q,3] hide in a camera (OpenCV axes, intrinsics ``k``).

    A coarse depth buffer of the other objects, on cells a 24th of the object's projected
    size (the samples are sparse: each also covers its neighbouring cells), is compared with
    the object's depths; hidden means more than 2 % nearer than the object's sample."""
    cam = np.linalg.inv(np.asarray(world_from_camera, float))

    def project(x):
        pc = x @ cam[:3, :3].T + cam[:3, 3]
        z = pc[:, 2]
        ok = z > 1e-3
        return np.stack([pc[ok, 0] / z[ok] * k["fx"] + k["cx"], pc[ok, 1] / z[ok] * k["fy"] + k["cy"]], 1), z[ok]

    uv, z = project(own)
    if not len(uv):
        return 0.0
    if not len(others):
        return 1.0
    lo, hi = uv.min(0), uv.max(0)
    cell = max(float((hi - lo).max()) / 24.0, 1.0)
    shape = (np.floor((hi - lo) / cell).astype(int) + 3)[::-1]  # rows (v), cols (u) with a border
    ouv, oz = project(others)
    zbuf = np.full(shape, np.inf)
    ij = np.floor((ouv - lo) / cell).astype(int) + 1
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < shape[1]) & (ij[:, 1] >= 0) & (ij[:, 1] < shape[0])
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            r, c = ij[inside, 1] + di, ij[inside, 0] + dj
            ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
            np.minimum.at(zbuf, (r[ok], c[ok]), oz[inside][ok])
    mine = np.floor((uv - lo) / cell).astype(int) + 1
    hidden = zbuf[mine[:, 1], mine[:, 0]] < 0.98 * z
    return float(1.0 - hidden.mean())


def object_crops(
    frames_dir: Path,
    cameras: dict,
    bbox_min,
    bbox_max,
    views: int,
    size: int,
    *,
    own: np.ndarray | None = None,
    others: np.ndarray | None = None,
    min_visible: float = 0.8,
) -> tuple[list[np.ndarray], list[bytes], list[str], list[float]]:
    """RGB crops [h,w,3] of the object's projected bounding box from up to ``views`` frames
    spread over the capture, their JPEG bytes (what the VLM sees), the frame files and the
    visible fraction of the object in each.

    With the object's surface samples ``own`` [M,3] and the other objects' ``others``
    [Q,3], views where other objects hide more than ``1 - min_visible`` of it are used only
    when too few views show it clearly (the least hidden first): a crop of the object behind
    another shows the wrong thing to the VLM and to CLIP."""
    import cv2

    intr = cameras.get("cameras") or [cameras["intrinsics"]]
    corners = _corners(bbox_min, bbox_max)
    candidates = []
    for index, frame in enumerate(cameras["frames"]):
        if not frame.get("registered", True) or frame.get("world_from_camera") is None:
            continue
        k = intr[frame.get("camera", 0)]
        cam = np.linalg.inv(np.asarray(frame["world_from_camera"], float))
        pc = corners @ cam[:3, :3].T + cam[:3, 3]
        if np.any(pc[:, 2] < 0.01):
            continue
        u = pc[:, 0] / pc[:, 2] * k["fx"] + k["cx"]
        v = pc[:, 1] / pc[:, 2] * k["fy"] + k["cy"]
        x0, x1, y0, y1 = u.min(), u.max(), v.min(), v.max()
        area = (x1 - x0) * (y1 - y0)
        cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, k["width"]), max(y0, 0), min(y1, k["height"])
        inside = max(cx1 - cx0, 0) * max(cy1 - cy0, 0) / max(area, 1e-9)
        if inside < 0.85 or min(x1 - x0, y1 - y0) < 12:
            continue
        seen = 1.0 if own is None else visible_fraction(own, others if others is not None else np.zeros((0, 3)),
                                                           frame["world_from_camera"], k)  # fmt: skip
        candidates.append((index, frame["file"], (x0, y0, x1, y1), k, seen))
    if not candidates:
        return [], [], [], []
    clear = [c for c in candidates if c[4] >= min_visible]
    if len(clear) < min(views, len(candidates)):  # too few clear views: add the least hidden others
        rest = sorted((c for c in candidates if c[4] < min_visible), key=lambda c: -c[4])
        clear = sorted(clear + rest[: min(views, len(candidates)) - len(clear)], key=lambda c: c[0])
    picks = np.unique(np.linspace(0, len(clear) - 1, min(views, len(clear))).round().astype(int))
    crops, jpegs, files, visible = [], [], [], []
    for p in picks:
        _, file, (x0, y0, x1, y1), k, seen = clear[p]
        visible.append(round(seen, 3))
        bgr = cv2.imread(str(frames_dir / file))
        if bgr is None:
            raise InputError(f"keyframe {frames_dir / file} cannot be read", hint="re-run the frames stage")
        h, w = bgr.shape[:2]
        sx, sy = w / k["width"], h / k["height"]
        pad = 0.12 * max(x1 - x0, y1 - y0)
        a0, a1 = int(max(math.floor((x0 - pad) * sx), 0)), int(min(math.ceil((x1 + pad) * sx), w))
        b0, b1 = int(max(math.floor((y0 - pad) * sy), 0)), int(min(math.ceil((y1 + pad) * sy), h))
        crop = bgr[b0:b1, a0:a1]
        scale = size / max(crop.shape[:2])
        if abs(scale - 1) > 1e-3:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise StageError("JPEG encoding of a crop failed")
        jpegs.append(buf.tobytes())
        crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        files.append(file)
    return crops, jpegs, files, visible
