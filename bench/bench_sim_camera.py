"""The splat as the simulator's camera (splat2sim.scene.camera) against ground truth, on
synthetic captures built end to end (bench_e2e's workspaces).

Per seed: the splat's held-out views (splat/metrics.json) are rendered by SplatCamera from
the pipeline's own camera poses (as the held-out PSNR is), and the same views are rendered
by the capture's MuJoCo model from the true poses (splat2sim.synth.states):

- filmed state: SplatCamera (background + per-object splats + support fill) vs the true
  render; compared with the splat's own held-out PSNR (vs the video frames) and with
  SplatCamera vs those video frames (2x2-averaged to the splat's 320x240).
- moved state: one object moved 8 cm and turned 30 degrees on the table (a move that
  keeps 1 cm from the other objects and the marker), in the true scene and, mapped by the
  pipeline-from-truth similarity (synth.evaluate.world_from_truth, then scale.json), in
  the simulated one: whole-image PSNR and SSIM, PSNR inside the object's old footprint
  (true pixels it covered that it no longer does) and its new one; the depth of object
  pixels (both call them an object's, 2 px inside) against the true depth (mapped into
  the scene's frame) and against MuJoCo's depth render of the exported scene.
- fps: SplatCamera.render at 640x480, native backend, all cores (run with ``--fps``
  without OMP_NUM_THREADS=1), median of 5 after one warm-up.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sim_camera.py [--seeds 300 301 302]
    .venv/bin/python bench/bench_sim_camera.py --fps        # adds fps_cpu to the same json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("MUJOCO_GL", "egl")

from machine import cpu_model  # noqa: E402

E2E = REPO / "workspaces" / "bench_e2e"  # built by bench/bench_e2e.py
WORKSPACES = E2E / "after__59b650d__the_build_s_own_choice_"
OUT = REPO / "bench" / "results" / "sim_camera.json"
MOVE, TURN_DEG, CLEARANCE = 0.08, 30.0, 0.01


def _psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """PSNR (dB) of images [H,W,3] in [0, 1], over ``mask`` [H,W] when given."""
    d = (a - b) ** 2
    if mask is not None:
        if mask.sum() < 20:
            return None
        d = d[mask]
    return float(10 * np.log10(1.0 / max(float(d.mean()), 1e-12)))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    import torch

    from splat2sim.stages.splat.ssim import ssim

    return float(ssim(torch.from_numpy(a[None]).double(), torch.from_numpy(b[None]).double()))


def _yaw(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def choose_move(gt: dict, rng: np.random.Generator, movable: list[int]) -> tuple[int, np.ndarray, float]:
    """(object index, new world_from_object in the truth frame, distance): the first of
    ``movable`` with a direction (tried in a random order) that keeps it on the table,
    CLEARANCE from the others (footprints as circles of the half-diagonal of the xy box) and
    the marker; MOVE, else 3/4 or 1/2 of it."""
    centres = [np.asarray(o["world_aabb_min"])[:2] / 2 + np.asarray(o["world_aabb_max"])[:2] / 2 for o in gt["objects"]]
    radii = [float(np.linalg.norm(np.asarray(o["world_aabb_max"])[:2] - np.asarray(o["world_aabb_min"])[:2]) / 2) for o in gt["objects"]]
    if gt.get("marker"):
        m = gt["marker"]
        centres.append(np.asarray(m["center"])[:2])
        radii.append(float(np.sqrt(2) * (m["size"] / 2 + m["border"])))
    half = np.asarray(gt["table"]["size"]) / 2 - 0.05
    for i, dist, angle in ((i, d, a) for d in (MOVE, 0.75 * MOVE, 0.5 * MOVE) for i in movable for a in rng.permutation(8) * 45.0):
        step = dist * np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
        c = centres[i] + step
        if np.any(np.abs(c) + radii[i] > half):
            continue
        if all(np.linalg.norm(c - centres[j]) > radii[i] + radii[j] + CLEARANCE for j in range(len(centres)) if j != i):
            old = np.asarray(gt["objects"][i]["world_from_object"], np.float64)
            new = old.copy()
            new[:3, :3] = _yaw(TURN_DEG) @ old[:3, :3]
            # turned about the footprint's centre (not the object's origin), then moved
            new[:3, 3] = np.r_[c + _yaw(TURN_DEG)[:2, :2] @ (old[:2, 3] - centres[i]), old[2, 3]]
            return i, new, dist
    raise RuntimeError("no free place to move an object to")


def _views(ws: Path, gt: dict, scale: float):
    """The splat's held-out views: (pipeline world_from_camera in the metric frame [V,4,4],
    intrinsics at the splat's size [4], (w, h), true world_from_camera [V,4,4], files)."""
    metrics = json.loads((ws / "splat" / "metrics.json").read_text())
    w, h = metrics["image_size"]
    source = {f["file"]: f["source_index"] for f in json.loads((ws / "frames" / "frames.json").read_text())["frames"]}
    doc = json.loads((ws / "poses" / "cameras.json").read_text())
    by_file = {f["file"]: f for f in doc["frames"]}
    ours, truth, files = [], [], []
    for file in metrics["held_out"]["frames"]:
        f = by_file[file]
        k = (doc.get("cameras") or [doc["intrinsics"]])[f.get("camera", 0)]
        pose = np.asarray(f["world_from_camera"], np.float64)
        pose[:3, 3] *= scale
        ours.append(pose)
        truth.append(np.asarray(gt["frames"][source[file]]["world_from_camera"], np.float64))
        files.append(file)
    intr = np.array([k["fx"] * w / k["width"], k["fy"] * h / k["height"], k["cx"] * w / k["width"], k["cy"] * h / k["height"]])
    return np.stack(ours), intr, (w, h), np.stack(truth), files, metrics["held_out"]["psnr"]


def _match_bodies(scene, gt: dict, metric_from_truth: np.ndarray) -> dict[int, str]:
    """{true object index: body name}: each body's origin (its footprint's centre on the
    table) to the nearest true object's box centre in the scene's frame, in xy, within 5 cm."""
    out = {}
    for b in scene.bodies:
        centres = [metric_from_truth @ np.r_[(np.asarray(o["world_aabb_min"]) + np.asarray(o["world_aabb_max"])) / 2, 1.0] for o in gt["objects"]]
        d = [np.linalg.norm(c[:2] - np.asarray(b.position)[:2]) for c in centres]
        if min(d) < 0.05 and int(np.argmin(d)) not in out:
            out[int(np.argmin(d))] = b.name
    return out


def _mujoco_depth(scene, body: str, pose: np.ndarray, world_from_camera: np.ndarray, intr: np.ndarray, size) -> np.ndarray:
    """[H,W] MuJoCo depth (camera z) of the exported scene with ``body`` at ``pose``, from a camera."""
    import mujoco

    from splat2sim.scene.keyframes import mujoco_quat

    w, h = size
    model, data = scene.to_mujoco()
    adr = model.jnt_qposadr[model.body(body).jntadr[0]]
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, pose[:3, :3].ravel())
    data.qpos[adr : adr + 7] = np.r_[pose[:3, 3], q]
    cid = 0
    model.cam_pos[cid], model.cam_quat[cid] = world_from_camera[:3, 3], mujoco_quat(world_from_camera)
    model.cam_resolution[cid], model.cam_sensorsize[cid] = (w, h), (w * 1e-6, h * 1e-6)
    model.cam_intrinsic[cid] = (intr[0] * 1e-6, intr[1] * 1e-6, (w / 2 - intr[2]) * 1e-6, (h / 2 - intr[3]) * 1e-6)
    mujoco.mj_forward(model, data)
    r = mujoco.Renderer(model, height=h, width=w)
    try:
        r.enable_depth_rendering()
        r.update_scene(data, camera=cid)
        return r.render()
    finally:
        r.close()


def _video_frame(ws: Path, file: str, size) -> np.ndarray:
    import imageio.v3 as iio

    img = iio.imread(ws / "frames" / file).astype(np.float64) / 255.0  # [H0,W0,3]
    f = img.shape[1] // size[0]
    return img.reshape(size[1], f, size[0], f, 3).mean((1, 3))  # [H,W,3]: the f x f average


def bench_seed(seed: int) -> dict:
    from scipy import ndimage

    from splat2sim.scene import load
    from splat2sim.synth.evaluate import world_from_truth
    from splat2sim.synth.states import render_state

    ws, capture = WORKSPACES / f"synth_{seed}", E2E / f"capture_{seed}"
    gt = json.loads((capture / "ground_truth.json").read_text())
    scale = float(json.loads((ws / "scale" / "scale.json").read_text())["scale"])
    world_T, fit_rms = world_from_truth(capture, ws)
    S = np.diag([scale, scale, scale, 1.0]) @ world_T  # metric_from_truth, a similarity
    s = float(np.cbrt(np.linalg.det(S[:3, :3])))
    scene = load(ws / "export")  # the filmed poses (check's repairs lift some objects by ~1.5 mm)
    cam = scene.camera(backend="native")
    ours, intr, size, truth_cams, files, heldout_psnr = _views(ws, gt, scale)
    bodies = _match_bodies(scene, gt, S)
    index, new_truth, dist = choose_move(gt, np.random.default_rng(seed), sorted(bodies))
    name, body = gt["objects"][index]["name"], bodies[index]
    moved_truth = new_truth @ np.linalg.inv(np.asarray(gt["objects"][index]["world_from_object"], np.float64))  # truth frame
    b = scene.body(body)
    from splat2sim.scene.camera import _matrix

    new_body = S @ moved_truth @ np.linalg.inv(S) @ _matrix(b.position, b.quaternion)
    filmed = render_state(capture, {}, truth_cams, width=size[0], height=size[1])
    moved = render_state(capture, {name: new_truth}, truth_cams, width=size[0], height=size[1])
    rows = []
    for v in range(len(files)):
        sf = cam.render(world_from_camera=ours[v], intrinsics=intr, width=size[0], height=size[1])
        sm = cam.render({body: new_body}, world_from_camera=ours[v], intrinsics=intr, width=size[0], height=size[1])
        tf, tm = filmed.rgb[v] / 255.0, moved.rgb[v] / 255.0
        old = (filmed.object_ids[v] == index) & (moved.object_ids[v] != index)
        new = moved.object_ids[v] == index
        k = sm.names.index(body)
        inner = ndimage.binary_erosion(sm.object_ids == k, iterations=2) & ndimage.binary_erosion(new, iterations=2) & (sm.depth > 0)
        mj = _mujoco_depth(scene, body, new_body, ours[v], intr, size)
        rows.append({
            "file": files[v],
            "psnr_filmed": _psnr(sf.rgb, tf), "psnr_filmed_vs_video": _psnr(sf.rgb, _video_frame(ws, files[v], size)),
            "psnr_moved": _psnr(sm.rgb, tm), "ssim_moved": _ssim(sm.rgb, tm),
            "psnr_old_footprint": _psnr(sm.rgb, tm, old), "psnr_new_footprint": _psnr(sm.rgb, tm, new),
            "old_footprint_px": int(old.sum()), "new_footprint_px": int(new.sum()), "depth_px": int(inner.sum()),
            "depth_mm_vs_truth": float(1000 * np.median(np.abs(sm.depth - s * moved.depth[v])[inner])) if inner.sum() >= 20 else None,
            "depth_mm_vs_mujoco": float(1000 * np.median(np.abs(sm.depth - mj)[inner & (mj < 10)])) if (inner & (mj < 10)).sum() >= 20 else None,
        })  # fmt: skip
    mean = lambda key: _mean([r[key] for r in rows])  # noqa: E731
    return {
        "seed": seed, "workspace": str(ws), "capture": str(capture), "moved": {"object": name, "body": body, "move_m": dist, "turn_deg": TURN_DEG},
        "camera_fit_rms": fit_rms, "truth_to_scene_scale": s, "splat_heldout_psnr": heldout_psnr,
        **{key: mean(key) for key in ("psnr_filmed", "psnr_filmed_vs_video", "psnr_moved", "ssim_moved", "psnr_old_footprint",
                                      "psnr_new_footprint", "depth_mm_vs_truth", "depth_mm_vs_mujoco")},
        "views": rows,
    }  # fmt: skip


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def bench_fps(seed: int, repeats: int = 5) -> dict:
    import torch

    from splat2sim.scene import load

    scene = load(WORKSPACES / f"synth_{seed}" / "export")
    cam = scene.camera(backend="native")
    load_before = os.getloadavg()
    cam.render(camera=0, width=640, height=480)  # warm-up (and the extension's first load)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cam.render(camera=0, width=640, height=480)
        times.append(time.perf_counter() - t0)
    return {"fps_cpu": round(1.0 / statistics.median(times), 3), "fps_seconds": [round(t, 4) for t in times], "fps_seed": seed,
            "fps_size": [640, 480], "fps_backend": "native", "fps_torch_threads": torch.get_num_threads(),
            "fps_omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "fps_gaussians": int(len(cam.background["means"]) + sum(len(o["means"]) for o in cam._objects)),
            "fps_load_average_before": [round(x, 2) for x in load_before], "fps_load_average_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[300, 301, 302])
    parser.add_argument("--fps", action="store_true", help="time the 640x480 render only, and add it to the results")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc.update({"cpu_model": cpu_model(), "cpu_count": os.cpu_count()})
    if args.fps:
        doc.update(bench_fps(args.seeds[0]))
    else:
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        seeds = [bench_seed(s) for s in args.seeds]
        doc.update({"seeds": seeds, "seconds": round(time.perf_counter() - t0, 1), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()], "omp_num_threads": os.environ.get("OMP_NUM_THREADS")})  # fmt: skip
        for key in ("psnr_filmed", "psnr_filmed_vs_video", "splat_heldout_psnr", "psnr_moved", "ssim_moved", "psnr_old_footprint",
                    "psnr_new_footprint", "depth_mm_vs_truth", "depth_mm_vs_mujoco"):  # fmt: skip
            doc[key] = _mean([s[key] for s in seeds])
        doc["psnr_filmed_minus_heldout"] = round(doc["psnr_filmed_vs_video"] - doc["splat_heldout_psnr"], 3)
        doc["notes"] = (
            "psnr_filmed* and splat_heldout_psnr are on the splat's held-out views, rendered from the pipeline's poses; "
            "psnr_filmed_vs_video compares with the video frames as the held-out PSNR does (the same number: SplatCamera at the "
            "filmed state is the whole splat), psnr_filmed with the clean MuJoCo render from the true pose (lower: the splat "
            "fits the video's compression, and the poses are estimates). Moved: one object per seed, see seeds[].moved."
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(json.dumps({k: v for k, v in doc.items() if k != "seeds"}, indent=2))


if __name__ == "__main__":
    main()
