"""The scale stage -> scale/scale.json: metres per unit of poses' world frame.

When poses measured the scale (a marker, a known length, a metric import) it is 1. Otherwise
it comes from ``scale.value`` or from weak cues fused with their uncertainties (scale.fuse):
the segmented objects' sizes against their labels' size priors (scale.sizes) and the
phone's distance to the scene it framed against a handheld prior (scale.camera), with a
range and each cue's estimate and weight in scale.json. Every later stage reads world-frame geometry through
``ctx.metric_frame()``, so meshes, hulls, physics and the exported scene are all in metres.
"""

from __future__ import annotations

import math

import numpy as np

from splat2sim.artifacts import poses, scale, segment
from splat2sim.stages.base import StageContext
from splat2sim.stages.scale.camera import camera_distance_cue
from splat2sim.stages.scale.fuse import fuse_cues
from splat2sim.stages.scale.sizes import scale_from_sizes


def run(ctx: StageContext) -> None:
    cfg = ctx.config
    world = ctx.read(poses.WORLD)
    objects = ctx.read(segment.OBJECTS).objects
    if world.metric:
        sigma = measured_sigma(world)
        doc = scale.Scale(scale=1.0, source=world.scale_source, poses_metric=True, range=[math.exp(-2 * sigma), math.exp(2 * sigma)],
                          log_sigma=sigma, note=f"poses measured the scale ({world.scale_source}): the world is metric, to about "
                          f"{100 * sigma:.1f} % (one sigma)")  # fmt: skip
    elif cfg.value is not None:
        doc = scale.Scale(scale=float(cfg.value), source="user", poses_metric=False, range=[float(cfg.value)] * 2, log_sigma=0.0,
                          note="scale.value given by the user")  # fmt: skip
        ctx.warn(f"poses had no metric scale: every length scaled by {cfg.value:.4g} (scale.value)")
    else:
        doc, skipped = _from_cues(ctx, objects)
        if doc is None:
            why = "no cue gave a scale: " + "; ".join(skipped.values() or ["every cue is off"])
            ctx.fallback("metric scale", "SfM units (scale 1)", why)
            doc = scale.Scale(scale=1.0, source="unknown", poses_metric=False, range=[], log_sigma=None,
                              note="no metric scale: lengths are in SfM units and masses are not physical")  # fmt: skip
    scale.SCALE.write(ctx.out_dir, doc)
    ctx.metrics.update({"scale": round(doc.scale, 6), "source": doc.source, "range": [round(x, 6) for x in doc.range]})
    span = f" [{doc.range[0]:.4g}, {doc.range[1]:.4g}]" if doc.range and doc.range[0] != doc.range[1] else ""
    ctx.summary.append(("metres per world unit", f"{doc.scale:.5g}{span} ({doc.source})"))


#: The least uncertainty (log sigma) of a scale that poses measured. On the benchmark's
#: captures with a marker (seeds 100-112 and 200-206, even), the marker scale was off by up to
#: 3.6 % (RMS 1.8 %) where its views agreed to 1-3 %: part of the error is shared by every view
#: (corner refinement on a small marker, the reconstruction's own drift), which their spread
#: cannot show. A known length or an imported metric trajectory gets the same floor.
MEASURED_SIGMA_FLOOR = 0.02


def measured_sigma(world) -> float:
    """Log sigma of the metric scale poses measured, at least ``MEASURED_SIGMA_FLOOR``: the
    larger of the marker's size spread between pairs of views (a MAD, as a sigma; not with 2
    views: there is one pair, whose spread is 0 whatever the error) and the
    irregularity of its triangulated square (its sides' relative spread, which a marker
    seen small or in few views shows: seed 144 of bench_objects, 2 views of a marker ~20 px
    wide, sides 7.8 % apart, the scale 10.6 % off)."""
    detail = world.extra.get("scale") or {}
    views = sum(int(m.get("views", 0)) for m in (detail.get("markers") or {}).values()) or int(detail.get("frames_with_marker") or 0)
    mad = detail.get("pairwise_relative_mad")
    spread = 1.4826 * float(mad) if mad is not None and np.isfinite(float(mad)) and views != 2 else 0.0  # 0: not recorded
    shape = detail.get("side_relative_spread")
    shape = float(shape) if shape is not None and np.isfinite(float(shape)) else 0.0
    return max(MEASURED_SIGMA_FLOOR, spread, shape)


def _from_cues(ctx: StageContext, objects: list[dict]) -> tuple[scale.Scale | None, dict]:
    """The weak cues (object sizes against their priors; the camera's distance to the scene
    against a handheld prior), fused in log space, each recorded with its estimate and weight;
    and the cues skipped, with why."""
    cfg = ctx.config
    cues, skipped = {}, {}
    if cfg.from_sizes == "auto":
        # an object lying flat gives no size cue: the priors are of standing objects, and its
        # height is lost in the support layer's blur (segment.flat)
        items = [(o["id"], extent, o.get("label")) for o in objects if not o.get("lying_flat") and (extent := _extent(o)) is not None]
        sizes = scale_from_sizes(items)
        if sizes is None:
            skipped["sizes"] = "no object has a measurable size"
        else:
            cues["sizes"] = {"scale": sizes["scale"], "log_sigma": sizes["log_sigma"], "objects": len(sizes["per_object"]),
                             "per_object": sizes["per_object"]}  # fmt: skip
    if cfg.camera_distance == "auto":
        views = [f["world_from_camera"] for f in ctx.read(poses.CAMERAS).registered()]
        spread = cfg.camera_distance_spread
        cue = camera_distance_cue(views, cfg.camera_distance_m, (cfg.camera_distance_m / spread, cfg.camera_distance_m * spread))
        if "skipped" in cue:
            skipped["camera_distance"] = cue["skipped"]
        else:
            cues["camera_distance"] = cue
    if skipped:
        ctx.metrics["cues_skipped"] = skipped
    fused = fuse_cues(cues)
    if fused is None:
        return None, skipped
    for name, share in fused["weights"].items():
        cues[name]["weight"] = share
    names = "+".join(cues)
    detail = ", ".join(f"{k} {c['scale']:.4g} (weight {c['weight']:.0%})" for k, c in cues.items())
    ctx.warn(f"poses had no metric scale: every length scaled by {fused['scale']:.4g}, range [{fused['range'][0]:.3g}, "
             f"{fused['range'][1]:.3g}], from weak cues: {detail}")  # fmt: skip
    for name, why in skipped.items():
        ctx.warn(f"scale cue {name} not used: {why}")
    per_object = cues.get("sizes", {}).pop("per_object", {})
    doc = scale.Scale(scale=fused["scale"], source=f"prior:{names}", poses_metric=False, range=fused["range"], log_sigma=fused["log_sigma"],
                       per_object=per_object, cues={**_rounded(cues), "skipped": skipped, "disagreement": fused["disagreement"]},
                       note="poses found no metric scale: lengths in poses/, splat/ and segment/ x scale = metres")  # fmt: skip
    return doc, skipped


def _rounded(cues: dict) -> dict:
    return {k: {f: round(v, 6) if isinstance(v, float) else v for f, v in c.items()} for k, c in cues.items()}


def _extent(obj: dict) -> np.ndarray | None:
    """The object's size in world units: segment's extent_robust, else (an objects.json
    written by other tools) its bounding box."""
    if obj.get("extent_robust") is not None:
        return np.asarray(obj["extent_robust"], float)
    if obj.get("bbox_min") is not None and obj.get("bbox_max") is not None:
        return np.asarray(obj["bbox_max"], float) - np.asarray(obj["bbox_min"], float)
    return None
