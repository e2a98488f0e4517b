"""The variants stage: N domain-randomized copies of the (checked) scene, each in every
format under NNNN/, sharing one assets/ folder; variants.json records every sampled value
and how each variant settled in MuJoCo and pybullet."""

from __future__ import annotations

import json
from dataclasses import dataclass

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

    checked = ctx.upstream_dir("check") / "scene.json"
    if checked.is_file():
        return load_scene(checked), "check/scene.json"
    return load_scene(ctx.upstream_dir("export") / "scene.json"), "export/scene.json"


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


def run(ctx: StageContext) -> None:
    from splat2sim.scene import save_scene, write_formats
    from splat2sim.scene.randomize import RandomizeSettings, generate
    from splat2sim.stages.check.run import check_scene, copy_assets

    cfg = ctx.config
    base, source = base_scene(ctx)
    copy_assets(base.root, ctx.out_dir)
    settings = RandomizeSettings(resample_poses=cfg.resample_poses, scale_jitter=cfg.scale_jitter, colour_jitter=cfg.colour_jitter,
                                 light_jitter=cfg.light_jitter, settle_seconds=cfg.settle_seconds)
    record = {"schema_version": 1, "seed": cfg.seed, "count": cfg.count, "base_scene": source,
              "distributions": {
                  "position": "uniform on the support surface (margin 5 cm), footprints at least 1 cm apart, then settled in MuJoCo"
                              if cfg.resample_poses else "as filmed",
                  "yaw": "uniform in [-pi, pi]" if cfg.resample_poses else "as filmed",
                  "scale": f"uniform in [{1 - cfg.scale_jitter}, {1 + cfg.scale_jitter}] (mass x scale^3, inertia x mass ratio x scale^2)",
                  "mass": "uniform in physics.json's mass range", "friction": "uniform in the static friction range",
                  "restitution": "uniform in the restitution range",
                  "colour": f"rgb multiplier uniform in [{1 - cfg.colour_jitter}, {1 + cfg.colour_jitter}] per channel",
                  "lights": f"intensity x uniform [{1 - cfg.light_jitter}, {1 + cfg.light_jitter}], direction tilt N(0, {cfg.light_jitter / 2})"},
              "variants": []}
    tol = _Tolerances(seconds=cfg.check_seconds)
    failures = []
    with ctx.progress("Variants", total=cfg.count) as task:
        for k, scene in enumerate(generate(base, seed=cfg.seed, count=cfg.count, **settings.__dict__)):
            folder = ctx.out_dir / f"{k:04d}"
            scene.root = folder
            _rebase(scene, "../")
            save_scene(scene, folder / "scene.json")
            write_formats(scene, folder)
            entry = {"index": k, "folder": f"{k:04d}", **scene.provenance["variant"]}
            entry.pop("settings", None)
            if cfg.check:
                sims = check_scene(folder, tol)
                from splat2sim.scene.usd import validate_usd

                usd = validate_usd(folder / "usd" / "scene.usda")
                entry["check"] = {"usd_ok": usd["ok"]}
                for name, sim in sims.items():
                    bodies = sim.get("bodies", {})
                    ok = sim.get("loaded", False) and all(b["settled"] for b in bodies.values())
                    entry["check"][name] = {"loaded": sim.get("loaded", False), "settled": ok,
                                            "worst_drift_mm": max([b["drift_mm"] for b in bodies.values()], default=0.0),
                                            "worst_rotation_deg": max([b["rotation_deg"] for b in bodies.values()], default=0.0),
                                            "worst_penetration_mm": max([b["penetration_mm"] for b in bodies.values()], default=0.0),
                                            "compiler_warnings": sim.get("compiler_warnings", [])}
                    if not ok:
                        failures.append(f"{k:04d}/{name}")
                if not usd["ok"]:
                    failures.append(f"{k:04d}/usd")
            record["variants"].append(entry)
            task.advance(1)
    record["settings"] = settings.__dict__
    record["failures"] = failures
    (ctx.out_dir / "variants.json").write_text(json.dumps(record, indent=2) + "\n")
    for f in failures:
        ctx.warn(f"variant {f} did not load or settle")
    ctx.metrics.update({"count": cfg.count, "seed": cfg.seed, "failures": len(failures)})
    if cfg.check and record["variants"]:
        for sim in ("mujoco", "pybullet"):
            vals = [v["check"][sim]["worst_drift_mm"] for v in record["variants"] if sim in v.get("check", {})]
            if vals:
                ctx.metrics[f"{sim}_worst_drift_mm"] = round(max(vals), 3)
    ctx.summary.append(("variants", f"{cfg.count} (seed {cfg.seed}), {len(failures)} failure(s)"))
