"""The check stage: repair what is repairable, then load every format that loads here
(MuJoCo, pybullet, USD validation, SDFormat parsing), settle, and measure per object."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from splat2sim.artifacts import check as check_artifacts
from splat2sim.artifacts import export as export_artifacts
from splat2sim.stages.base import StageContext


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_assets(src_root: Path, dst_root: Path) -> None:
    shutil.copytree(src_root / "assets", dst_root / "assets", copy_function=_link_or_copy)


def body_report(result, filmed: dict, cfg) -> dict:
    out = {}
    for b in result.bodies:
        p0, q0 = filmed[b.name]
        from splat2sim.geometry.transforms import quat_angle_deg

        from_filmed = float(np.linalg.norm(np.asarray(b.final_position) - p0) * 1000) if b.finite else float("inf")
        rot_filmed = quat_angle_deg(q0, b.final_quaternion) if b.finite else float("inf")
        settled = b.settled(cfg.drift_mm, cfg.rotation_deg, cfg.penetration_mm)
        at_filmed = b.finite and from_filmed <= cfg.drift_mm and rot_filmed <= cfg.rotation_deg
        out[b.name] = {
            "settled": bool(settled),
            "at_filmed_pose": bool(at_filmed),
            "drift_mm": round(b.drift_mm, 4),
            "drift_from_filmed_mm": round(from_filmed, 4),
            "rotation_deg": round(b.rotation_deg, 4),
            "rotation_from_filmed_deg": round(rot_filmed, 4),
            "penetration_mm": round(b.penetration_mm, 4),
            "kinetic_energy_j": b.kinetic_energy_j,
            "max_speed_m_s": round(b.max_speed_m_s, 4),
            "final_position": b.final_position,
            "final_quaternion": b.final_quaternion,
        }
    return out


def check_scene(scene_dir: Path, cfg, filmed: dict | None = None, names: list[str] | None = None) -> dict:
    """Load and settle the formats in ``scene_dir`` (scene.json, mjcf/, urdf/, usd/, sdf/).
    Returns the per-simulator part of check.json. Used by the check and variants stages."""
    from splat2sim.errors import Splat2SimError
    from splat2sim.scene.model import load_scene

    scene = load_scene(scene_dir / "scene.json", validate=False)
    names = names or [b.name for b in scene.bodies]
    filmed = filmed or {b.name: (np.asarray(b.position), b.quaternion) for b in scene.bodies}
    sims: dict = {}
    if cfg.mujoco and (scene_dir / "mjcf" / "scene.xml").is_file():
        from splat2sim.sim.mujoco_sim import compile_model, settle_mujoco

        try:
            model, messages = compile_model(scene_dir / "mjcf" / "scene.xml")
            result = settle_mujoco(model, names, cfg.seconds)
            sims["mujoco"] = {
                "loaded": True,
                "compiler_warnings": messages,
                "runtime_warnings": result.warnings,
                "timestep": result.timestep,
                "wall_seconds": result.wall_seconds,
                "bodies": body_report(result, filmed, cfg),
            }
        except Splat2SimError as exc:
            sims["mujoco"] = {"loaded": False, "error": exc.message, "bodies": {}}
    if cfg.pybullet and (scene_dir / "urdf" / "scene_poses.json").is_file():
        from splat2sim.sim.pybullet_sim import settle_pybullet

        try:
            result = settle_pybullet(scene_dir / "urdf", cfg.seconds)
            sims["pybullet"] = {
                "loaded": True,
                "flags": "URDF_USE_INERTIA_FROM_FILE",
                "timestep": result.timestep,
                "wall_seconds": result.wall_seconds,
                "bodies": body_report(result, filmed, cfg),
            }
        except Exception as exc:  # pybullet raises plain errors when a URDF does not load
            sims["pybullet"] = {"loaded": False, "error": str(exc), "bodies": {}}
    return sims


def run(ctx: StageContext) -> None:
    from splat2sim.scene import save_scene, write_formats
    from splat2sim.scene.model import load_scene
    from splat2sim.stages.check import repair as R

    cfg = ctx.config
    export_dir = ctx.upstream_dir("export")
    exported = load_scene(export_artifacts.SCENE.path(export_dir), validate=False)
    filmed = {b.name: (np.asarray(b.position), list(b.quaternion)) for b in exported.bodies}
    scene = exported.copy()
    repairs: list[dict] = []
    if cfg.repair:
        with ctx.timed("repair"):
            repairs += R.repair_inertia(scene)
            repairs += R.repair_overlaps(scene, cfg.overlap_tolerance_mm / 1000)
            repairs += R.repair_support(scene, cfg.support_tolerance_mm / 1000)
    for r in repairs:
        ctx.warn(f"repaired {r['body']}: {r['kind']} ({r['why']})")
    if repairs:
        copy_assets(export_dir, ctx.out_dir)
        scene.root = ctx.out_dir
        scene.provenance = {**scene.provenance, "repaired_by": "check", "repairs": repairs}
        save_scene(scene, ctx.out_dir / "scene.json")
        formats = [f for f in ("mjcf", "urdf", "usd", "sdf") if (export_dir / f).is_dir()]
        write_formats(scene, ctx.out_dir, formats)
        checked_dir, scene_ref = ctx.out_dir, "scene.json"
    else:
        checked_dir, scene_ref = export_dir, "../export/scene.json"
    with ctx.timed("simulate"):
        sims = check_scene(checked_dir, cfg, filmed)
    report: dict = {
        "scene": scene_ref,
        "seconds": cfg.seconds,
        "tolerances": {"drift_mm": cfg.drift_mm, "rotation_deg": cfg.rotation_deg, "penetration_mm": cfg.penetration_mm},
        "repairs": repairs,
        "simulators": sims,
    }
    _validate_files(ctx, checked_dir, report)
    unsettled = _settle_results(ctx, sims)
    report["objects"] = len(scene.bodies)
    if not scene.bodies:
        ctx.warn("the scene has no objects: nothing settles because nothing is there")
    report["all_settled"] = bool(scene.bodies) and not unsettled and all(s.get("loaded") for s in sims.values())
    report["unsettled"] = unsettled
    ctx.metrics.update({"repairs": len(repairs), "all_settled": report["all_settled"], "simulators": sorted(sims)})
    check_artifacts.CHECK.write(ctx.out_dir, report)
    ctx.summary.append(("repairs", str(len(repairs))))


def _validate_files(ctx: StageContext, checked_dir, report: dict) -> None:
    """usd-core's and the SDFormat parser's verdicts on the written files, into ``report``."""
    cfg = ctx.config
    if cfg.usd and (checked_dir / "usd" / "scene.usda").is_file():
        from splat2sim.scene.usd import validate_usd

        with ctx.timed("usd"):
            report["usd"] = validate_usd(checked_dir / "usd" / "scene.usda")
        if not report["usd"]["ok"]:
            ctx.warn(f"USD validation found {len(report['usd']['errors'])} error(s): {report['usd']['errors'][:2]}")
        if cfg.simready:
            _validate_simready(ctx, checked_dir / "usd", report)
    if cfg.sdf and (checked_dir / "sdf" / "scene.sdf").is_file():
        from splat2sim.scene.sdf import validate_sdf

        with ctx.timed("sdf"):
            report["sdf"] = validate_sdf(checked_dir / "sdf" / "scene.sdf")
        if report["sdf"]["ok"] is None:
            ctx.fallback("SDFormat validation", "XML well-formedness only", report["sdf"].get("note", "no parser"))
        elif not report["sdf"]["ok"]:
            ctx.warn(f"SDFormat parser errors: {report['sdf']['errors'][:2]}")


def _validate_simready(ctx: StageContext, usd_dir: Path, report: dict) -> None:
    """NVIDIA's SimReady validator per prop (optional dependency): check.json's ``simready``."""
    from splat2sim.scene import simready

    if not simready.available():
        ctx.fallback("SimReady validation", "not run", "simready-validate is not installed (make install adds it)")
        report["simready"] = {"ran": False, "why": "simready-validate is not installed"}
        return
    with ctx.timed("simready"):
        report["simready"] = {"ran": True, **simready.validate_simready(usd_dir)}
    for name, a in report["simready"]["assets"].items():
        ctx.metrics[f"simready_{name}_passed"] = len(a["passed"])
        if a["unexpected"]:
            ctx.warn(f"SimReady ({a['profile']}): {name} fails {', '.join(a['unexpected'])}")
    assets = report["simready"]["assets"]
    if assets:
        worst = min(len(a["passed"]) for a in assets.values())
        total = len(next(iter(assets.values()))["features"])
        ctx.summary.append(
            ("simready", f"{len(assets)} prop(s), each passes >= {worst} of {total} Robotics-Prop features (the rest: known, see check.json)")
        )


def _settle_results(ctx: StageContext, sims: dict) -> list[str]:
    """Warnings, metrics and summary rows from each simulator's settle; the unsettled bodies."""
    unsettled = []
    for sim_name, sim in sims.items():
        if not sim.get("loaded"):
            ctx.warn(f"{sim_name} could not load the scene: {sim.get('error')}")
            continue
        for w in sim.get("compiler_warnings", []) + sim.get("runtime_warnings", []):
            ctx.warn(f"{sim_name}: {w}")
        for name, b in sim["bodies"].items():
            if not b["settled"]:
                unsettled.append(f"{sim_name}/{name}")
                ctx.warn(
                    f"{name} does not rest in {sim_name}: moved {b['drift_mm']:.1f} mm, "
                    f"turned {b['rotation_deg']:.1f} deg, penetration {b['penetration_mm']:.1f} mm"
                )
            elif not b["at_filmed_pose"]:
                ctx.warn(
                    f"{name} rests in {sim_name} {b['drift_from_filmed_mm']:.1f} mm / {b['rotation_from_filmed_deg']:.1f} deg "
                    "away from its filmed pose (after repairs)"
                )
        worst = {
            k: max([b[k] for b in sim["bodies"].values()], default=0.0)
            for k in ("drift_mm", "rotation_deg", "drift_from_filmed_mm", "rotation_from_filmed_deg", "penetration_mm")
        }
        sim["worst"] = worst
        ctx.metrics[f"{sim_name}_worst_drift_mm"] = round(worst["drift_mm"], 3)
        ctx.metrics[f"{sim_name}_worst_drift_from_filmed_mm"] = round(worst["drift_from_filmed_mm"], 3)
        ctx.metrics[f"{sim_name}_worst_rotation_deg"] = round(worst["rotation_deg"], 3)
        ctx.metrics[f"{sim_name}_worst_penetration_mm"] = round(worst["penetration_mm"], 3)
        ctx.summary.append(
            (
                sim_name,
                f"worst drift {worst['drift_from_filmed_mm']:.2f} mm, rotation "
                f"{worst['rotation_from_filmed_deg']:.2f} deg, penetration {worst['penetration_mm']:.2f} mm",
            )
        )
    return unsettled
