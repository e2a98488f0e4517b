"""segment-anything refinement: prompts from the projected geometric clusters, masks lifted
to the Gaussians by multi-view voting, reconciled with geometry (SAM wins where it splits
a cluster; every disagreement is recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import ConfigError

PREFERENCE = ["sam_vit_h", "sam_vit_l", "sam_vit_b"]


@dataclass
class Found:
    path: Path
    arch: str
    checksum: str  # match | mismatch | unchecked


def find_checkpoint(cfg) -> Found | None:
    from splat2sim import models as M

    if cfg.sam_checkpoint:
        path = Path(cfg.sam_checkpoint).expanduser()
        if not path.is_file():
            raise ConfigError(f"segment.sam_checkpoint {path} does not exist", hint="give a SAM .pth, or unset it")
        arch = cfg.sam_model if cfg.sam_model != "auto" else next((a for a in ("vit_h", "vit_l", "vit_b") if a in path.name), None)
        if arch is None:
            raise ConfigError(f"cannot tell the SAM architecture of {path.name}", hint="set segment.sam_model to vit_h, vit_l or vit_b")
        return Found(path, arch, "unchecked")
    names = PREFERENCE if cfg.sam_model == "auto" else [f"sam_{cfg.sam_model}"]
    hit = M.find("sam", names)
    if hit is None:
        return None
    return Found(hit.path, hit.spec.arch, hit.checksum)


def missing_reason(cfg) -> str:
    from splat2sim import models as M

    names = PREFERENCE if cfg.sam_model == "auto" else [f"sam_{cfg.sam_model}"]
    files = ", ".join(M.get_spec(n).filename for n in names)
    return f"no segment-anything weights ({files}) in {M.models_dir()}; `splat2sim models download sam_vit_b` fetches them"


def load_sam(found: Found, device: str = "cpu"):
    """The segment-anything model of ``found`` with its weights (loaded weights_only)."""
    from splat2sim.model_loading import load_sam as load

    model = load(found.arch, found.path, device, purpose="segment-anything masks")
    return model, {"arch": found.arch, "path": str(found.path), "checksum": found.checksum}


# ----------------------------------------------------------------------------- prompting
def region_prompts(region: np.ndarray, ratio: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Prompts (box xyxy, point xy) for one projected cluster: one per part where its 2D
    region narrows (so that touching objects get a prompt each), else one."""
    from scipy import ndimage

    from splat2sim.stages.segment.geometric import assign_to_seeds, neck_parts

    parts = [region]
    seeds = neck_parts(region, ratio, max(8, int(0.05 * region.sum())))
    if seeds:
        lab = assign_to_seeds(region, seeds)
        parts = [lab == k + 1 for k in range(len(seeds))]
    prompts = []
    for part in parts:
        ys, xs = np.nonzero(part)
        if len(xs) < 4:
            continue
        dt = ndimage.distance_transform_edt(part)
        py, px = np.unravel_index(int(dt.argmax()), dt.shape)
        prompts.append((np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32), np.array([px + 0.5, py + 0.5], np.float32)))
    return prompts


def sam_masks(model, images: list[np.ndarray], regions: list[np.ndarray], num_clusters: int, ratio: float,
              min_pixels: int = 16) -> tuple[list[np.ndarray], list[list[int]]]:  # fmt: skip
    """For each view: SAM masks [M,H,W] from prompts on each visible cluster, and the
    cluster each mask was prompted from."""
    import torch

    from splat2sim import models as M

    sa = M.require("segment_anything", "segment-anything masks")
    predictor = sa.SamPredictor(model)
    all_masks, sources = [], []
    for image, region_img in zip(images, regions):
        h, w = region_img.shape
        masks, src = [], []
        visible = [k for k in range(num_clusters) if (region_img == k).sum() >= min_pixels]
        if visible:
            with torch.no_grad():
                predictor.set_image(image)
                for k in visible:
                    for box, point in region_prompts(region_img == k, ratio):
                        out, scores, _ = predictor.predict(point_coords=point[None], point_labels=np.array([1]), box=box,
                                                           multimask_output=True)  # fmt: skip
                        best = out[int(np.argmax(scores))]
                        if best.sum() >= min_pixels:
                            masks.append(best.astype(bool))
                            src.append(k)
        all_masks.append(np.stack(masks) if masks else np.zeros((0, h, w), bool))
        sources.append(src)
    return all_masks, sources


# ----------------------------------------------------------------------------- reconcile
def propagate(points: np.ndarray, labels: np.ndarray, k: int = 8) -> np.ndarray:
    """Fill -1 labels ring by ring over the k-nearest-neighbour graph (majority of the
    labelled neighbours), so that unseen surfaces take the label of the surface they
    continue rather than of whatever is closest; leftovers take the nearest label."""
    from scipy.spatial import cKDTree

    out = labels.copy()
    if (out >= 0).sum() == 0:
        return out
    tree = cKDTree(points)
    _, nbr = tree.query(points, k=min(k + 1, len(points)))
    nbr = nbr[:, 1:]
    for _ in range(64):
        todo = np.flatnonzero(out < 0)
        if not len(todo):
            break
        lab = out[nbr[todo]]  # [T,k]
        have = (lab >= 0).any(1)
        if not have.any():
            break
        top = int(out.max()) + 1
        counts = np.zeros((len(todo), top))
        rows = np.repeat(np.arange(len(todo)), lab.shape[1])
        valid = lab.ravel() >= 0
        np.add.at(counts, (rows[valid], lab.ravel()[valid]), 1)
        out[todo[have]] = counts[have].argmax(1)
    left = np.flatnonzero(out < 0)
    if len(left):
        known = np.flatnonzero(out >= 0)
        _, j = cKDTree(points[known]).query(points[left], k=1)
        out[left] = out[known][j]
    return out


@dataclass
class Refined:
    labels: np.ndarray
    clusters: list[dict]
    info: dict = field(default_factory=dict)


def reconcile(geo_labels: np.ndarray, sam_labels: np.ndarray, means: np.ndarray, geo_clusters: list[dict],
              min_share: float = 0.15, min_gaussians: int = 30) -> Refined:  # fmt: skip
    """Combine geometric clusters with lifted SAM instances.

    - a cluster covered by >= 2 instances (each >= ``min_share`` of it) is split along them;
      its Gaussians without a SAM vote join the nearest part (SAM wins: recorded);
    - an instance spanning clusters that geometry separates in space stays split (recorded);
    - Gaussians outside every cluster stay background (the support plane and floater
      filters are not overruled; recorded as a count);
    - a cluster no instance covers keeps its geometric extent (recorded)."""

    out = np.full(len(geo_labels), -1, np.int32)
    clusters: list[dict] = []
    info = {"split_clusters": 0, "unmatched_clusters": 0, "spanning_instances": 0, "relabelled": 0,
            "sam_only_background": int(((geo_labels < 0) & (sam_labels >= 0)).sum()), "disagreements": []}  # fmt: skip
    spans: dict[int, list[int]] = {}
    for c in range(len(geo_clusters)):
        members = np.flatnonzero(geo_labels == c)
        inst = sam_labels[members]
        ids, counts = np.unique(inst[inst >= 0], return_counts=True)
        parts = [int(i) for i, n in zip(ids, counts) if n >= max(min_share * len(members), min_gaussians)]
        for i in parts:
            spans.setdefault(i, []).append(c)
        notes = list(geo_clusters[c]["notes"])
        if len(parts) >= 2:
            info["split_clusters"] += 1
            part_of = propagate(means[members], np.where(np.isin(inst, parts), inst, -1))
            msg = f"segment-anything split a geometric cluster into {len(parts)} objects"
            info["disagreements"].append({"cluster": c, "kind": "split", "parts": len(parts)})
            for i in parts:
                idx = members[part_of == i]
                info["relabelled"] += int((sam_labels[idx] != i).sum())
                out[idx] = len(clusters)
                clusters.append({"notes": notes + [msg], "merged": False})
            continue
        if not parts:
            info["unmatched_clusters"] += 1
            info["disagreements"].append({"cluster": c, "kind": "no mask"})
            notes.append("segment-anything gave no consistent mask; geometric extent kept")
            out[members] = len(clusters)
            clusters.append({"notes": notes, "merged": geo_clusters[c]["merged"]})
            continue
        notes.append("confirmed by segment-anything masks")
        out[members] = len(clusters)
        clusters.append({"notes": notes, "merged": False})
    for i, cs in spans.items():
        if len(cs) > 1:
            info["spanning_instances"] += 1
            info["disagreements"].append({"kind": "spans separated clusters", "clusters": cs})
    return Refined(out, clusters, info)


def refine_with_sam(model, gaussians, views, labels: np.ndarray, geo, cfg, progress=None) -> Refined:
    """The stage's SAM step: keyframes, prompts, masks, lifting, reconciliation."""
    from splat2sim.stages.segment.lifting import label_images, lift_masks
    from splat2sim.stages.segment.views import spread

    picks = spread(cfg.sam_views, views.num)
    sub = views.subset(picks)
    cams = sub.cameras()
    k = int(labels.max()) + 1 if labels.max() >= 0 else 0
    regions = label_images(gaussians, cams, labels)
    images = [sub.image(i) for i in range(sub.num)]
    masks, sources = sam_masks(model, images, regions, k, cfg.neck_ratio)
    lifted = lift_masks(gaussians, cams, masks, associate_threshold=cfg.associate_threshold, vote_threshold=cfg.vote_threshold)
    geo_clusters = [{"notes": list(c.notes), "merged": c.merged} for c in geo.clusters]
    refined = reconcile(labels, lifted.labels, gaussians.means.numpy(), geo_clusters,
                        min_gaussians=geo.stats.get("min_cluster", 30))  # fmt: skip
    refined.info.update({"views": [sub.files[i] for i in range(sub.num)], "masks": int(sum(len(m) for m in masks)),
                         "instances": len(lifted.groups)})  # fmt: skip
    return refined
