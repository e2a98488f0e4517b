"""The segment stage: split the splat into background and objects, name them.

geometric clusters (always) -> segment-anything refinement (when weights are present)
-> open-clip labels (when weights are present) -> objects.json, gaussian_labels.npy.
"""

from __future__ import annotations

import time

import numpy as np

from splat2sim.artifacts import segment as segment_artifacts
from splat2sim.artifacts import splat as splat_artifacts
from splat2sim.errors import StageError
from splat2sim.stages.base import StageContext

ROBUST_PERCENTILE = 2.0  # extent_robust: between these percentiles of the Gaussian centres (per axis)


def load_splat(ctx: StageContext) -> dict[str, np.ndarray]:
    from splat2sim.io.gaussians_ply import read_gaussians_ply

    return read_gaussians_ply(splat_artifacts.GAUSSIANS.require(ctx.upstream_dir("splat")))


def torch_gaussians(data: dict):
    import torch

    from splat2sim.render import Gaussians

    return Gaussians(*(torch.tensor(np.ascontiguousarray(data[k]), dtype=torch.float32)
                       for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))  # fmt: skip


def scene_size(views) -> float:
    """Typical distance of the cameras from the scene centre (the world origin)."""
    return float(np.median(np.linalg.norm(views.centers(), axis=1)))


def run(ctx: StageContext) -> None:
    from splat2sim.stages.segment import geometric as G
    from splat2sim.stages.segment.solidity import view_solidity
    from splat2sim.stages.segment.views import frustum_counts, load_views, spread

    cfg = ctx.config
    t0 = time.perf_counter()
    data = load_splat(ctx)
    means = data["means"].astype(np.float64)
    views = load_views(ctx.upstream_dir("frames"), ctx.upstream_dir("poses"), cfg.render_max_side)
    size = scene_size(views)
    if not np.isfinite(size) or size <= 0:
        raise StageError("the cameras sit at the scene centre: no scene size to scale thresholds by", hint="check poses/world.json")
    with ctx.timed("geometric"):
        frustum = frustum_counts(means, views, near=0.01 * size)
        footprints = _view_footprints(ctx, data, views) if cfg.view_footprints else None
        geo = G.segment_geometric(means, data["log_scales"], data["opacity_logits"], frustum, size, cfg, footprints=footprints)
        labels = G.attach_hidden(geo.labels, means, geo.candidate, geo.stats["height_margin"],
                                 1.5 * (geo.stats.get("spacing_objects") or geo.stats["spacing"]),
                                 layer=geo.stats["table_thickness"])  # fmt: skip
    method = "geometric"
    clusters = [{"notes": list(c.notes), "merged": c.merged} for c in geo.clusters]
    if cfg.flat_objects:
        with ctx.timed("flat"):
            labels = _add_flat_objects(ctx, data, means, labels, clusters, geo, frustum / max(views.num, 1))
    sam_info: dict = {}

    if cfg.method in ("auto", "sam"):
        labels, clusters, sam_info, method = _refine_with_sam(ctx, data, views, labels, geo, clusters)
    with ctx.timed("solidity"):  # evidence against fog, and for each object's confidence
        solidity = view_solidity(torch_gaussians(data), views.subset(spread(cfg.visibility_views, views.num)).cameras(), labels, len(clusters))
    labels, clusters, solidity = _reject_seen_through(labels, means, clusters, solidity, cfg.min_solidity, geo.rejected)
    geo.stats["rejected_clusters"] = len(geo.rejected)
    label_source = "none"
    names: list[str] = [f"object_{k}" for k in range(len(clusters))]
    scores: list[float | None] = [None] * len(clusters)
    if cfg.labels in ("auto", "clip") and clusters:
        from splat2sim.stages.segment import clip_labels as L

        found = L.find_weights(cfg)
        if found is None:
            ctx.fallback("open-clip labels", "object_N names", L.missing_reason(cfg))
        else:
            with ctx.timed("clip"):
                bundle = L.load_clip(cfg.clip_model, found, device=_device(ctx))
                g = torch_gaussians(data)
                result = L.label_objects(bundle, g, views, labels, len(clusters), L.read_vocabulary(cfg.vocabulary), cfg)
            label_source = "clip"
            for k, (label, score, note) in enumerate(zip(result.labels, result.scores, result.notes)):
                if label is not None and score >= cfg.min_label_score:
                    names[k], scores[k] = label, round(float(score), 4)
                else:
                    scores[k] = None if score is None else round(float(score), 4)
                if note:
                    clusters[k]["notes"].append(note)
            ctx.metrics["clip"] = result.info
    elif cfg.labels == "none":
        pass
    write_outputs(ctx, labels, means, clusters, names, scores, method, label_source, geo, (frustum, views.num), solidity)
    ctx.metrics.update({
        "method": method, "label_source": label_source, "objects": len(clusters),
        "background_gaussians": int((labels < 0).sum()), "removed_floaters": int(geo.stats["floaters"]),
        "geometric": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in geo.stats.items()},
        "rejected_clusters": geo.rejected, "seconds": round(time.perf_counter() - t0, 2),
    })  # fmt: skip
    if sam_info:
        ctx.metrics["sam"] = sam_info
    ctx.summary += [
        ("method", method + (f" (labels: {label_source})")),
        ("objects", ", ".join(f"{n} ({int((labels == k).sum())})" for k, n in enumerate(names)) or "none"),
        ("background / floaters", f"{int((labels < 0).sum())} / {geo.stats['floaters']}"),
    ]
    if not clusters:
        ctx.warn(
            "no object was found above the support surface: the scene has nothing to simulate "
            "(objects need to stand on the support and be seen from several sides; see rejected_clusters in the record)"
        )


def _reject_seen_through(labels: np.ndarray, means: np.ndarray, clusters: list, solidity: np.ndarray, minimum: float, rejected: list):
    """Clusters the views see through (segment.solidity below ``minimum``: fog or blur of the
    splat over the support) go to the background, described in ``rejected``; the rest are
    renumbered in order. Returns (labels, clusters, solidity) of what is kept."""
    keep = [k for k in range(len(clusters)) if not solidity[k] < minimum]  # nan (unseen) is kept: no evidence
    for k in sorted(set(range(len(clusters))) - set(keep)):
        p = means[labels == k]
        rejected.append({"gaussians": int(len(p)), "centroid": [round(float(v), 4) for v in p.mean(0)] if len(p) else None,
                         "solidity": round(float(solidity[k]), 4),
                         "reason": f"seen through in the views (solidity {solidity[k]:.2f} < segment.min_solidity {minimum}): fog or blur over "
                                   "the support, not a solid"})  # fmt: skip
    remap = np.full(len(clusters) + 1, -1, np.int32)
    remap[keep] = np.arange(len(keep))
    labels = np.where(labels >= 0, remap[np.clip(labels, 0, len(clusters))], -1).astype(np.int32)
    return labels, [clusters[k] for k in keep], solidity[keep]


def _add_flat_objects(ctx: StageContext, data: dict, means: np.ndarray, labels: np.ndarray, clusters: list, geo, seen_share: np.ndarray):
    """Objects lying flat on the support (segment.flat) appended to ``labels`` and
    ``clusters``; the evidence goes to the record (``flat``)."""
    from splat2sim.render.conventions import SH_C0
    from splat2sim.stages.segment.flat import lying_flat
    from splat2sim.stages.segment.support import SupportRegion

    margin = geo.stats["height_margin"]
    support = SupportRegion.of(means, margin, 2 * geo.stats["spacing"])
    rgb = np.clip(data["sh"][:, 0, :] * SH_C0 + 0.5, 0.0, 1.0)
    found, stats = lying_flat(means, rgb, labels, seen_share, margin, support)
    labels = labels.copy()
    for flat in found:
        labels[flat.indices] = len(clusters)
        clusters.append({"notes": [flat.note()], "merged": False, "lying_flat": True})
    ctx.metrics["flat"] = {**stats, "found": len(found)}
    return labels


def _view_footprints(ctx: StageContext, data: dict, views):
    """The ``footprints`` function of segment_geometric: objects seen from above in the
    fused height map of the views' rendered depth (segment.regions)."""
    from splat2sim.stages.segment import regions as R
    from splat2sim.stages.segment.views import spread

    cfg = ctx.config
    picked = views.subset(spread(cfg.visibility_views, views.num))

    def footprints(points: np.ndarray, margin: float, layer: float):
        with ctx.timed("view_footprints"):
            grid, lo, cell, info = R.view_footprints(torch_gaussians(data), picked, points, margin, layer,
                                                     factor=cfg.depth_agreement, ratio=cfg.peak_ratio, broad=cfg.peak_broad)  # fmt: skip
        ctx.metrics["view_footprints"] = info
        return grid, lo, cell

    return footprints


def _device(ctx: StageContext) -> str:
    import torch

    if ctx.run_config.device == "cuda" or (ctx.run_config.device == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def write_outputs(ctx, labels, means, clusters, names, scores, method, label_source, geo, seen, solidity) -> None:
    """objects.json and gaussian_labels.npy. ``seen``: (per-Gaussian view counts, views);
    ``solidity`` [len(clusters)]: segment.solidity's measure per cluster."""
    from splat2sim.names import unique
    from splat2sim.stages.segment.confidence import LOW, object_confidence

    objects = []
    # stable order by decreasing Gaussian count (the refinement may have changed counts)
    counts = np.array([int((labels == k).sum()) for k in range(len(clusters))])
    order = [int(k) for k in np.argsort(-counts, kind="stable") if counts[k] > 0]
    remap = np.full(len(clusters) + 1, -1, np.int32)
    for new, old in enumerate(order):
        remap[old] = new
    final = np.where(labels >= 0, remap[np.clip(labels, 0, len(clusters))], -1).astype(np.int32)
    shown = unique([names[k] if not names[k].startswith("object_") else f"object_{i}" for i, k in enumerate(order)])
    low = geo.stats["height_margin"]
    for new, old in enumerate(order):
        members = np.flatnonzero(final == new)
        p = means[members]
        lo, hi = p.min(0), p.max(0)
        # a size for the scale's priors: the extreme Gaussians are the strays (blur, a few
        # misassigned), which made min/max 1.2-1.9x the true size on bench_objects
        robust = np.percentile(p, 100 - ROBUST_PERCENTILE, axis=0) - np.percentile(p, ROBUST_PERCENTILE, axis=0) if len(p) >= 50 else hi - lo
        support = "table" if lo[2] <= 2 * low + (geo.stats.get("spacing_objects") or 0) else _support_below(new, p, final, means)
        merged = bool(clusters[old]["merged"])
        confidence, reasons = object_confidence(len(members), seen[0][members], seen[1], support, merged, float(solidity[old]))
        if confidence < LOW:
            ctx.warn(f"obj_{new:03d}: low confidence {confidence:.2f} ({'; '.join(reasons)}); kept, and flagged in objects.json")
        objects.append({
            "id": f"obj_{new:03d}", "index": new, "label": shown[new],
            "label_score": scores[old], "gaussians": int(len(members)),
            "centroid": [round(float(v), 6) for v in p.mean(0)],
            "bbox_min": [round(float(v), 6) for v in lo], "bbox_max": [round(float(v), 6) for v in hi],
            "extent_robust": [round(float(v), 6) for v in robust], "support": support, "merged": merged, "notes": clusters[old]["notes"],
            "lying_flat": bool(clusters[old].get("lying_flat", False)),
            "solidity": None if np.isnan(solidity[old]) else round(float(solidity[old]), 4),
            "confidence": confidence, "confidence_reasons": reasons, "low_confidence": confidence < LOW,
        })  # fmt: skip
    doc = {
        "method": method, "label_source": label_source,
        # layer_thickness: how thick the support's Gaussians are; below height_margin an
        # object's Gaussians cannot be told from the support's (meshing extends objects there)
        "support_plane": {"normal": [0.0, 0.0, 1.0], "offset": 0.0,
                          "layer_thickness": round(float(geo.stats["table_thickness"]), 6),
                          "height_margin": round(float(geo.stats["height_margin"]), 6)},
        "objects": objects, "background_gaussians": int((final < 0).sum()),
        "removed_floaters": int(geo.stats["floaters"]),
    }  # fmt: skip
    np.save(segment_artifacts.LABELS.path(ctx.out_dir), final)
    segment_artifacts.OBJECTS.write(ctx.out_dir, doc)


def _refine_with_sam(ctx: StageContext, data: dict, views, labels, geo, clusters):
    """segment-anything masks lifted onto the geometric clusters, when a checkpoint is there;
    else the geometric result, with the fallback recorded. -> (labels, clusters, info, method)"""
    cfg = ctx.config
    method, sam_info = "geometric", {}
    from splat2sim.stages.segment import sam as S

    found = S.find_checkpoint(cfg)
    if found is None:
        why = S.missing_reason(cfg)
        if cfg.method == "sam":
            ctx.fallback("segment-anything masks", "geometric segmentation", why)
        else:
            ctx.fallback("segment-anything masks (method=auto)", "geometric segmentation", why)
    elif not clusters:
        ctx.warn("segment-anything was not run: geometry found no object to prompt it with")
    else:
        with ctx.timed("sam"):
            model, model_info = S.load_sam(found, device=_device(ctx))
            ctx.metrics["sam_model"] = model_info
            if model_info.get("checksum") == "mismatch":
                ctx.warn(f"SAM checkpoint {found.path} does not match the official checksum; using it anyway")
            g = torch_gaussians(data)
            refined = S.refine_with_sam(model, g, views, labels, geo, cfg, progress=ctx.progress)
        labels, clusters, sam_info = refined.labels, refined.clusters, refined.info
        method = "sam"
    return labels, clusters, sam_info, method


def _support_below(index: int, points: np.ndarray, labels: np.ndarray, means: np.ndarray) -> str:
    """The object under ``points`` (its footprint overlaps, its top is near their bottom), else 'none'."""
    bottom = points[:, 2].min()
    cx, cy = points[:, :2].mean(0)
    for k in range(int(labels.max()) + 1):
        if k == index:
            continue
        q = means[labels == k]
        if len(q) == 0:
            continue
        lo, hi = q.min(0), q.max(0)
        if lo[0] <= cx <= hi[0] and lo[1] <= cy <= hi[1] and hi[2] <= bottom + 0.25 * (hi[2] - lo[2]):
            return f"obj_{k:03d}"
    return "none"
