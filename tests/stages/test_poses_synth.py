"""The poses stage on synthetic captures with ground truth (splat2sim.synth).

One small capture runs by default; several seeds at full length are marked slow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from splat2sim import api

synth = pytest.importorskip("splat2sim.synth")


def umeyama(src: np.ndarray, dst: np.ndarray):
    """Similarity (s, R, t) with dst ~ s R src + t (least squares)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    U, D, Vt = np.linalg.svd(xd.T @ xs / len(src))
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1
    R = U @ S @ Vt
    s = np.trace(np.diag(D) @ S) / ((xs**2).sum() / len(src))
    return s, R, mu_d - s * R @ mu_s


def evaluate(ws: Path, gt: dict) -> dict:
    """Errors of the stage's result against the generator's ground truth."""
    cams = json.loads((ws / "poses/cameras.json").read_text())
    frames = json.loads((ws / "frames/frames.json").read_text())["frames"]
    est, ref = [], []
    for f, c in zip(frames, cams["frames"]):
        if c["registered"]:
            est.append(np.array(c["world_from_camera"]))
            ref.append(np.array(gt["frames"][f["source_index"]]["world_from_camera"]))
    est, ref = np.asarray(est), np.asarray(ref)
    s, R, t = umeyama(est[:, :3, 3], ref[:, :3, 3])
    aligned = s * est[:, :3, 3] @ R.T + t
    rot = [np.degrees(np.arccos(np.clip((np.trace(r[:3, :3].T @ R @ e[:3, :3]) - 1) / 2, -1, 1))) for e, r in zip(est, ref)]
    # The ground-truth table top (z = 0 around the scene centre) seen in the estimate's frame.
    cx, cy = gt["scene_center"][:2]
    grid = np.array([[cx + dx, cy + dy, 0.0] for dx in (-0.2, 0, 0.2) for dy in (-0.2, 0, 0.2)])
    table_in_est = ((grid - t) @ R) / s
    return {
        "registered_fraction": len(est) / len(frames),
        "rotation_error_median_deg": float(np.median(rot)),
        "trajectory_rmse_over_radius": float(np.sqrt(np.mean(np.sum((aligned - ref[:, :3, 3]) ** 2, 1))) / gt["config"]["orbit_radius"]),
        "scale_error": float(abs(s - 1)),
        "gravity_error_deg": float(np.degrees(np.arccos(np.clip((R @ [0, 0, 1.0])[2], -1, 1)))),
        "table_z_max_abs_m": float(np.abs(table_in_est[:, 2]).max()),
    }


def check_accuracy(m: dict) -> None:
    assert m["registered_fraction"] >= 0.95, m
    assert m["rotation_error_median_deg"] < 0.5, m
    assert m["trajectory_rmse_over_radius"] < 0.005, m
    assert m["scale_error"] < 0.02, m
    assert m["gravity_error_deg"] < 1.0, m
    assert m["table_z_max_abs_m"] < 0.005, m


def build_synthetic(root: Path, seed: int, *, duration_s: float, fps: int, keyframes: int) -> tuple[Path, dict]:
    capture = root / f"capture_{seed}"
    synth.generate_capture(capture, synth.SynthConfig(seed=seed, duration_s=duration_s, fps=fps))
    ws = root / f"ws_{seed}"
    api.build(
        capture / "video.mp4",
        ws,
        overrides=[f"frames.target_count={keyframes}", "poses.marker_size=0.08"],
        until="poses",
    )
    return ws, json.loads((capture / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    # 30 keyframes at 640x480 from a 3 s, 10 fps handheld orbit with an 8 cm marker.
    return build_synthetic(tmp_path_factory.mktemp("poses_synth"), 0, duration_s=3.0, fps=10, keyframes=30)


def test_synthetic_capture_poses_gravity_origin_and_marker_scale(synthetic):
    ws, gt = synthetic
    metrics = evaluate(ws, gt)
    check_accuracy(metrics)
    record = json.loads((ws / "poses/_stage.json").read_text())
    assert record["metrics"]["scale_source"] == "marker"
    assert record["metrics"]["registered_fraction"] >= 0.95
    assert record["metrics"]["reprojection_error_px"] < 1.0
    assert record["backend"].startswith("pycolmap")
    assert not any("scale" in w for w in record["warnings"]), record["warnings"]


def test_outputs_agree_with_each_other(synthetic):
    import pycolmap

    ws, gt = synthetic
    out = ws / "poses"
    cams = json.loads((out / "cameras.json").read_text())
    world = json.loads((out / "world.json").read_text())
    assert cams["schema_version"] == 1 and world["schema_version"] == 1
    assert world["up_axis"] == "+z" and world["units"] == "metres" and world["scale_source"] == "marker"
    sim = world["sim_from_sfm"]
    assert np.allclose(np.array(sim["matrix"])[:3, :3], sim["scale"] * np.array(sim["rotation"]), atol=1e-8)
    intr = cams["intrinsics"]
    assert (intr["width"], intr["height"]) == (640, 480)
    assert intr["fx"] == pytest.approx(gt["camera"]["fx"], rel=0.02)
    # The COLMAP model in sparse/ is in the same (final) frame as cameras.json.
    rec = pycolmap.Reconstruction(str(out / "sparse"))
    by_name = {im.name: im for im in rec.images.values()}
    for frame in cams["frames"]:
        if not frame["registered"]:
            continue
        image = by_name[Path(frame["file"]).name]
        cfw = np.eye(4)
        cfw[:3, :4] = image.cam_from_world().matrix()
        assert np.allclose(np.linalg.inv(cfw), np.array(frame["world_from_camera"]), atol=1e-6)
    # Cameras are above the table; the table's points lie at z ~ 0 in points3d.ply.
    centres = np.array([f["world_from_camera"] for f in cams["frames"] if f["registered"]])[:, :3, 3]
    assert (centres[:, 2] > 0.2).all()
    header, _, body = (out / "points3d.ply").read_bytes().partition(b"end_header\n")
    n = int(header.split(b"element vertex ")[1].split(b"\n")[0])
    pts = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")], count=n)
    assert n == rec.num_points3D() > 500
    z = pts["z"][np.abs(pts["z"]) < 0.01]
    assert len(z) > 0.2 * n and abs(np.median(z)) < 0.002


def test_imports_reproduce_the_poses(synthetic, tmp_path):
    """The stage's own outputs, imported back as a COLMAP model and as a nerfstudio
    transforms.json (OpenGL axes), give the same poses."""
    ws, _ = synthetic
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    cams = json.loads((ws / "poses/cameras.json").read_text())
    reference = {f["file"]: np.array(f["world_from_camera"]) for f in cams["frames"] if f["registered"]}

    api.run_stage(copy, "poses", overrides=[f"poses.import_path={ws / 'poses/sparse'}", "poses.import_metric=true", "poses.marker_size=null"])
    got = json.loads((copy / "poses/cameras.json").read_text())
    world = json.loads((copy / "poses/world.json").read_text())
    assert world["scale_source"] == "imported_metric" and world["imported"]["kind"] == "colmap"
    # the import re-triangulates the points (multi-threaded matching, not bit-reproducible)
    # and fits the support plane to them again: the world frame may turn by ~0.1 degree
    for f in got["frames"]:
        assert np.allclose(np.array(f["world_from_camera"]), reference[f["file"]], atol=5e-3)

    intr = cams["intrinsics"]
    transforms = {
        "camera_model": "OPENCV",
        "fl_x": intr["fx"],
        "fl_y": intr["fy"],
        "cx": intr["cx"],
        "cy": intr["cy"],
        "w": intr["width"],
        "h": intr["height"],
        "k1": intr["distortion"]["k1"],
        "ply_file_path": "sparse_pc.ply",
        "frames": [
            {"file_path": f"images/{Path(name).name}", "transform_matrix": (T @ np.diag([1, -1, -1, 1])).tolist()} for name, T in reference.items()
        ],
    }
    ns = tmp_path / "ns"
    ns.mkdir()
    (ns / "transforms.json").write_text(json.dumps(transforms))
    shutil.copy(ws / "poses/points3d.ply", ns / "sparse_pc.ply")
    api.run_stage(copy, "poses", overrides=[f"poses.import_path={ns / 'transforms.json'}", "poses.import_metric=false"])
    record = json.loads((copy / "poses/_stage.json").read_text())
    world = json.loads((copy / "poses/world.json").read_text())
    assert world["imported"]["kind"] == "nerfstudio"
    # the capture's marker is in view but no size is set (the first import cleared it): the warning says so
    assert world["scale_source"] == "unknown" and any("its size was not given" in w for w in record["warnings"])
    got = json.loads((copy / "poses/cameras.json").read_text())
    for f in got["frames"]:
        # Not metric, but the file already was: the same frame comes out (scale 1).
        assert np.allclose(np.array(f["world_from_camera"]), reference[f["file"]], atol=2e-3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_captures_several_seeds(tmp_path, seed):
    ws, gt = build_synthetic(tmp_path, seed, duration_s=6.0, fps=30, keyframes=40)
    check_accuracy(evaluate(ws, gt))


@pytest.mark.slow
def test_transforms_json_without_points_is_triangulated(synthetic, tmp_path):
    """instant-ngp style transforms.json (no point cloud): points are triangulated from
    the keyframes with the imported poses held fixed, and the support plane is found."""
    ws, _ = synthetic
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    cams = json.loads((ws / "poses/cameras.json").read_text())
    intr = cams["intrinsics"]
    reference = {f["file"]: np.array(f["world_from_camera"]) for f in cams["frames"] if f["registered"]}
    transforms = {
        "camera_angle_x": 2 * np.arctan(0.5 * intr["width"] / intr["fx"]),
        "frames": [
            {"file_path": f"./images/{Path(name).stem}", "transform_matrix": (T @ np.diag([1, -1, -1, 1])).tolist()} for name, T in reference.items()
        ],
    }
    (tmp_path / "transforms.json").write_text(json.dumps(transforms))
    api.run_stage(
        copy, "poses", overrides=[f"poses.import_path={tmp_path / 'transforms.json'}", "poses.import_metric=true", "poses.marker_size=null"]
    )
    record = json.loads((copy / "poses/_stage.json").read_text())
    assert record["metrics"]["points3d"] > 1000 and not record["fallbacks"], record["warnings"]
    world = json.loads((copy / "poses/world.json").read_text())
    assert world["imported"]["kind"] == "instant-ngp" and world["support_plane"]["found"]
    got = json.loads((copy / "poses/cameras.json").read_text())
    for f in got["frames"]:
        assert np.allclose(np.array(f["world_from_camera"]), reference[f["file"]], atol=5e-3)


def test_a_visible_marker_without_a_size_is_reported(synthetic, tmp_path):
    """The capture's marker (DICT_4X4_50, id 0) with no poses.marker_size: the scale stays
    unknown, and the record says which marker it saw, in how many keyframes, and how to pass
    its size."""
    ws, _ = synthetic
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    api.run_stage(copy, "poses", overrides=[f"poses.import_path={ws / 'poses/sparse'}", "poses.import_metric=false", "poses.marker_size=null"])
    record = json.loads((copy / "poses/_stage.json").read_text())
    world = json.loads((copy / "poses/world.json").read_text())
    assert world["scale_source"] == "unknown"
    (warning,) = [w for w in record["warnings"] if "marker" in w]
    assert "DICT_4X4_50, id 0" in warning and "--marker-size" in warning
    (check,) = world["scale_checks"]
    assert check["dictionary"] == "DICT_4X4_50" and check["ids"] == [0] and check["keyframes"] >= 6
