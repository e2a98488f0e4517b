"""The splat stage: load posed keyframes and SfM points, train (or import), evaluate, write
gaussians.ply, metrics.json and held-out preview renders."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import cv2
import numpy as np

from splat2sim.artifacts import poses as poses_artifacts
from splat2sim.artifacts import splat as splat_artifacts
from splat2sim.errors import InputError, StageError
from splat2sim.stages.base import StageContext


def _read_points_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """xyz [P,3] and rgb [P,3] in [0,1] from the poses stage's binary PLY."""
    import trimesh

    cloud = trimesh.load(path, process=False)
    points = np.asarray(cloud.vertices, dtype=np.float32)
    colours = getattr(cloud, "colors", None)
    if colours is None or len(colours) != len(points):
        colours = np.full((len(points), 3), 127, np.uint8)
    return points, np.asarray(colours)[:, :3].astype(np.float32) / 255.0


def load_views(ctx: StageContext, max_side: int):
    """Undistorted, resized training images and pinhole cameras of the registered frames."""
    import torch

    from splat2sim.render import Cameras
    from splat2sim.stages.splat.train import TrainViews

    cams = ctx.read(poses_artifacts.CAMERAS).to_dict()
    intrinsics_list = cams.get("cameras") or [cams["intrinsics"]]
    frames = [f for f in cams["frames"] if f.get("registered", True) and f.get("world_from_camera") is not None]
    if len(frames) < 2:
        raise StageError(f"only {len(frames)} registered frame(s) to train on", hint="re-run poses with more keyframes")
    images, w2c, intr = [], [], []
    size = None
    for frame in frames:
        k = intrinsics_list[frame.get("camera", 0)]
        path = ctx.upstream_dir("frames") / frame["file"]
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise InputError(f"keyframe {path} cannot be read", hint="re-run the frames stage (`splat2sim build --force frames`)")
        h, w = bgr.shape[:2]
        fx, fy, cx, cy = k["fx"], k["fy"], k["cx"], k["cy"]
        d = k.get("distortion", {})
        dist = np.array([d.get("k1", 0.0), d.get("k2", 0.0), d.get("p1", 0.0), d.get("p2", 0.0)])
        if np.any(np.abs(dist) > 1e-6):
            # OpenCV puts pixel centres on integers; cameras.json uses the corner convention.
            K = np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1]])
            bgr = cv2.undistort(bgr, K, dist, None, K)
        scale = min(1.0, max_side / max(w, h))
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        sh, sw = bgr.shape[:2]
        sx, sy = sw / w, sh / h
        if size is None:
            size = (sw, sh)
        elif size != (sw, sh):
            raise StageError("keyframes have different sizes", hint="the frames stage writes one size; re-run it")
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        w2c.append(np.asarray(frame["world_from_camera"], np.float64))
        intr.append([fx * sx, fy * sy, cx * sx, cy * sy])
    imgs = torch.tensor(np.stack(images), dtype=torch.float32) / 255.0
    cameras = Cameras(torch.tensor(np.stack(w2c), dtype=torch.float32), torch.tensor(intr, dtype=torch.float32), size[0], size[1])
    every = ctx.config.holdout_every
    test = [i for i in range(len(frames)) if every and i % every == every // 2] if len(frames) >= 4 else []
    train = [i for i in range(len(frames)) if i not in test]
    return TrainViews(imgs, cameras, train, test), [f["file"] for f in frames]


def run(ctx: StageContext) -> None:
    import torch

    from splat2sim.io.gaussians_ply import read_gaussians_ply, validate_gaussians, write_gaussians_ply
    from splat2sim.render import Gaussians
    from splat2sim.stages.splat import train as T

    cfg = ctx.config
    seed = ctx.run_config.seed
    torch.manual_seed(seed)
    device = "cuda" if ctx.run_config.device == "cuda" else "cpu"
    if ctx.run_config.device == "auto" and torch.cuda.is_available():
        device = "cuda"
    backend = ctx.render_backend(cfg.backend, device)
    reason = ctx.metrics["backend_reason"]
    views, files = load_views(ctx, cfg.train_max_side)
    views = views.to(device)
    t0 = time.perf_counter()
    if cfg.import_ply:
        data = read_gaussians_ply(Path(cfg.import_ply).expanduser())
        validate_gaussians(data, Path(cfg.import_ply).expanduser())
        if cfg.import_frame == "sfm":
            data = _sfm_to_world(ctx, data)
        gaussians = Gaussians(*(torch.tensor(data[k], device=device) for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))
        history = {"loss": [], "densify": [], "imported": str(cfg.import_ply)}
        ctx.metrics["imported_from"] = str(Path(cfg.import_ply).expanduser().resolve())
    else:
        model = _initial_model(ctx, views, device)
        with ctx.timed("train"), ctx.progress(f"Training ({backend})", total=cfg.iterations) as task:
            history = T.train(model, views, cfg, backend=backend, seed=seed, progress=task)
        gaussians = model.gaussians()
    train_seconds = time.perf_counter() - t0
    g = Gaussians(*(t.detach() for t in (gaussians.means, gaussians.log_scales, gaussians.quats, gaussians.opacity_logits, gaussians.sh)))
    with ctx.timed("evaluate"):
        held_out = T.evaluate(g, views, views.test, backend=backend)
        seen = T.evaluate(g, views, views.train[:: max(1, len(views.train) // 8)], backend=backend)
    write_gaussians_ply(
        ctx.out_dir / "gaussians.ply",
        *(t.cpu().numpy() for t in (g.means, g.log_scales, g.quats, g.opacity_logits, g.sh)),
    )  # fmt: skip
    _previews(ctx.out_dir, g, views, backend, cfg.preview_views)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    metrics = {
        "backend": backend,
        "backend_reason": reason,
        "gaussians": g.num,
        "iterations": 0 if cfg.import_ply else cfg.iterations,
        "train_seconds": round(train_seconds, 2),
        "peak_memory_mb": round(peak_mb, 1),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None,
        "image_size": [views.cameras.width, views.cameras.height],
        "held_out": {**held_out, "frames": [files[i] for i in views.test]},
        "training_views": {**seen, "frames": len(views.train)},
        "lpips": None,
        "lpips_note": "LPIPS needs pretrained network weights, which splat2sim never downloads implicitly",
        "final_loss": history["loss"][-1] if history["loss"] else None,
        "densification": history["densify"],
        "scene_extent": history.get("extent"),
        "init_points": ctx.metrics.get("init_points"),
    }
    splat_artifacts.METRICS.write(ctx.out_dir, metrics)
    if not views.test:
        ctx.warn("too few frames to hold any out: PSNR/SSIM are measured on training views only")
    elif held_out["psnr"] is not None and held_out["psnr"] < 18:
        ctx.warn(f"held-out PSNR is low ({held_out['psnr']:.1f} dB): check poses, or train longer (splat.iterations)")
    ctx.metrics.update({k: metrics[k] for k in ("gaussians", "iterations", "train_seconds", "peak_memory_mb")})
    ctx.metrics["psnr_held_out"] = held_out["psnr"]
    ctx.metrics["ssim_held_out"] = held_out["ssim"]
    ctx.summary += [
        ("backend", f"{backend} ({reason})"),
        ("gaussians", str(g.num)),
        ("iterations", str(metrics["iterations"])),
        ("held-out PSNR / SSIM", f"{held_out['psnr']} dB / {held_out['ssim']} ({held_out['views']} views)"),
        ("training-view PSNR", f"{seen['psnr']} dB"),
        ("time", f"{train_seconds:.1f} s, peak memory {peak_mb:.0f} MB"),
    ]


def _initial_model(ctx: StageContext, views, device: str):
    """Gaussians at the sparse SfM points, filled from the views up to the budget's half."""
    from splat2sim.stages.splat import train as T

    cfg = ctx.config
    seed = ctx.run_config.seed
    points, colours = _read_points_ply(poses_artifacts.POINTS.require(ctx.upstream_dir("poses")))
    if len(points) < 10:
        raise StageError(f"the poses stage left only {len(points)} sparse points", hint="re-run poses; the scene needs texture")
    if len(points) > cfg.init_max_points:
        pick = np.random.default_rng(seed).choice(len(points), cfg.init_max_points, replace=False)
        points, colours = points[pick], colours[pick]
    fill_to = cfg.max_gaussians // 2 if cfg.init_fill_to < 0 else cfg.init_fill_to
    init = {"sfm_points": int(len(points)), "from_views": 0}
    if len(points) < fill_to:
        from splat2sim.stages.splat.init import fill_from_views

        extra, extra_colours, fill_stats = fill_from_views(
            points, views.images.cpu().numpy(), views.cameras.world_from_camera.cpu().numpy().astype(np.float64),
            views.cameras.intrinsics.cpu().numpy().astype(np.float64), views.train, fill_to - len(points),
            np.random.default_rng(seed + 1),
        )  # fmt: skip
        points, colours = np.concatenate([points, extra]), np.concatenate([colours, extra_colours])
        init.update(from_views=int(len(extra)), **fill_stats)
    ctx.metrics["init_points"] = init
    return T.SplatModel(
        T.initial_gaussians(points, colours, cfg.sh_degree, cfg.init_opacity),
        {
            "means": cfg.lr_means,
            "log_scales": cfg.lr_scales,
            "quats": cfg.lr_quats,
            "opacity_logits": cfg.lr_opacity,
            "sh_dc": cfg.lr_sh_dc,
            "sh_rest": cfg.lr_sh_dc * cfg.lr_sh_rest_factor,
        },
        device=device,
    )


def _sfm_to_world(ctx: StageContext, data: dict) -> dict:
    """Apply world.json's similarity to a splat trained in the SfM frame."""
    world = ctx.read(poses_artifacts.WORLD).to_dict()
    sim = world["sim_from_sfm"]
    s, R, t = float(sim["scale"]), np.asarray(sim["rotation"], np.float64), np.asarray(sim["translation"], np.float64)
    out = dict(data)
    out["means"] = (s * data["means"] @ R.T + t).astype(np.float32)
    out["log_scales"] = (data["log_scales"] + np.log(s)).astype(np.float32)
    from scipy.spatial.transform import Rotation

    q = data["quats"] / np.linalg.norm(data["quats"], axis=1, keepdims=True)
    rot = Rotation.from_matrix(R) * Rotation.from_quat(q[:, [1, 2, 3, 0]])
    xyzw = rot.as_quat()
    out["quats"] = xyzw[:, [3, 0, 1, 2]].astype(np.float32)
    if data["sh"].shape[1] > 1 and not np.allclose(R, np.eye(3), atol=1e-6):
        out["sh"] = data["sh"][:, :1].copy()
        ctx.fallback("import_ply view-dependent colour", "SH degree 0 (base colour)", "rotating higher SH bands is not implemented")
    return out


def _previews(out_dir: Path, g, views, backend: str, count: int) -> None:
    """renders/<frame>.jpg: the held-out image (left) beside the splat's render (right)."""
    import torch

    from splat2sim.render import render

    picks = views.test[:count] if views.test else views.train[:count]
    if not picks:
        return
    folder = out_dir / "renders"
    folder.mkdir()
    with torch.no_grad():
        for i in picks:
            rgb = render(g, views.camera(i), backend=backend).rgb[0].clamp(0, 1).cpu().numpy()
            pair = np.concatenate([views.images[i].cpu().numpy(), rgb], axis=1)
            cv2.imwrite(str(folder / f"view_{i:03d}.jpg"), cv2.cvtColor((pair * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
