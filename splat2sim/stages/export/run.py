"""The export stage: build scene.json from segment/mesh/collision/physics (+ poses, splat)
and write every simulator format, the splat (whole and per object, in object frames) and
a README.md with provenance."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from splat2sim.artifacts import collision as collision_artifacts
from splat2sim.artifacts import export as export_artifacts
from splat2sim.artifacts import mesh as mesh_artifacts
from splat2sim.artifacts import physics as physics_artifacts
from splat2sim.artifacts import poses, scale, segment, splat
from splat2sim.artifacts.base import ArtifactError
from splat2sim.errors import StageError
from splat2sim.stages.base import StageContext


def _copy_obj(src: Path, dst_dir: Path, stem: str) -> tuple[str, str | None]:
    """Copy an OBJ (and its MTL and textures). Returns (obj file name, texture file name or None)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    text = src.read_text(errors="replace")
    texture = None
    out_lines = []
    for line in text.splitlines():
        if line.startswith("mtllib "):
            mtl = src.parent / line.split(maxsplit=1)[1].strip()
            if mtl.is_file():
                mtl_lines = []
                for ml in mtl.read_text(errors="replace").splitlines():
                    if ml.strip().startswith("map_Kd"):
                        tex = src.parent / ml.split(maxsplit=1)[1].strip()
                        if tex.is_file() and tex.resolve().parent == src.parent.resolve():
                            texture = f"{stem}{tex.suffix.lower()}"
                            shutil.copy(tex, dst_dir / texture)
                            ml = f"map_Kd {texture}"
                        else:
                            continue
                    mtl_lines.append(ml)
                (dst_dir / f"{stem}.mtl").write_text("\n".join(mtl_lines) + "\n")
                line = f"mtllib {stem}.mtl"
            else:
                continue
        out_lines.append(line)
    (dst_dir / f"{stem}.obj").write_text("\n".join(out_lines) + "\n")
    return f"{stem}.obj", texture


def _mean_colour(path: Path) -> list[float] | None:
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    colours = getattr(mesh.visual, "vertex_colors", None)
    if getattr(mesh.visual, "kind", None) == "vertex" and colours is not None and len(colours):
        c = np.asarray(colours, np.float64)[:, :3].mean(0) / 255.0
        return [*c.round(4).tolist(), 1.0]
    return None


def build_scene(ctx: StageContext):
    """scene.json's Scene from the upstream artifacts (all metric: see the scale stage),
    assets copied into ctx.out_dir/assets."""
    from splat2sim.names import sanitize, unique
    from splat2sim.scene.model import Scene

    seg_by_id = {o["id"]: o for o in ctx.read(segment.OBJECTS).objects}
    mesh = ctx.read(mesh_artifacts.MESH)
    coll_by_id = {o["id"]: o for o in ctx.read(collision_artifacts.COLLISION).objects}
    phys_by_id = {o["id"]: o for o in ctx.read(physics_artifacts.PHYSICS).objects}
    records = mesh.objects
    names = unique([f"{sanitize(r.get('label') or seg_by_id.get(r['id'], {}).get('label', ''), 'object')}_{sanitize(r['id'], 'obj')}"
                    for r in records])  # fmt: skip
    bodies = [_body(ctx, rec, name, seg_by_id.get(rec["id"], {}), coll_by_id.get(rec["id"]), phys_by_id.get(rec["id"]))
              for rec, name in zip(records, names)]  # fmt: skip
    environment = _environment(ctx, mesh, records)
    doc = ctx.read(scale.SCALE)
    if not doc.poses_metric:
        environment["metric_scale"] = {"scale": doc.scale, "range": doc.range, "source": doc.source}
    return Scene(name="scene", bodies=bodies, environment=environment, root=ctx.out_dir)


def _body(ctx: StageContext, rec: dict, name: str, seg: dict, centry: dict | None, p: dict | None):
    """One body: its visual, hulls, inertial and contact from mesh, collision and physics."""
    from splat2sim.scene.model import Body

    oid = rec["id"]
    label = rec.get("label") or seg.get("label") or oid
    folder = ctx.out_dir / "assets" / name
    visual_file, texture = _copy_obj(ctx.upstream_dir("mesh") / rec["visual"], folder, "visual")
    colour = None if texture else _mean_colour(folder / visual_file)
    T = np.asarray(rec["world_from_object"], np.float64)
    if not np.allclose(T[:3, :3], np.eye(3), atol=1e-6):
        ctx.warn(f"{name}: mesh.json's world_from_object has a rotation; the object frame should be axis-aligned")
    hulls = _hulls(ctx, name, folder, visual_file, centry)
    mass, com, inertia = _inertial(ctx, name, rec, p)
    cfg = ctx.config
    fr = (p or {}).get("friction", {})
    friction = float(fr.get("static", {}).get("value", cfg.default_friction))
    contact = {"friction": friction, "static_friction": friction,
               "dynamic_friction": float(fr.get("dynamic", {}).get("value", friction)),
               "rolling_friction": float(fr.get("rolling", {}).get("value", 0.0001)),
               "restitution": float((p or {}).get("restitution", {}).get("value", 0.1))}  # fmt: skip
    ranges = {"mass": (p or {}).get("mass", {}).get("range") or [0.7 * mass, 1.3 * mass],
              "friction": fr.get("static", {}).get("range") or [0.7 * friction, 1.3 * friction],
              "restitution": (p or {}).get("restitution", {}).get("range") or [0.0, 0.3]}  # fmt: skip
    return Body(
        name=name, id=oid, label=str(label), position=T[:3, 3].tolist(), quaternion=[1.0, 0.0, 0.0, 0.0],
        visual=f"assets/{name}/{visual_file}", collision=hulls,
        inertial={"mass": mass, "center_of_mass": list(com), "inertia": np.asarray(inertia).tolist()},
        contact=contact, ranges=ranges, texture=f"assets/{name}/{texture}" if texture else None,
        appearance={"rgba": colour} if colour else None,
        physics_source={"source": (p or {}).get("source", "default"), "confidence": (p or {}).get("confidence"),
                        "material": (p or {}).get("material"), "support": seg.get("support", "table"),
                        "segment_confidence": seg.get("confidence"), "segment_doubts": seg.get("confidence_reasons", [])},
    )  # fmt: skip


def _hulls(ctx: StageContext, name: str, folder: Path, visual_file: str, centry: dict | None) -> list[str]:
    hulls = []
    if centry and centry.get("hulls"):
        for k, h in enumerate(centry["hulls"]):
            src = ctx.upstream_dir("collision") / h["file"]
            if not src.is_file():
                raise StageError(f"collision hull {src} is missing", hint="re-run the collision stage")
            _copy_obj(src, folder, f"hull_{k:03d}")
            hulls.append(f"assets/{name}/hull_{k:03d}.obj")
        return hulls
    import trimesh

    hull = trimesh.load(folder / visual_file, process=False, force="mesh").convex_hull
    hull.export(folder / "hull_000.obj")
    ctx.fallback(f"{name}: collision hulls", "the convex hull of the visual mesh", "collision.json has no hulls for this object")
    return [f"assets/{name}/hull_000.obj"]


def _inertial(ctx: StageContext, name: str, rec: dict, p: dict | None):
    """(mass, centre of mass, inertia) from physics.json, checked; fallbacks recorded."""
    from splat2sim.geometry.inertia import box_inertia, check_inertia

    cfg = ctx.config
    volume = abs(float(rec.get("volume") or 0.0))
    if p is not None:
        mass = float(p["mass"]["value"])
        com = [float(v) for v in p.get("center_of_mass") or rec.get("center_of_mass") or [0, 0, 0]]
        inertia = np.asarray(p.get("inertia"), np.float64) if p.get("inertia") is not None else None
    else:
        mass = cfg.default_density * volume
        com = list(rec.get("center_of_mass") or [0.0, 0.0, 0.0])
        inertia = None
        ctx.fallback(f"{name}: physical properties", f"density {cfg.default_density} kg/m^3 over the mesh volume",
                     "physics.json has no entry for this object")  # fmt: skip
    problems = check_inertia(inertia, mass) if inertia is not None else ["no inertia given"]
    if problems and rec.get("inertia_unit_density") and volume > 0:
        inertia = np.asarray(rec["inertia_unit_density"], np.float64) * (mass / volume)
        com = list(rec["center_of_mass"]) if rec.get("center_of_mass") else com
        ctx.fallback(f"{name}: inertia", "the mesh's inertia at the object's mean density", "; ".join(problems))
    elif problems:
        lo, hi = np.asarray(rec["bounds"][0]), np.asarray(rec["bounds"][1])
        inertia = box_inertia(mass, hi - lo)
        com = ((lo + hi) / 2).tolist()
        ctx.fallback(f"{name}: inertia", "a solid box of the mesh's bounds", "; ".join(problems))
    return mass, com, inertia


def _environment(ctx: StageContext, mesh, records: list[dict]) -> dict:
    """The support plane (and the background mesh when asked for)."""
    cfg = ctx.config
    plane = mesh.support_plane or {}
    size = list(plane["size"]) if plane.get("size") else None
    if not size:
        pts = np.concatenate([np.asarray(r["bounds"]) + np.asarray(r["world_from_object"])[:3, 3] for r in records]) if records else np.zeros((1, 3))
        size = (np.ptp(pts[:, :2], axis=0) + 1.0).tolist()
        ctx.fallback("support plane size", f"{size[0]:.2f} x {size[1]:.2f} m around the objects", "mesh.json gives none")
    environment = {"support_plane": {"size": [float(s) for s in size], "center": [float(c) for c in plane.get("center", [0.0, 0.0, 0.0])],
                                     "yaw": float(plane.get("yaw", 0.0)), "friction": cfg.support_friction},
                   "background_visual": None, "lights": None}  # fmt: skip
    bg = (mesh.background or {}).get("visual")
    if cfg.background and bg and (ctx.upstream_dir("mesh") / bg).is_file():
        visual_file, _ = _copy_obj(ctx.upstream_dir("mesh") / bg, ctx.out_dir / "assets" / "background", "visual")
        environment["background_visual"] = f"assets/background/{visual_file}"
    return environment


def write_splats(ctx: StageContext, scene) -> None:
    """The splat in the scene's metric frame, whole and per object (in each body's frame)."""
    from splat2sim.io.gaussians_ply import read_gaussians_ply, write_gaussians_ply

    metric = ctx.metric_frame()
    src = splat.GAUSSIANS.require(ctx.upstream_dir("splat"))
    data = read_gaussians_ply(src)
    if metric.identity:
        shutil.copy(src, ctx.out_dir / "assets" / "gaussians.ply")
    else:
        data["means"], data["log_scales"] = (x.astype(np.float32) for x in metric.gaussians(data["means"], data["log_scales"]))
        write_gaussians_ply(ctx.out_dir / "assets" / "gaussians.ply", data["means"], data["log_scales"], data["quats"],
                            data["opacity_logits"], data["sh"])  # fmt: skip
    scene.splat = {"file": "assets/gaussians.ply", "frame": "world"}
    try:
        labels = segment.read_labels(ctx.upstream_dir("segment"), len(data["means"]))
    except ArtifactError as exc:  # the scene is still usable without per-object splats
        ctx.warn(f"no per-object splats: {exc.message}")
        return
    objects = ctx.read(segment.OBJECTS).objects
    index_by_id = {o["id"]: int(o.get("index", k)) for k, o in enumerate(objects)}
    for b in scene.bodies:
        pick = labels == index_by_id.get(b.id, -99)
        if not pick.any():
            ctx.warn(f"{b.name}: no Gaussians carry its label")
            continue
        means = data["means"][pick] - np.asarray(b.position, np.float32)
        write_gaussians_ply(ctx.out_dir / "assets" / b.name / "gaussians.ply", means, data["log_scales"][pick],
                            data["quats"][pick], data["opacity_logits"][pick], data["sh"][pick])  # fmt: skip
        b.splat = f"assets/{b.name}/gaussians.ply"


def write_cameras(ctx: StageContext) -> int:
    """export/cameras.json: the registered keyframes' cameras in the scene's metric frame."""
    cams = ctx.metric_frame().cameras(ctx.read(poses.CAMERAS))
    frames = [{"name": f"keyframe_{k:03d}", "file": f["file"], "camera": int(f.get("camera", 0)),
               "world_from_camera": f["world_from_camera"]} for k, f in enumerate(cams.registered())]  # fmt: skip
    doc = export_artifacts.ExportCameras(intrinsics=cams.intrinsics, cameras=cams.cameras, frames=frames,
                                         extra={"pixel_convention": cams.get("pixel_convention")})  # fmt: skip
    export_artifacts.CAMERAS.write(ctx.out_dir, doc)
    return len(frames)


def provenance(ctx: StageContext) -> dict:
    meta = ctx.workspace.read_meta()
    stages = {}
    for name in ctx.upstream or ():
        rec = ctx.workspace.read_record(name)
        if rec is None:
            continue
        rec = rec.to_json()
        stages[name] = {k: rec.get(k) for k in ("stage_version", "output_id", "backend", "config", "warnings", "fallbacks")}
        stages[name]["seconds"] = (rec.get("timings") or {}).get("seconds")
    doc = ctx.read(scale.SCALE)
    units = "metres" if doc.source != "unknown" else "unknown (SfM units)"
    scale_source = doc.source if doc.poses_metric else f"{doc.source}: x{doc.scale:.4g} applied from the scale stage on"
    return {
        "input": meta.get("input"),
        "splat2sim_version": meta.get("splat2sim_version"),
        "units": units,
        "scale_source": scale_source,
        "stages": stages,
        "export_config": {k: getattr(ctx.config, k) for k in ctx.config.__dataclass_fields__},
    }


def readme(scene, prov: dict, warnings: list[str], formats: dict) -> str:
    rows = "\n".join(
        f"| `{b.name}` | {b.label!r} | {b.inertial['mass']:.3f} | {b.contact['friction']:.2f} | {b.contact['restitution']:.2f} | "
        f"{len(b.collision)} | {b.physics_source.get('source')} |"
        for b in scene.bodies
    )
    lines = [
        "# splat2sim export",
        "",
        f"Input: `{prov.get('input')}`  ",
        f"Units: {prov.get('units')} (scale from: {prov.get('scale_source')}); +z up; origin on the support surface.",
        "",
        "## Objects",
        "",
        "| body | label | mass (kg) | friction | restitution | hulls | physics source |",
        "|---|---|---|---|---|---|---|",
        rows,
        "",
        "## Open it",
        "",
        "- MuJoCo: `python -m mujoco.viewer --mjcf mjcf/scene.xml` (a camera per filmed keyframe, named as in `cameras.json`)",
        "- pybullet: `python urdf/load_pybullet.py --gui` (passes `URDF_USE_INERTIA_FROM_FILE`)",
        "- USD (Isaac Sim, usdview): open `usd/scene.usda`; each object is also a SimReady prop of its own, `usd/props/<name>/usd/<name>.usda`",
        "- Gazebo: `gz sim sdf/scene.sdf`; Drake: `Parser(plant).AddModels('sdf/scene.sdf')`",
        "- Photoreal views: `assets/gaussians.ply` (world frame) and `assets/<body>/gaussians.ply` (object frame: apply the body's pose)",
        "- The filmed viewpoints: `cameras.json` (intrinsics and world_from_camera per keyframe, OpenCV axes, this scene's frame)",
        "",
        "Files: " + ", ".join(f"`{Path(p).parent.name}/{Path(p).name}`" for p in formats.values()),
        "",
        "## Stages",
        "",
        "| stage | version | backend | seconds | warnings |",
        "|---|---|---|---|---|",
    ]
    for name, s in prov.get("stages", {}).items():
        lines.append(f"| {name} | {s.get('stage_version')} | {s.get('backend') or ''} | {s.get('seconds')} | {len(s.get('warnings') or [])} |")
    lines += ["", "## Settings", ""]
    for name, s in prov.get("stages", {}).items():
        cfg = ", ".join(f"{k}={v}" for k, v in (s.get("config") or {}).items())
        lines.append(f"- **{name}**: {cfg}")
    lines += ["", "## Warnings and fallbacks", ""]
    all_warnings = [(n, w) for n, s in prov.get("stages", {}).items() for w in (s.get("warnings") or [])] + [("export", w) for w in warnings]
    lines += [f"- {n}: {w}" for n, w in all_warnings] or ["- none"]
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    from splat2sim.scene import save_scene, validate_scene, write_formats
    from splat2sim.sim.mujoco_sim import compile_model

    cfg = ctx.config
    with ctx.timed("scene"):
        scene = build_scene(ctx)
    if cfg.splat:
        with ctx.timed("splat"):
            write_splats(ctx, scene)
    scene.provenance = provenance(ctx)
    problems = validate_scene(scene)
    if problems:
        raise StageError("the exported scene is invalid: " + "; ".join(problems[:5]), hint="check the upstream stages' outputs")
    save_scene(scene, ctx.out_dir / "scene.json")
    with ctx.timed("cameras"):  # before the formats: the MJCF carries a camera per keyframe
        ctx.metrics["cameras"] = write_cameras(ctx)
    formats = [f for f in ("mjcf", "urdf", "usd", "sdf") if getattr(cfg, f)]
    with ctx.timed("formats"):
        written = write_formats(scene, ctx.out_dir, formats)
    if "mjcf" in written:
        with ctx.timed("mujoco_compile"):
            _, messages = compile_model(written["mjcf"])
        for m in messages:
            ctx.warn(f"MuJoCo compiler: {m}")
    (ctx.out_dir / "README.md").write_text(readme(scene, scene.provenance, ctx.warnings, written))
    ctx.metrics.update(
        {
            "bodies": len(scene.bodies),
            "hulls": sum(len(b.collision) for b in scene.bodies),
            "formats": sorted(written),
            "total_mass_kg": round(sum(b.inertial["mass"] for b in scene.bodies), 4),
        }
    )
    ctx.summary += [("bodies", ", ".join(b.name for b in scene.bodies) or "none"), ("formats", ", ".join(sorted(written)))]
    if not scene.bodies:
        ctx.warn("no objects: the scene has only the support surface")
