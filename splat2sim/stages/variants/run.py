"""The variants stage: N domain-randomized copies of the (checked) scene, each in every
format under NNNN/, sharing one assets/ folder; variants.json records every sampled value
and how each variant settled in MuJoCo and pybullet."""

from __future__ import annotations

import os
from dataclasses import dataclass

from splat2sim.artifacts import check as check_artifacts
from splat2sim.artifacts import export as export_artifacts
from splat2sim.artifacts import variants as variants_artifacts
from splat2sim.stages.base import StageContext


@dataclass
class _Tolerances:
    seconds: float
    drift_mm: float = 2.0
    rotation_deg: float = 2.0
    penetration_mm: float = 2.0
    mujoco: bool = True
    pybullet: bool = True


def base_scene(ctx: StageContext):
    from splat2sim.scene.model import load_scene

    checked = check_artifacts.CHECKED_SCENE.path(ctx.upstream_dir("check"))
    if checked.is_file():
        return load_scene(checked), "check/scene.json"
    return load_scene(export_artifacts.SCENE.path(ctx.upstream_dir("export"))), "export/scene.json"


def _check_variant(folder, tol, k: int, failures: list[str]) -> dict:
    """Load and settle one variant in each simulator and validate its USD; failures appended."""
    from splat2sim.stages.check.run import check_scene

    sims = check_scene(folder, tol)
    from splat2sim.scene.usd import validate_usd

    usd = validate_usd(folder / "usd" / "scene.usda")
    check = {"usd_ok": usd["ok"]}
    for name, sim in sims.items():
        bodies = sim.get("bodies", {})
        ok = sim.get("loaded", False) and all(b["settled"] for b in bodies.values())
        check[name] = {
            "loaded": sim.get("loaded", False),
            "settled": ok,
            "worst_drift_mm": max([b["drift_mm"] for b in bodies.values()], default=0.0),
            "worst_rotation_deg": max([b["rotation_deg"] for b in bodies.values()], default=0.0),
            "worst_penetration_mm": max([b["penetration_mm"] for b in bodies.values()], default=0.0),
            "compiler_warnings": sim.get("compiler_warnings", []),
        }
        if not ok:
            failures.append(f"{k:04d}/{name}")
    if not usd["ok"]:
        failures.append(f"{k:04d}/usd")
    return check


def _rebase(scene, prefix: str):
    """Asset paths of a variant folder NNNN/ point into the shared ../assets/."""
    for b in scene.bodies:
        b.visual = prefix + b.visual if b.visual else None
        b.texture = prefix + b.texture if b.texture else None
        b.splat = prefix + b.splat if b.splat else None
        b.collision = [prefix + h for h in b.collision]
    env = scene.environment
    if env.get("background_visual"):
        scene.environment = {**env, "background_visual": prefix + env["background_visual"]}
    if scene.splat and scene.splat.get("file"):
        scene.splat = {**scene.splat, "file": prefix + scene.splat["file"]}


def make_and_check(base, seed: int, k: int, settings, footprints: dict, out_dir, tol: _Tolerances, check: bool):
    """Variant k in out_dir/NNNN/, written in every format and (``check``) settled in each
    simulator: (k, its variants.json entry, warnings, failures). Depends only on (seed, k),
    so variants can be made in any order, in any process."""
    from splat2sim.errors import StageError
    from splat2sim.scene import save_scene, write_formats
    from splat2sim.scene.randomize import make_variant

    try:
        scene = make_variant(base, seed, k, settings, footprints)
    except StageError as exc:  # one bad draw loses that variant, never the build
        return k, {"index": k, "folder": None, "error": exc.message}, [f"variant {k:04d} left out: {exc.message}"], [f"{k:04d}/generate"]
    warnings = [f"variant {k:04d}: {x['body']} left out ({x['why']})" for x in scene.provenance["variant"].get("left_out", [])]
    folder = out_dir / f"{k:04d}"
    scene.root = folder
    _rebase(scene, "../")
    save_scene(scene, folder / "scene.json")
    write_formats(scene, folder)
    entry = {"index": k, "folder": f"{k:04d}", **scene.provenance["variant"]}
    entry.pop("settings", None)
    failures: list[str] = []
    if check:
        entry["check"] = _check_variant(folder, tol, k, failures)
    return k, entry, warnings, failures


def _run_jobs(jobs: list[tuple], workers: int):
    """make_and_check over ``jobs``, yielding results as they finish: in a spawned process
    pool (MuJoCo, pybullet and USD start clean in each) when there are cores to share."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield make_and_check(*job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in as_completed([pool.submit(make_and_check, *job) for job in jobs]):
            yield future.result()


def run(ctx: StageContext) -> None:
    from splat2sim.scene.randomize import RandomizeSettings, footprints_of
    from splat2sim.stages.check.run import copy_assets

    cfg = ctx.config
    base, source = base_scene(ctx)
    copy_assets(base.root, ctx.out_dir)
    settings = RandomizeSettings(
        resample_poses=cfg.resample_poses,
        scale_jitter=cfg.scale_jitter,
        colour_jitter=cfg.colour_jitter,
        light_jitter=cfg.light_jitter,
        settle_seconds=cfg.settle_seconds,
        brightness_jitter=cfg.brightness_jitter,
        camera_jitter_m=cfg.camera_jitter_m,
        camera_jitter_deg=cfg.camera_jitter_deg,
    )
    record = {
        "seed": cfg.seed,
        "count": cfg.count,
        "base_scene": source,
        "distributions": {
            "position": "uniform on the support surface (margin 5 cm), footprints at least 1 cm apart, then settled in MuJoCo"
            if cfg.resample_poses
            else "as filmed",
            "yaw": "uniform in [-pi, pi]" if cfg.resample_poses else "as filmed",
            "scale": f"uniform in [{1 - cfg.scale_jitter}, {1 + cfg.scale_jitter}] (mass x scale^3, inertia x mass ratio x scale^2)",
            "mass": "uniform in physics.json's mass range",
            "friction": "uniform in the static friction range",
            "restitution": "uniform in the restitution range",
            "colour": f"rgb multiplier uniform in [{1 - cfg.colour_jitter}, {1 + cfg.colour_jitter}] per channel",
            "lights": f"intensity x uniform [{1 - cfg.light_jitter}, {1 + cfg.light_jitter}], direction tilt N(0, {cfg.light_jitter / 2})",
            "appearance": f"splat render (SplatCamera.render(appearance=...)): brightness x uniform [{1 - cfg.brightness_jitter}, "
            f"{1 + cfg.brightness_jitter}], gain per channel uniform [{1 - cfg.colour_jitter / 2}, {1 + cfg.colour_jitter / 2}], "
            f"object tints = the colour draws, camera shift N(0, {cfg.camera_jitter_m} m) and rotation N(0, {cfg.camera_jitter_deg} deg) per axis",
        },
        "variants": [],
    }
    tol = _Tolerances(seconds=cfg.check_seconds)
    failures = []
    footprints = footprints_of(base)
    jobs = [(base, cfg.seed, k, settings, footprints, ctx.out_dir, tol, cfg.check) for k in range(cfg.count)]
    workers = min(ctx.run_config.workers or os.cpu_count() or 1, len(jobs))
    ctx.backend = f"{max(1, workers)} worker(s)"
    results = {}
    with ctx.progress("Variants", total=cfg.count) as task:
        for k, *result in _run_jobs(jobs, workers):
            results[k] = result
            task.advance(1)
    for k in range(cfg.count):  # in variant order, whatever order they finished in
        entry, warnings, failed = results[k]
        for message in warnings:
            ctx.warn(message)
        failures += failed
        record["variants"].append(entry)
    record["settings"] = settings.__dict__
    record["failures"] = failures
    variants_artifacts.VARIANTS.write(ctx.out_dir, record)
    for f in failures:
        ctx.warn(f"variant {f} did not load or settle")
    left_out = sum(len(v.get("left_out") or []) for v in record["variants"])
    ctx.metrics.update({"count": cfg.count, "seed": cfg.seed, "failures": len(failures), "bodies_left_out": left_out})
    if cfg.check and record["variants"]:
        for sim in ("mujoco", "pybullet"):
            vals = [v["check"][sim]["worst_drift_mm"] for v in record["variants"] if sim in v.get("check", {})]
            if vals:
                ctx.metrics[f"{sim}_worst_drift_mm"] = round(max(vals), 3)
    ctx.summary.append(("variants", f"{cfg.count} (seed {cfg.seed}), {len(failures)} failure(s)"))
