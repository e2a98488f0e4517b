"""The ground-truth record written beside the video: plain JSON, schema-versioned."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from splat2sim.geometry.transforms import quat_to_matrix
from splat2sim.synth.scene import Scene

SCHEMA_VERSION = 1

WORLD_FRAME = {
    "handedness": "right",
    "up": "+z",
    "units": "metres",
    "origin": "centre of the table top; the table's top surface is the plane z = 0",
}

CAMERA_AXES = "opencv: x right, y down, z forward (viewing direction)"


def _plain(x):
    """numpy -> plain Python for json."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def object_record(o) -> dict:
    pose = np.eye(4)
    pose[:3, :3] = quat_to_matrix(o.quat)
    pose[:3, 3] = o.position
    world_v = o.mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
    lo, hi = o.mesh.bounds
    return {
        "name": o.name,
        "kind": o.kind,
        "mesh_file": f"objects/{o.name}.obj",
        "texture_file": f"objects/{o.name}.png" if o.texture is not None else None,
        "source_mesh": o.source,
        "position": o.position,
        "quaternion_wxyz": o.quat,
        "world_from_object": pose,
        "mass": o.mass,
        "volume": o.props["volume"],
        "watertight": o.props["watertight"],
        "inertia_source": o.inertia_source,
        "center_of_mass": o.props["center_of_mass"],  # object frame
        "inertia": o.props["inertia"],  # kg m^2, about the centre of mass, object axes
        "bbox_min": lo,  # object frame
        "bbox_max": hi,
        "extents": hi - lo,
        "center_local": (lo + hi) / 2,
        "world_aabb_min": world_v.min(0),
        "world_aabb_max": world_v.max(0),
        "dimensions": o.dimensions,
    }


def build(scene: Scene, config, intrinsics: dict, poses: np.ndarray, video_file: str, scene_xml: str) -> dict:
    """poses: (N, 4, 4) world_from_camera, OpenCV axes."""
    marker = None
    if scene.marker is not None:
        m = scene.marker
        marker = {
            "dictionary": m.dictionary,
            "id": m.marker_id,
            "size": m.size,
            "border": m.border,
            "center": m.center,
            "yaw": m.yaw,
            "corners_world": m.corners_world(),
            "corner_order": "top-left, top-right, bottom-right, bottom-left of the marker image (OpenCV ArUco order)",
        }
    return _plain(
        {
            "schema_version": SCHEMA_VERSION,
            "generator": "splat2sim.synth",
            "seed": config.seed,
            "config": config.to_dict(),
            "world_frame": WORLD_FRAME,
            "table": {"top_height": 0.0, "size": list(scene.table_size), "height_above_floor": scene.table_height, "floor_z": -scene.table_height},
            "room": {"half_size": scene.room_half, "height": scene.room_height},
            "lights": scene.lights,
            "scene_center": scene.center,
            "objects": [object_record(o) for o in scene.objects],
            "marker": marker,
            "camera": {
                "model": "pinhole",
                "axes": CAMERA_AXES,
                "pixel_centers": "integer coordinates (OpenCV)",
                **intrinsics,
                "distortion": [0.0, 0.0, 0.0, 0.0, 0.0],
                "fovy_deg": config.fovy_deg,
            },
            "video": {"file": video_file, "fps": config.fps, "num_frames": int(len(poses)), "codec": "h264", "pix_fmt": "yuv420p"},
            "scene_xml": scene_xml,
            "frames": [{"index": k, "time_s": k / config.fps, "world_from_camera": p} for k, p in enumerate(poses)],
        }
    )


def write(path: Path, record: dict) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())
