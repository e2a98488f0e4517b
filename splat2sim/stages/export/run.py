"""The export stage: build scene.json from segment/mesh/collision/physics (+ poses, splat)
and write every simulator format, the splat (whole and per object, in object frames) and
a README.md with provenance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from splat2sim.errors import StageError
from splat2sim.stages.base import StageContext

UPSTREAM = ("frames", "poses", "splat", "segment", "mesh", "collision", "physics")


def _read_json(ctx: StageContext, stage: str, name: str, required: bool = True) -> dict | None:
    path = ctx.upstream_dir(stage) / name
    if not path.is_file():
        if required:
            raise StageError(f"{stage}/{name} is missing", hint=f"re-run the {stage} stage (`splat2sim build --force {stage}`)")
        return None
    return json.loads(path.read_text())


def _scale_vertex_line(line: str, scale: float) -> str:
    """An OBJ ``v x y z [r g b]`` line with x, y, z multiplied by ``scale`` (colours kept)."""
    parts = line.split()
    return " ".join(["v", *(f"{float(x) * scale:.9g}" for x in parts[1:4]), *parts[4:]])


def _copy_obj(src: Path, dst_dir: Path, stem: str, scale: float = 1.0) -> tuple[str, str | None]:
    """Copy an OBJ (and its MTL and textures), its vertices multiplied by ``scale``.
    Returns (obj file name, texture file name or None)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    text = src.read_text(errors="replace")
    texture = None
    out_lines = []
    for line in text.splitlines():
        if scale != 1.0 and line.startswith("v "):
            line = _scale_vertex_line(line, scale)
        elif line.startswith("mtllib "):
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


def scene_scale(physics: dict | None) -> float:
    """The factor from reconstruction units to metres that the physics stage took from
    object sizes when poses found no metric scale (1.0 when poses were metric). Physics'
    masses and inertias are already for the scaled objects; export scales the geometry to
    match, so every length in the exported scene is in metres."""
    info = (physics or {}).get("scale_from_sizes") or {}
    scale = float(info.get("scale") or 1.0)
    if not (np.isfinite(scale) and scale > 0):
        raise StageError(f"physics.json's scale_from_sizes.scale is {scale!r}", hint="re-run the physics stage")
    return scale


def _stage_record(ctx: StageContext, stage: str) -> dict | None:
    path = ctx.upstream_dir(stage) / "_stage.json"
    return json.loads(path.read_text()) if path.is_file() else None


def build_scene(ctx: StageContext):
    """scene.json's Scene from the upstream artifacts, assets copied into ctx.out_dir/assets."""
    from splat2sim.geometry.inertia import check_inertia
    from splat2sim.names import sanitize, unique
    from splat2sim.scene.model import Body, Scene

    cfg = ctx.config
    out = ctx.out_dir
    objects = _read_json(ctx, "segment", "objects.json")
    mesh = _read_json(ctx, "mesh", "mesh.json")
    collision = _read_json(ctx, "collision", "collision.json")
    physics = _read_json(ctx, "physics", "physics.json")
    coll_by_id = {o["id"]: o for o in collision.get("objects", [])}
    phys_by_id = {o["id"]: o for o in physics.get("objects", [])}
    seg_by_id = {o["id"]: o for o in objects.get("objects", [])}
    scale = scene_scale(physics)
    if scale != 1.0:
        ctx.warn(f"poses had no metric scale: every length scaled by {scale:.4g} (from object sizes, physics.json's scale_from_sizes)")
    records = mesh.get("objects", [])
    names = unique([f"{sanitize(r.get('label') or seg_by_id.get(r['id'], {}).get('label', ''), 'object')}_{sanitize(r['id'], 'obj')}"
                    for r in records])
    bodies = []
    for rec, name in zip(records, names):
        oid = rec["id"]
        label = rec.get("label") or seg_by_id.get(oid, {}).get("label") or oid
        folder = out / "assets" / name
        visual_src = ctx.upstream_dir("mesh") / rec["visual"]
        visual_file, texture = _copy_obj(visual_src, folder, "visual", scale)
        colour = None if texture else _mean_colour(folder / visual_file)
        T = np.asarray(rec["world_from_object"], np.float64)
        T[:3, 3] *= scale
        if not np.allclose(T[:3, :3], np.eye(3), atol=1e-6):
            ctx.warn(f"{name}: mesh.json's world_from_object has a rotation; the object frame should be axis-aligned")
        # collision hulls
        hulls = []
        centry = coll_by_id.get(oid)
        if centry and centry.get("hulls"):
            for k, h in enumerate(centry["hulls"]):
                src = ctx.upstream_dir("collision") / h["file"]
                if not src.is_file():
                    raise StageError(f"collision hull {src} is missing", hint="re-run the collision stage")
                _copy_obj(src, folder, f"hull_{k:03d}", scale)
                hulls.append(f"assets/{name}/hull_{k:03d}.obj")
        else:
            import trimesh

            hull = trimesh.load(folder / visual_file, process=False, force="mesh").convex_hull
            hull.export(folder / "hull_000.obj")
            hulls.append(f"assets/{name}/hull_000.obj")
            ctx.fallback(f"{name}: collision hulls", "the convex hull of the visual mesh", "collision.json has no hulls for this object")
        # inertial
        p = phys_by_id.get(oid)
        volume = abs(float(rec.get("volume") or 0.0)) * scale**3
        if p is not None:
            mass = float(p["mass"]["value"])
            com = [float(v) for v in p.get("center_of_mass") or rec.get("center_of_mass") or [0, 0, 0]]
            inertia = np.asarray(p.get("inertia"), np.float64) if p.get("inertia") is not None else None
        else:
            mass = cfg.default_density * volume
            com = (np.asarray(rec.get("center_of_mass") or [0, 0, 0], np.float64) * scale).tolist()
            inertia = None
            ctx.fallback(f"{name}: physical properties", f"density {cfg.default_density} kg/m^3 over the mesh volume",
                         "physics.json has no entry for this object")
        problems = check_inertia(inertia, mass) if inertia is not None else ["no inertia given"]
        if problems and rec.get("inertia_unit_density") and volume > 0:
            # unit-density inertia scales with length^5, the volume it is divided by with length^3
            inertia = np.asarray(rec["inertia_unit_density"], np.float64) * scale**5 * (mass / volume)
            com = (np.asarray(rec["center_of_mass"], np.float64) * scale).tolist() if rec.get("center_of_mass") else com
            ctx.fallback(f"{name}: inertia", "the mesh's inertia at the object's mean density", "; ".join(problems))
        elif problems:
            from splat2sim.geometry.inertia import box_inertia

            lo, hi = np.asarray(rec["bounds"][0]) * scale, np.asarray(rec["bounds"][1]) * scale
            inertia = box_inertia(mass, hi - lo)
            com = ((lo + hi) / 2).tolist()
            ctx.fallback(f"{name}: inertia", "a solid box of the mesh's bounds", "; ".join(problems))
        fr = (p or {}).get("friction", {})
        friction = float(fr.get("static", {}).get("value", cfg.default_friction))
        contact = {"friction": friction, "static_friction": friction,
                   "dynamic_friction": float(fr.get("dynamic", {}).get("value", friction)),
                   "rolling_friction": float(fr.get("rolling", {}).get("value", 0.0001)),
                   "restitution": float((p or {}).get("restitution", {}).get("value", 0.1))}
        ranges = {"mass": (p or {}).get("mass", {}).get("range") or [0.7 * mass, 1.3 * mass],
                  "friction": fr.get("static", {}).get("range") or [0.7 * friction, 1.3 * friction],
                  "restitution": (p or {}).get("restitution", {}).get("range") or [0.0, 0.3]}
        bodies.append(Body(
            name=name, id=oid, label=str(label), position=T[:3, 3].tolist(), quaternion=[1.0, 0.0, 0.0, 0.0],
            visual=f"assets/{name}/{visual_file}", collision=hulls,
            inertial={"mass": mass, "center_of_mass": list(com), "inertia": np.asarray(inertia).tolist()},
            contact=contact, ranges=ranges, texture=f"assets/{name}/{texture}" if texture else None,
            appearance={"rgba": colour} if colour else None,
            physics_source={"source": (p or {}).get("source", "default"), "confidence": (p or {}).get("confidence"),
                            "material": (p or {}).get("material"),
                            "support": seg_by_id.get(oid, {}).get("support", "table")},
        ))  # fmt: skip
    plane = mesh.get("support_plane") or {}
    size = [s * scale for s in plane["size"]] if plane.get("size") else None
    if not size:
        pts = scale * np.concatenate([np.asarray(r["bounds"]) + np.asarray(r["world_from_object"])[:3, 3] for r in records]) if records else np.zeros((1, 3))
        size = (np.ptp(pts[:, :2], axis=0) + 1.0).tolist()
        ctx.fallback("support plane size", f"{size[0]:.2f} x {size[1]:.2f} m around the objects", "mesh.json gives none")
    environment = {"support_plane": {"size": [float(s) for s in size], "center": [float(c) * scale for c in plane.get("center", [0.0, 0.0, 0.0])],
                                     "friction": cfg.support_friction},
                   "background_visual": None, "lights": None}
    bg = (mesh.get("background") or {}).get("visual")
    if cfg.background and bg and (ctx.upstream_dir("mesh") / bg).is_file():
        visual_file, _ = _copy_obj(ctx.upstream_dir("mesh") / bg, out / "assets" / "background", "visual", scale)
        environment["background_visual"] = f"assets/background/{visual_file}"
    if scale != 1.0:
        environment["scale_from_sizes"] = {"scale": scale, "range": physics["scale_from_sizes"].get("range"),
                                           "source": physics["scale_from_sizes"].get("source")}  # fmt: skip
    return Scene(name="scene", bodies=bodies, environment=environment, root=out)


def write_splats(ctx: StageContext, scene) -> None:
    from splat2sim.io.gaussians_ply import read_gaussians_ply, write_gaussians_ply

    src = ctx.upstream_dir("splat") / "gaussians.ply"
    scale = float((scene.environment.get("scale_from_sizes") or {}).get("scale") or 1.0)
    if scale == 1.0:
        shutil.copy(src, ctx.out_dir / "assets" / "gaussians.ply")
    else:  # the splat in metres too: centres and sizes scaled
        whole = read_gaussians_ply(src)
        write_gaussians_ply(ctx.out_dir / "assets" / "gaussians.ply", whole["means"] * np.float32(scale),
                            whole["log_scales"] + np.float32(np.log(scale)), whole["quats"], whole["opacity_logits"], whole["sh"])  # fmt: skip
    scene.splat = {"file": "assets/gaussians.ply", "frame": "world"}
    labels_path = ctx.upstream_dir("segment") / "gaussian_labels.npy"
    if not labels_path.is_file():
        ctx.warn("segment/gaussian_labels.npy is missing: no per-object splats")
        return
    data = read_gaussians_ply(src)
    labels = np.load(labels_path)
    if len(labels) != len(data["means"]):
        ctx.warn(f"gaussian_labels.npy has {len(labels)} rows for {len(data['means'])} Gaussians: no per-object splats")
        return
    objects = json.loads((ctx.upstream_dir("segment") / "objects.json").read_text())["objects"]
    index_by_id = {o["id"]: int(o.get("index", k)) for k, o in enumerate(objects)}
    for b in scene.bodies:
        pick = labels == index_by_id.get(b.id, -99)
        if not pick.any():
            ctx.warn(f"{b.name}: no Gaussians carry its label")
            continue
        means = data["means"][pick] * np.float32(scale) - np.asarray(b.position, np.float32)
        write_gaussians_ply(ctx.out_dir / "assets" / b.name / "gaussians.ply", means, data["log_scales"][pick] + np.float32(np.log(scale)),
                            data["quats"][pick], data["opacity_logits"][pick], data["sh"][pick])
        b.splat = f"assets/{b.name}/gaussians.ply"


def provenance(ctx: StageContext) -> dict:
    meta_path = ctx.workspace.root / "workspace.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    stages = {}
    for name in UPSTREAM:
        rec = _stage_record(ctx, name)
        if rec is None:
            continue
        stages[name] = {k: rec.get(k) for k in ("stage_version", "output_id", "backend", "config", "warnings", "fallbacks")}
        stages[name]["seconds"] = (rec.get("timings") or {}).get("seconds")
    world = _read_json(ctx, "poses", "world.json", required=False) or {}
    units, scale_source = world.get("units"), world.get("scale_source")
    scale = scene_scale(_read_json(ctx, "physics", "physics.json", required=False))
    if scale != 1.0:
        units, scale_source = "metres", f"object sizes (physics stage): x{scale:.4g} applied by export"
    return {"input": meta.get("input"), "splat2sim_version": meta.get("splat2sim_version"),
            "units": units, "scale_source": scale_source, "stages": stages,
            "export_config": {k: getattr(ctx.config, k) for k in ctx.config.__dataclass_fields__}}


def readme(scene, prov: dict, warnings: list[str], formats: dict) -> str:
    rows = "\n".join(
        f"| `{b.name}` | {b.label!r} | {b.inertial['mass']:.3f} | {b.contact['friction']:.2f} | {b.contact['restitution']:.2f} | "
        f"{len(b.collision)} | {b.physics_source.get('source')} |" for b in scene.bodies)
    lines = [
        "# splat2sim export", "",
        f"Input: `{prov.get('input')}`  ",
        f"Units: {prov.get('units')} (scale from: {prov.get('scale_source')}); +z up; origin on the support surface.", "",
        "## Objects", "", "| body | label | mass (kg) | friction | restitution | hulls | physics source |",
        "|---|---|---|---|---|---|---|", rows, "",
        "## Open it", "",
        "- MuJoCo: `python -m mujoco.viewer --mjcf mjcf/scene.xml`",
        "- pybullet: `python urdf/load_pybullet.py --gui` (passes `URDF_USE_INERTIA_FROM_FILE`)",
        "- USD (Isaac Sim, usdview): open `usd/scene.usda`",
        "- Gazebo: `gz sim sdf/scene.sdf`; Drake: `Parser(plant).AddModels('sdf/scene.sdf')`",
        "- Photoreal views: `assets/gaussians.ply` (world frame) and `assets/<body>/gaussians.ply` (object frame: apply the body's pose)", "",
        "Files: " + ", ".join(f"`{Path(p).parent.name}/{Path(p).name}`" for p in formats.values()), "",
        "## Stages", "", "| stage | version | backend | seconds | warnings |", "|---|---|---|---|---|",
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
    formats = [f for f in ("mjcf", "urdf", "usd", "sdf") if getattr(cfg, f)]
    with ctx.timed("formats"):
        written = write_formats(scene, ctx.out_dir, formats)
    if "mjcf" in written:
        with ctx.timed("mujoco_compile"):
            _, messages = compile_model(written["mjcf"])
        for m in messages:
            ctx.warn(f"MuJoCo compiler: {m}")
    (ctx.out_dir / "README.md").write_text(readme(scene, scene.provenance, ctx.warnings, written))
    ctx.metrics.update({"bodies": len(scene.bodies), "hulls": sum(len(b.collision) for b in scene.bodies),
                        "formats": sorted(written), "total_mass_kg": round(sum(b.inertial["mass"] for b in scene.bodies), 4)})
    ctx.summary += [("bodies", ", ".join(b.name for b in scene.bodies) or "none"), ("formats", ", ".join(sorted(written)))]
    if not scene.bodies:
        ctx.warn("no objects: the scene has only the support surface")
