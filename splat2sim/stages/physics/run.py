"""The physics stage: per object material, mass, inertia, friction and restitution, each
with a range, a source (vlm / clip / prior / user) and a confidence -> physics/physics.json.

Estimators are tried in the configured order per object (default vlm -> clip -> prior);
every step down is recorded with ``ctx.fallback``. Mass is reconciled with density x the
measured material volume (shell-aware, see reconcile.py). Everything here is in metres: the
meshes are metric, and cameras and boxes are converted with the scale stage's factor, whose
uncertainty (when it came from object sizes) widens the mass and inertia ranges.

One module per concern: crops.py (views where the object is clear), estimates.py (prior,
VLM, CLIP), finish.py (reconciliation, overrides, the record), this file (the flow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splat2sim.artifacts import mesh as mesh_artifacts
from splat2sim.artifacts import physics as physics_artifacts
from splat2sim.artifacts import poses, scale, segment
from splat2sim.errors import StageError
from splat2sim.stages.base import StageContext
from splat2sim.stages.physics import overrides as OV
from splat2sim.stages.physics import priors as P
from splat2sim.stages.physics.crops import _object_geometry, _surface_in_world, object_crops, visible_fraction
from splat2sim.stages.physics.estimates import (
    CONFIDENCE,
    Estimate,
    VLMEstimator,
    clip_estimate,
    load_prompt,
    prior_estimate,
    vlm_estimate,
)
from splat2sim.stages.physics.finish import _check, _finish

__all__ = ["run", "object_crops", "visible_fraction", "prior_estimate", "vlm_estimate", "clip_estimate", "load_prompt",
           "Estimate", "CONFIDENCE"]  # fmt: skip


def run(ctx: StageContext) -> None:
    cfg = ctx.config
    metric = ctx.metric_frame()
    scale_doc = ctx.read(scale.SCALE)
    meshes = {m["id"]: m for m in ctx.read(mesh_artifacts.MESH).objects}
    all_objects = metric.objects(ctx.read(segment.OBJECTS)).objects
    objects = [o for o in all_objects if o["id"] in meshes]
    for o in all_objects:
        if o["id"] not in meshes:
            ctx.warn(f"{o['id']} ({o.get('label')}) has no mesh: skipped")
    user = _user_values(ctx, objects)
    geoms = {}
    with ctx.timed("geometry"):
        for o in objects:
            geoms[o["id"]] = g = _object_geometry(ctx.upstream_dir("mesh"), meshes[o["id"]])
            for note in g.notes:
                ctx.warn(f"{o['id']}: {note}")
    crops = {}
    if any(e in cfg.estimators for e in ("vlm", "clip")):
        cameras = metric.cameras(ctx.read(poses.CAMERAS).to_dict())
        with ctx.timed("crops"):
            crops = _crops(ctx, objects, meshes, geoms, cameras)
    known_scale = scale_doc.source != "unknown"
    order, unavailable, vlm, cache, clip_weights = _estimators(ctx)
    with ctx.timed("estimate"), ctx.progress("Estimating physical properties", total=len(objects)) as task:
        estimates = {}
        for o in objects:
            estimates[o["id"]] = _estimate(ctx, o, geoms[o["id"]], crops, order, vlm, clip_weights, known_scale)
            task.advance(1)
    scale_sigma = float(scale_doc.log_sigma or 0.0)
    if not known_scale:
        ctx.warn("no metric scale (see the scale stage): masses and inertias are in reconstruction units, not physical")
    out_objects = [_finish(ctx, o, estimates[o["id"]], geoms[o["id"]], user.get(o["id"], {}), 3 * scale_sigma) for o in objects]
    doc = {
        "objects": out_objects,
        "scale": {"value": scale_doc.scale, "source": scale_doc.source, "log_sigma": scale_doc.log_sigma,
                  "vlm_sizes": _vlm_size_check(ctx, scale_doc, {o["id"]: geoms[o["id"]].extents for o in objects}, estimates),
                  "note": "masses and inertias are for the metric objects; their ranges include the scale's uncertainty"},
        "estimators": {"order": list(cfg.estimators), "unavailable": unavailable,
                       "vlm": None if vlm is None else {"model": cfg.vlm_model, "prompt": cfg.prompt, "api_key": vlm.key_status,
                                                        "requests": vlm.client.requests_sent, "cache_hits": cache.hits, "cache_misses": cache.misses},
                       "clip": None if clip_weights is None else {"model": cfg.clip_model, "weights": "random" if clip_weights == "random" else Path(clip_weights).name}},
        "material_table": {"version": P.material_table().get("version"), "sources": P.material_table().get("sources")},
    }  # fmt: skip
    _check(doc)
    physics_artifacts.PHYSICS.write(ctx.out_dir, doc)
    if vlm is not None:
        physics_artifacts.VLM_LOG.write(ctx.out_dir, {"requests": vlm.log})
    _report(ctx, out_objects, vlm, cache)


def _user_values(ctx: StageContext, objects: list[dict]) -> dict:
    """physics.objects and physics.overrides_file, resolved to object ids."""
    cfg = ctx.config
    user_raw = OV.parse(cfg.objects)
    if cfg.overrides_file:
        from_file = OV.read_file(cfg.overrides_file)
        user_raw = {**from_file, **{k: {**from_file.get(k, {}), **v} for k, v in user_raw.items()}}
    user, override_warnings = OV.resolve(user_raw, objects)
    for w in override_warnings:
        ctx.warn(w)
    return user


def _crops(ctx: StageContext, objects: list[dict], meshes: dict, geoms: dict, cameras: dict) -> dict:
    """Per object (rgb crops, JPEG bytes, frame files) from views where it is clear."""
    cfg = ctx.config
    crop_dir = ctx.out_dir / "crops"
    crop_dir.mkdir()
    samples = {o["id"]: _surface_in_world(geoms[o["id"]], meshes[o["id"]]) for o in objects}
    crops, crop_views = {}, {}
    for o in objects:
        lo, hi = o.get("bbox_min"), o.get("bbox_max")
        if lo is None or hi is None:
            m = meshes[o["id"]]
            t = np.asarray(m["world_from_object"], float)[:3, 3]
            lo, hi = (np.asarray(m["bounds"][0]) + t).tolist(), (np.asarray(m["bounds"][1]) + t).tolist()
        others = [samples[q["id"]] for q in objects if q["id"] != o["id"]]
        rgb, jpegs, files, visible = object_crops(
            ctx.upstream_dir("frames"), cameras, lo, hi, cfg.views, cfg.crop_size,
            own=samples[o["id"]], others=np.concatenate(others) if others else np.zeros((0, 3)),
        )  # fmt: skip
        crops[o["id"]] = (rgb, jpegs, files)
        crop_views[o["id"]] = [{"frame": f, "visible": v} for f, v in zip(files, visible)]
        for k, jpeg in enumerate(jpegs):
            (crop_dir / f"{o['id']}_{k}.jpg").write_bytes(jpeg)
        if not jpegs:
            ctx.warn(f"{o['id']}: no keyframe shows the whole object: image-based estimators skip it")
        elif min(visible) < 0.8:
            ctx.warn(f"{o['id']}: other objects hide {1 - min(visible):.0%} of it in its most hidden crop "
                     f"(fewer clear views than physics.views={cfg.views})")  # fmt: skip
    ctx.metrics["crop_views"] = crop_views
    return crops


def _estimators(ctx: StageContext):
    """The estimators that can run, in order; the VLM client and its answer cache; CLIP weights."""
    cfg = ctx.config
    vlm = clip_weights = cache = None
    unavailable: dict[str, str] = {}
    if "vlm" in cfg.estimators:
        if not cfg.vlm_url:
            unavailable["vlm"] = "no VLM endpoint configured (physics.vlm_url)"
        else:
            from splat2sim.stages.physics.cache import AnswerCache

            shared = [Path(cfg.cache_dir).expanduser()] if cfg.cache_dir else []
            places = [ctx.out_dir / "vlm_cache", ctx.cache_dir("vlm"), *shared]
            cache = AnswerCache(places, places, enabled=cfg.cache)
            vlm = VLMEstimator(ctx, cache)
            ctx.backend = f"vlm:{cfg.vlm_model}"
    if "clip" in cfg.estimators:
        from splat2sim.stages.physics.clip_material import find_weights

        clip_weights = find_weights(cfg.clip_model, cfg.clip_weights)
        if clip_weights is None:
            unavailable["clip"] = f"no open-clip weights for {cfg.clip_model} (physics.clip_weights, or $SPLAT2SIM_MODELS/clip/{cfg.clip_model}.pt)"
        elif clip_weights == "random":
            ctx.warn("CLIP runs with random weights (physics.clip_weights=random): its materials are meaningless (testing only)")
    order = [e for e in cfg.estimators if e not in unavailable]
    for name, why in unavailable.items():
        after = [e for e in order if cfg.estimators.index(e) > cfg.estimators.index(name)] or ["prior"]
        ctx.fallback(f"{name} estimates", after[0], why)
    return order, unavailable, vlm, cache, clip_weights


def _estimate(ctx: StageContext, o: dict, g, crops: dict, order: list[str], vlm, clip_weights, known_scale: bool) -> Estimate:
    """The first estimator in ``order`` that works for this object; each failure recorded."""
    cfg = ctx.config
    oid, label = o["id"], o.get("label")
    rgb, jpegs, _ = crops.get(oid, ([], [], []))
    est, tried = None, []
    for name in order:
        if name in ("vlm", "clip") and not jpegs:
            tried.append((name, "no view shows the whole object"))
            continue
        try:
            if name == "vlm":
                vol = (f"Enclosed volume of its reconstructed surface: {g.volume * 1e6:.4g} cm^3 "
                       f"({'watertight' if g.watertight else 'approximate'})." if known_scale else "")  # fmt: skip
                est = vlm.estimate(oid, label, g.extents, vol, jpegs, known_scale)
            elif name == "clip":
                from splat2sim.stages.physics.clip_material import classify

                est = clip_estimate(classify(rgb, cfg.clip_model, clip_weights, P.material_table()), label)
            else:
                est = prior_estimate(label)
            break
        except StageError as exc:
            tried.append((name, exc.message))
    if est is None:
        est = prior_estimate(label)
    for name, why in tried:
        ctx.fallback(f"{oid} {name} estimate", est.source, why)
    return est


def _vlm_size_check(ctx: StageContext, scale_doc, extents: dict, estimates: dict) -> dict | None:
    """The VLM's object sizes against the metric meshes: how much they say the scale is off.

    The scale is decided before physics (scale stage), so a disagreement is reported, not
    applied: a warning names the factor and how to set it (scale.value)."""
    ratios = []
    for oid, est in estimates.items():
        if est.size_m:
            real = np.sort(np.asarray(est.size_m, float))[::-1][:3]
            measured = np.sort(np.asarray(extents[oid], float))[::-1][: len(real)]
            if measured.min() > 0:
                ratios.append(float(np.median(real / measured)))
    if not ratios:
        return None
    factor = float(np.exp(np.median(np.log(ratios))))
    lo, hi = scale_doc.range or [scale_doc.scale] * 2
    tolerance = 1.25 if scale_doc.poses_metric else 1.0  # a measured scale is trusted over the VLM's guesses
    agrees = lo / scale_doc.scale / tolerance <= factor <= hi / scale_doc.scale * tolerance
    if not agrees:
        ctx.warn(f"the VLM's object sizes say the scene is x{factor:.3g} its metric size ({len(ratios)} objects); the scale "
                 f"stage used {scale_doc.scale:.4g} ({scale_doc.source}). If the VLM is right, re-run with "
                 f"--set scale.value={scale_doc.scale * factor:.4g}")  # fmt: skip
    return {"factor": round(factor, 6), "objects": len(ratios), "agrees": bool(agrees)}


def _report(ctx: StageContext, out_objects: list[dict], vlm, cache) -> None:
    sources: dict[str, int] = {}
    for obj in out_objects:
        sources[obj["source"]] = sources.get(obj["source"], 0) + 1
    ctx.metrics.update({"objects": len(out_objects), "sources": sources,
                        "total_mass_kg": round(sum(x["mass"]["value"] for x in out_objects), 6)})  # fmt: skip
    if vlm is not None:
        ctx.metrics.update({"vlm_requests": vlm.client.requests_sent, "vlm_cache_hits": cache.hits, "vlm_cache_misses": cache.misses})
    for obj in out_objects:
        m = obj["mass"]
        ctx.summary.append((f"{obj['id']} {obj['label'] or ''}".strip(),
                            f"{obj['material']}, {m['value']:.3g} kg [{m['range'][0]:.3g}, {m['range'][1]:.3g}] ({obj['source']}, conf {obj['confidence']:.2f})"))  # fmt: skip
