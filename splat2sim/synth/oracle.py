"""An "oracle" workspace from a synthetic capture: the real frames stage, then the poses and
splat stages fed by imports built from the ground truth (a nerfstudio ``transforms.json``
and a splat sampled on the true surfaces). Later stages can then be tested in seconds,
against ground truth, without waiting for SfM and splat training.

    oracle_workspace(capture_dir, ws)   # ws has frames/, poses/, splat/ (all real records)

The ground-truth world (table top at z = 0) is the import's "sfm" frame: the poses stage
re-derives its own world frame from it (support plane, origin, yaw), so compare results with
ground truth through ``poses/world.json``'s ``sim_from_sfm`` (see ``gt_to_world``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GL_FROM_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenCV camera axes -> OpenGL (nerfstudio)


def _surface_samples(mesh, count: int, rng: np.random.Generator):
    """Points [count,3], normals [count,3] and per-point area share, uniformly on ``mesh``."""
    areas = mesh.area_faces
    face = rng.choice(len(areas), size=count, p=areas / areas.sum())
    r1, r2 = rng.random(count), rng.random(count)
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    tri = mesh.triangles[face]
    points = tri[:, 0] + r1[:, None] * (tri[:, 1] - tri[:, 0]) + r2[:, None] * (tri[:, 2] - tri[:, 0])
    return points, mesh.face_normals[face], mesh.area / count


def _quats_from_normals(normals: np.ndarray) -> np.ndarray:
    """(w, x, y, z) rotating +z onto each normal [N,3]."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, normals)
    s = np.linalg.norm(axis, axis=1)
    c = normals @ z
    angle = np.arctan2(s, c)
    axis = np.where(s[:, None] > 1e-9, axis / np.maximum(s[:, None], 1e-12), np.array([1.0, 0.0, 0.0]))
    half = angle / 2
    return np.concatenate([np.cos(half)[:, None], axis * np.sin(half)[:, None]], axis=1)


def _colours(points: np.ndarray, normals: np.ndarray, frames: list[np.ndarray], poses: list[np.ndarray], K: np.ndarray) -> np.ndarray:
    """Colour [N,3] in [0,1] of each point: from the frame that sees it most head-on."""
    best = np.full(len(points), -np.inf)
    colour = np.full((len(points), 3), 0.5)
    for image, world_from_camera in zip(frames, poses):
        h, w = image.shape[:2]
        cam = np.linalg.inv(world_from_camera)
        pc = points @ cam[:3, :3].T + cam[:3, 3]
        z = pc[:, 2]
        uv = pc[:, :2] / np.maximum(z[:, None], 1e-9) * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
        centre = world_from_camera[:3, 3]
        view = centre - points
        facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
        ui, vi = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
        ok = (z > 0.05) & (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h) & (facing > best)
        colour[ok] = image[vi[ok], ui[ok]] / 255.0
        best[ok] = facing[ok]
    return colour


def oracle_gaussians(gt: dict, capture_dir: Path, *, per_object: int = 3000, table: int = 6000, seed: int = 0) -> dict[str, np.ndarray]:
    """Flat Gaussians on the true surfaces of the objects and the table top, coloured from
    the video. Returns arrays for ``splat2sim.io.gaussians_ply.write_gaussians_ply`` plus
    ``owner`` [N] (object index, -1 = table) for tests."""
    import trimesh

    from splat2sim.render.conventions import SH_C0
    from splat2sim.synth.video import read_frames

    rng = np.random.default_rng(seed)
    pts, nrm, spacing, owner = [], [], [], []
    for index, obj in enumerate(gt["objects"]):
        mesh = trimesh.load(capture_dir / obj["mesh_file"], process=False, force="mesh")
        mesh.apply_transform(np.asarray(obj["world_from_object"]))
        p, n, share = _surface_samples(mesh, per_object, rng)
        pts.append(p), nrm.append(n), spacing.append(np.full(per_object, np.sqrt(share))), owner.append(np.full(per_object, index))
    sx, sy = gt["table"]["size"]
    top = np.stack([rng.uniform(-sx / 2, sx / 2, table), rng.uniform(-sy / 2, sy / 2, table), np.full(table, gt["table"]["top_height"])], axis=1)
    (
        pts.append(top),
        nrm.append(np.tile([0.0, 0.0, 1.0], (table, 1))),
        spacing.append(np.full(table, np.sqrt(sx * sy / table))),
        owner.append(np.full(table, -1)),
    )
    points, normals, spacing, owner = (np.concatenate(x) for x in (pts, nrm, spacing, owner))
    cam = gt["camera"]
    K = np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1.0]])  # OpenCV pixel centres
    video = read_frames(capture_dir / gt["video"]["file"])
    picks = np.linspace(0, len(video) - 1, 6).round().astype(int)
    colours = _colours(points, normals, [video[i] for i in picks], [np.asarray(gt["frames"][i]["world_from_camera"]) for i in picks], K)
    n = len(points)
    log_scales = np.log(np.stack([spacing, spacing, 0.15 * spacing], axis=1) * 0.9)
    sh = ((np.clip(colours, 0.02, 0.98) - 0.5) / SH_C0)[:, None, :]
    return {
        "means": points.astype(np.float32),
        "log_scales": log_scales.astype(np.float32),
        "quats": _quats_from_normals(normals).astype(np.float32),
        "opacity_logits": np.full(n, 3.0, np.float32),
        "sh": sh.astype(np.float32),
        "owner": owner.astype(np.int32),
        "colours": colours.astype(np.float32),
    }


def oracle_workspace(
    capture_dir: str | Path,
    workspace: str | Path,
    *,
    keyframes: int = 20,
    until: str = "splat",
    per_object: int = 3000,
    table: int = 6000,
    overrides: tuple[str, ...] = (),
) -> Path:
    """Build frames (real), poses (imported ground truth) and splat (imported oracle splat)."""
    from splat2sim import api
    from splat2sim.io.gaussians_ply import write_gaussians_ply

    capture_dir, workspace = Path(capture_dir), Path(workspace)
    gt = json.loads((capture_dir / "ground_truth.json").read_text())
    cam = gt["camera"]
    api.build(
        capture_dir / gt["video"]["file"],
        workspace,
        until="frames",
        overrides=[f"frames.target_count={keyframes}", f"frames.max_side={max(cam['width'], cam['height'])}"],
    )
    frames = json.loads((workspace / "frames" / "frames.json").read_text())["frames"]
    imports = workspace / "_imports"
    imports.mkdir(exist_ok=True)
    splat = oracle_gaussians(gt, capture_dir, per_object=per_object, table=table)
    write_gaussians_ply(imports / "gaussians.ply", splat["means"], splat["log_scales"], splat["quats"], splat["opacity_logits"], splat["sh"])
    np.save(imports / "owner.npy", splat["owner"])
    # sparse points for the poses import: a subsample of the oracle surface, with colours
    pick = np.random.default_rng(1).choice(len(splat["means"]), size=min(4000, len(splat["means"])), replace=False)
    _write_points_ply(imports / "points.ply", splat["means"][pick], splat["colours"][pick])
    transforms = {
        "camera_model": "OPENCV",
        "fl_x": cam["fx"], "fl_y": cam["fy"], "cx": cam["cx"] + 0.5, "cy": cam["cy"] + 0.5,  # nerfstudio: centres at +0.5
        "w": cam["width"], "h": cam["height"], "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "frames": [
            {"file_path": f["file"], "transform_matrix": (np.asarray(gt["frames"][f["source_index"]]["world_from_camera"]) @ GL_FROM_CV).tolist()}
            for f in frames
        ],
        "ply_file_path": "points.ply",
    }  # fmt: skip
    (imports / "transforms.json").write_text(json.dumps(transforms, indent=2))
    api.build(None, workspace, until=until, overrides=[
        f"poses.import_path={imports / 'transforms.json'}", "poses.import_metric=true",
        f"splat.import_ply={imports / 'gaussians.ply'}", "splat.import_frame=sfm", *overrides,
    ])  # fmt: skip
    return workspace


def _write_points_ply(path: Path, points: np.ndarray, colours: np.ndarray) -> None:
    n = len(points)
    data = np.zeros(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    data["x"], data["y"], data["z"] = points.T
    rgb = (np.clip(colours, 0, 1) * 255).astype(np.uint8)
    data["red"], data["green"], data["blue"] = rgb.T
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    path.write_bytes(header.encode() + data.tobytes())


def gt_to_world(workspace: str | Path) -> np.ndarray:
    """4x4 similarity taking ground-truth world coordinates into the workspace's world frame."""
    world = json.loads((Path(workspace) / "poses" / "world.json").read_text())
    return np.asarray(world["sim_from_sfm"]["matrix"], np.float64)
