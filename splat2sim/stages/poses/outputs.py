"""poses' outputs: cameras.json, world.json (through splat2sim.artifacts.poses), the sparse
COLMAP model and points3d.ply, all in the final world frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splat2sim.artifacts import poses as poses_artifacts
from splat2sim.stages.poses.solved import Solved, to_reconstruction

WORLD_FRAME = "right-handed, +z up (against gravity), origin on the main support surface under the scene centre"
PIXEL_CONVENTION = "colmap: (0, 0) is the top-left corner of the image; pixel (i, j) has its centre at (i + 0.5, j + 0.5)"


def _r(a, nd=8):
    return np.round(np.asarray(a, float), nd).tolist()


def _write_outputs(ctx, solved: Solved, frames_json, frame, estimate, checks, s, R, t, imported, metrics):
    out = ctx.out_dir
    metric = estimate.scale is not None
    units = "metres" if metric else "unknown (SfM units)"
    wfc = solved.world_from_camera()
    cameras_json = {
        "world_frame": WORLD_FRAME,
        "units": units,
        "camera_axes": "opencv: x right, y down, z forward",
        "pixel_convention": PIXEL_CONVENTION,
        "intrinsics": _intr(solved.cameras[int(np.bincount(solved.camera_index).argmax())]),
        "cameras": [_intr(c) for c in solved.cameras],
        "frames": [
            {
                "file": f["file"],
                "registered": bool(solved.registered[i]),
                "camera": int(solved.camera_index[i]),
                "world_from_camera": _r(wfc[i]) if solved.registered[i] else None,
            }
            for i, f in enumerate(frames_json["frames"])
        ],
    }
    poses_artifacts.CAMERAS.write(out, cameras_json, indent=1)

    sparse = out / "sparse"
    sparse.mkdir()
    rec = solved.reconstruction if solved.reconstruction is not None else to_reconstruction(solved)
    rec.write(str(sparse))
    write_ply(out / "points3d.ply", solved.points, solved.colors)

    plane = frame.plane
    sim = np.eye(4)
    sim[:3, :3] = s * R
    sim[:3, 3] = t
    world = {
        "world_frame": WORLD_FRAME,
        "up_axis": "+z",
        "units": units,
        "scale_source": estimate.source if metric else "unknown",
        "sim_from_sfm": {
            "scale": float(s),
            "rotation": _r(R, 10),
            "translation": _r(t, 10),
            "matrix": _r(sim, 10),
            "meaning": "x_sim = scale * rotation @ x_sfm + translation; the sfm frame is COLMAP's (or the import's) world",
        },
        "support_plane": {
            "found": plane.found,
            "method": "RANSAC on the sparse points, near-horizontal under the cameras' up prior, cameras above"
            if plane.found
            else "no plane: the cameras' mean up direction, support at the 2nd percentile of point heights",
            "normal_sfm": _r(plane.normal),
            "offset_sfm": float(plane.offset),
            "plane_sim": "z = 0",
            "inliers": plane.inliers,
            "points_considered": int(len(solved.points)),
            "rms": float(plane.rms * s) if np.isfinite(plane.rms) else None,
            "inlier_threshold": float(plane.threshold * s),
            "cameras_above": plane.cameras_above,
            "angle_to_camera_up_deg": plane.prior_angle_deg,
            "candidates": plane.candidates,
        },
        "origin": {
            "method": f"scene centre ({frame.scene_centre_method}) projected onto the support plane",
            "scene_centre_sim": _r(s * R @ frame.scene_centre_sfm + t),
            "camera_distance": float(frame.camera_distance * s),
        },
        "scale": {"value": float(s) if metric else None, "source": estimate.source if metric else "unknown", **_plain(estimate.detail)},
        "scale_checks": _plain(checks),
        "sparse_model_frame": "final world frame (sim)",
        "quality": metrics,
    }
    if imported is not None:
        world["imported"] = {"kind": imported.kind, "path": str(imported.path), "matched": imported.matched, **_plain(imported.notes)}
    poses_artifacts.WORLD.write(out, world, indent=1)


def _intr(intr: dict) -> dict:
    return {k: intr[k] for k in ("model", "width", "height", "fx", "fy", "cx", "cy", "distortion", "params")}


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_ply(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    """Binary little-endian PLY: float x, y, z; uchar red, green, blue."""
    n = len(points)
    data = np.zeros(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    if n:
        data["x"], data["y"], data["z"] = points[:, 0], points[:, 1], points[:, 2]
        data["red"], data["green"], data["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment splat2sim poses: sparse points, final world frame\n"
        f"element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(data.tobytes())
