"""A synthetic capture rendered in another state: some objects moved, seen from given cameras.

    state = render_state(capture_dir, {"mug_1": world_from_object}, cameras, width=320, height=240)
    state.rgb [C,H,W,3] uint8, state.depth [C,H,W] float32 (camera z, metres; 0 = nothing
    within the far plane), state.object_ids [C,H,W] int16 (index into ground_truth.json's
    objects, -1 elsewhere), state.poses {object name: 4x4 world_from_object}
    write_state(out_dir, state)    # state.json + rgb_000.png, depth_000.npy, ids_000.png ...

Everything is in the capture's ground-truth frame (ground_truth.json: metres, +z up,
origin on the table top); cameras are world_from_camera [C,4,4] in OpenCV axes, rendered
with the capture's own camera (its vertical field of view, principal point at the image
centre) and lights, by the same MuJoCo model that filmed the video (scene.xml), so the
unmoved state from a filmed pose is that video frame before compression.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError


@dataclass
class StateRender:
    rgb: np.ndarray  # [C,H,W,3] uint8
    depth: np.ndarray  # [C,H,W] float32 camera z in metres, 0 = nothing (beyond the far plane)
    object_ids: np.ndarray  # [C,H,W] int16: index into ground_truth.json's objects, -1 = not an object
    poses: dict[str, np.ndarray]  # object name -> [4,4] world_from_object of this state
    cameras: np.ndarray  # [C,4,4] world_from_camera, OpenCV axes
    intrinsics: np.ndarray  # [4] fx, fy, cx, cy in pixels (pixel centres at +0.5)
    names: list[str] = field(default_factory=list)  # object names by id


def _set_pose(mujoco, model, data, name: str, pose: np.ndarray) -> None:
    adr = model.jnt_qposadr[model.body(name).jntadr[0]]
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(pose[:3, :3], np.float64).ravel())
    data.qpos[adr : adr + 7] = np.r_[pose[:3, 3], q]


def render_state(capture_dir, moves: dict[str, np.ndarray], cameras, *, width: int | None = None, height: int | None = None) -> StateRender:
    """The capture's scene with the objects of ``moves`` (name -> 4x4 world_from_object)
    at their new poses, the rest where they settled, rendered from ``cameras`` [C,4,4]."""
    from splat2sim.synth.mujoco_model import load_model
    from splat2sim.synth.render import mujoco_module, renderer, set_camera

    capture_dir = Path(capture_dir)
    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    names = [o["name"] for o in gt["objects"]]
    unknown = sorted(set(moves) - set(names))
    if unknown:
        raise InputError(f"no object {unknown[0]!r} in {capture_dir / 'ground_truth.json'}", hint=f"objects: {', '.join(names)}")
    width, height = width or int(gt["camera"]["width"]), height or int(gt["camera"]["height"])
    mujoco = mujoco_module()
    model = load_model(capture_dir / gt["scene_xml"])
    data = mujoco.MjData(model)
    poses = {o["name"]: np.asarray(moves.get(o["name"], o["world_from_object"]), np.float64) for o in gt["objects"]}
    for name, pose in poses.items():
        _set_pose(mujoco, model, data, name, pose)
    mujoco.mj_forward(model, data)
    cams = np.asarray(cameras, np.float64).reshape(-1, 4, 4)
    body_to_object = np.full(model.nbody, -1, np.int16)
    for k, name in enumerate(names):
        body_to_object[model.body(name).id] = k
    rgb = np.zeros((len(cams), height, width, 3), np.uint8)
    depth = np.zeros((len(cams), height, width), np.float32)
    ids = np.full((len(cams), height, width), -1, np.int16)
    zfar = float(model.vis.map.zfar * model.stat.extent)
    with renderer(model, width, height) as r:
        for c, pose in enumerate(cams):
            set_camera(model, data, pose)
            r.update_scene(data, camera="phone")
            rgb[c] = r.render()
            r.enable_depth_rendering()
            r.update_scene(data, camera="phone")
            d = r.render()  # [H,W] distance along the optical axis
            depth[c] = np.where(d < 0.999 * zfar, d, 0.0)
            r.disable_depth_rendering()
            r.enable_segmentation_rendering()
            r.update_scene(data, camera="phone")
            seg = r.render()  # [H,W,2] (object id, object type)
            r.disable_segmentation_rendering()
            geom = np.where(seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM, seg[..., 0], -1)
            ids[c] = np.where(geom >= 0, body_to_object[model.geom_bodyid[np.maximum(geom, 0)]], -1)
    f = 0.5 * height / np.tan(np.radians(float(gt["camera"]["fovy_deg"])) / 2)
    return StateRender(rgb, depth, ids, poses, cams, np.array([f, f, width / 2, height / 2]), names)


def write_state(out_dir, state: StateRender) -> Path:
    """``out_dir/state.json`` (poses, cameras, intrinsics, image files) and per camera
    rgb_CCC.png, depth_CCC.npy (float32 metres) and ids_CCC.png (uint8, object index + 1,
    0 = none). Returns state.json's path."""
    import imageio.v3 as iio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    views = []
    for c in range(len(state.cameras)):
        iio.imwrite(out / f"rgb_{c:03d}.png", state.rgb[c])
        np.save(out / f"depth_{c:03d}.npy", state.depth[c])
        iio.imwrite(out / f"ids_{c:03d}.png", (state.object_ids[c] + 1).astype(np.uint8))
        views.append(
            {"world_from_camera": state.cameras[c].tolist(), "rgb": f"rgb_{c:03d}.png", "depth": f"depth_{c:03d}.npy", "ids": f"ids_{c:03d}.png"}
        )
    h, w = state.depth.shape[1:]
    doc = {
        "schema_version": 1,
        "frame": "ground truth (ground_truth.json): metres, +z up, origin on the table top",
        "camera_axes": "opencv: x right, y down, z forward",
        "pixel_convention": "centres at +0.5",
        "intrinsics": {
            "fx": state.intrinsics[0],
            "fy": state.intrinsics[1],
            "cx": state.intrinsics[2],
            "cy": state.intrinsics[3],
            "width": w,
            "height": h,
        },
        "objects": [{"name": n, "world_from_object": state.poses[n].tolist()} for n in state.names],
        "views": views,
    }
    path = out / "state.json"
    path.write_text(json.dumps(doc, indent=2))
    return path
