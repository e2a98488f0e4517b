"""Geometric segmentation: Gaussians above the support plane, floaters removed, clustered.

No weights needed. Every threshold is relative to a length the splat itself gives: the
median spacing of its Gaussians, the thickness of the table layer, the distance of the
cameras from the scene centre. The support plane is z = 0 of the world frame.

    result = segment_geometric(means, log_scales, opacity_logits, frustum_views, scene_size, cfg)
    result.labels  # int32 [N], -1 background, k = cluster index (decreasing size)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from splat2sim.stages.segment.footprints import assign_to_seeds, footprint_grid, neck_parts, split_touching  # noqa: F401  (sam.py imports them from here)
from splat2sim.stages.segment.support import MAX_BEYOND_SUPPORT, MAX_STRAYS, MIN_DENSITY_RATIO, SupportRegion, support_around  # noqa: F401

FLAT_ASPECT = 0.5  # a low cluster whose top is under half its width is a flat patch, not a standing object


@dataclass
class Cluster:
    indices: np.ndarray  # Gaussian indices
    notes: list[str] = field(default_factory=list)
    merged: bool = False  # likely several touching objects that could not be separated
    split_from: int | None = None  # group id when separated from touching neighbours


@dataclass
class GeometricResult:
    labels: np.ndarray  # int32 [N]
    clusters: list[Cluster]
    stats: dict
    candidate: np.ndarray  # bool [N]: above the plane and not a floater
    floater: np.ndarray  # bool [N]: removed as floater (above the plane)
    rejected: list[dict]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def knn_spacing(points: np.ndarray, k: int = 3, sample: int = 20000, seed: int = 0) -> float:
    """Median distance to the k-th nearest neighbour (a subsample is queried for speed)."""
    from scipy.spatial import cKDTree

    if len(points) <= k:
        return float(np.ptp(points, axis=0).max() / max(len(points), 1)) if len(points) else 0.0
    tree = cKDTree(points)
    query = points
    if len(points) > sample:
        query = points[np.random.default_rng(seed).choice(len(points), sample, replace=False)]
    d, _ = tree.query(query, k=k + 1)
    return float(np.median(d[:, k]))


def table_thickness(z: np.ndarray, band: float, iterations: int = 2) -> float:
    """Robust spread (1.4826 MAD + |median|) of the Gaussians within ``band`` of z = 0.

    The band is then narrowed to 3x that spread and measured again, so Gaussians of the
    objects' lower parts (which a wide first band includes) do not inflate the layer."""
    thickness = 0.0
    for _ in range(iterations):
        near = z[np.abs(z) < band]
        if len(near) < 10:
            return thickness
        med = float(np.median(near))
        thickness = 1.4826 * float(np.median(np.abs(near - med))) + abs(med)
        band = max(3.0 * thickness, 1e-6)
    return thickness


def link_pairs(points: np.ndarray, radius: float, reach: np.ndarray | None = None) -> np.ndarray:
    """Index pairs [P,2] of points closer than ``radius`` plus their ``reach`` [N] (each
    point's own extent, for Gaussians that are large where the splat is sparse; None: 0)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points)
    if reach is None or not np.any(reach > 0):
        return tree.query_pairs(radius, output_type="ndarray")
    pairs = tree.query_pairs(radius + 2 * float(reach.max()), output_type="ndarray")
    gap = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    return pairs[gap <= radius + reach[pairs[:, 0]] + reach[pairs[:, 1]]]


def connected_clusters(points: np.ndarray, radius: float, min_samples: int = 4, reach: np.ndarray | None = None,
                       pairs: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """DBSCAN on ``points`` [N,3]: -1 noise, else component id. Neighbours as in
    ``link_pairs`` (or the given ``pairs``, already computed with these radius and reach). Core points have >= min_samples neighbours; border points join their
    nearest core point within ``radius``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    labels = np.full(n, -1, np.int64)
    if n == 0:
        return labels
    pairs = link_pairs(points, radius, reach) if pairs is None else pairs
    counts = np.bincount(pairs.ravel(), minlength=n) + 1
    core = counts >= min_samples
    both = core[pairs[:, 0]] & core[pairs[:, 1]]
    cp = pairs[both]
    graph = coo_matrix((np.ones(len(cp)), (cp[:, 0], cp[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    labels[core] = comp[core]
    border = np.flatnonzero(~core)
    if len(border) and core.any():
        core_idx = np.flatnonzero(core)
        d, j = cKDTree(points[core_idx]).query(points[border], k=1)
        ok = d <= radius
        labels[border[ok]] = comp[core_idx[j[ok]]]
    return _dense(labels)


def _dense(labels: np.ndarray) -> np.ndarray:
    """Renumber the labels >= 0 densely (0, 1, ...), keeping -1."""
    out = labels.copy()
    _, dense = np.unique(labels[labels >= 0], return_inverse=True)
    out[labels >= 0] = dense
    return out


def split_by_footprints(points: np.ndarray, comp: np.ndarray, grid: np.ndarray, lo: np.ndarray, cell: float, pairs: np.ndarray) -> np.ndarray:
    """Components [N] (-1 noise) split by the views' fused footprints ``grid`` (k > 0 id, 0
    none, -1 skirt; segment.regions.view_footprints): a point over a footprint belongs to it;
    a point over a skirt is background; a point elsewhere (over a gap the views saw the
    support through, or outside the grid) takes the footprint nearest along the link graph
    ``pairs``; components no footprint reaches keep their geometric label. Then each label is
    split into its linked parts."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, dijkstra

    n = len(points)
    ij = np.floor((points[:, :2] - lo) / cell).astype(np.int64)
    inside = (ij >= 0).all(1) & (ij[:, 0] < grid.shape[0]) & (ij[:, 1] < grid.shape[1])
    seed_label = np.zeros(n, np.int64)
    seed_label[inside] = grid[ij[inside, 0], ij[inside, 1]]
    seeds = np.flatnonzero((seed_label > 0) & (comp >= 0))
    if not len(seeds) or not len(pairs):
        return comp
    length = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1) + 1e-12
    graph = coo_matrix((length, (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    dist, _, source = dijkstra(graph, directed=False, indices=seeds, min_only=True, return_predecessors=True)
    owner = np.where(np.isfinite(dist) & (source >= 0), seed_label[np.clip(source, 0, None)], 0) - 1
    owner[(comp < 0) | (seed_label < 0)] = -1
    rest = (owner < 0) & (comp >= 0) & (seed_label == 0)
    owner[rest] = int(grid.max()) + comp[rest]
    same = owner[pairs[:, 0]] == owner[pairs[:, 1]]
    keep = pairs[same & (owner[pairs[:, 0]] >= 0)]
    g2 = coo_matrix((np.ones(len(keep)), (keep[:, 0], keep[:, 1])), shape=(n, n))
    _, parts = connected_components(g2, directed=False)
    return _dense(np.where(owner >= 0, parts, -1).astype(np.int64))


# ----------------------------------------------------------------------------- main
def segment_geometric(
    means: np.ndarray,
    log_scales: np.ndarray,
    opacity_logits: np.ndarray,
    frustum_views: np.ndarray,
    scene_size: float,
    cfg,
    footprints=None,
) -> GeometricResult:
    """Cluster the Gaussians above z = 0 into objects. ``frustum_views`` [N]: number of
    keyframes whose view frustum holds each mean; ``scene_size``: typical camera distance
    from the scene centre (metres or SfM units, whatever the world uses). ``footprints``:
    None, or a function (candidate means [M,3], height margin, layer thickness) -> the
    views' object footprints (grid, lo, cell; segment.regions.view_footprints), which
    separate what 3D proximity alone would merge (``split_by_footprints``)."""
    n = len(means)
    size = np.exp(log_scales.max(1))
    candidate, floater, stats = _candidates(means, size, sigmoid(opacity_logits), frustum_views, scene_size, cfg)
    idx = np.flatnonzero(candidate)
    labels = np.full(n, -1, np.int32)
    rejected: list[dict] = []
    if len(idx) == 0:
        stats.update(spacing_objects=None, link_radius=None, clusters=0)
        return GeometricResult(labels, [], stats, candidate, floater, rejected)
    pts = means[idx]
    spacing = knn_spacing(pts)
    radius = cfg.link_distance * spacing
    # scale-aware: Gaussians whose 1-sigma ellipsoids (nearly) touch are linked; capped so a
    # few huge ones cannot bridge separate objects
    reach = cfg.link_scale * np.minimum(size[idx], radius)
    pairs = link_pairs(pts, radius, reach)
    comp = connected_clusters(pts, radius, reach=reach, pairs=pairs)
    standing = None
    if footprints is not None:
        stats["geometric_components"] = int(comp.max()) + 1 if len(comp) else 0
        grid, lo, cell = footprints(pts, stats["height_margin"], stats["table_thickness"])
        comp = split_by_footprints(pts, comp, grid, lo, cell, pairs)
        standing = over_footprint(pts, grid, lo, cell)
    min_count = max(cfg.min_object_gaussians, int(np.ceil(cfg.min_object_fraction * len(idx))))
    stats.update(spacing_objects=spacing, link_radius=radius, min_cluster=min_count)
    support = SupportRegion.of(means, stats["height_margin"], 2 * stats["spacing"])
    clusters = _object_clusters(means, idx, comp, min_count, stats["height_margin"], spacing, scene_size, cfg, rejected, support, standing)
    for k, c in enumerate(clusters):
        labels[c.indices] = k
    stats["clusters"] = len(clusters)
    stats["rejected_clusters"] = len(rejected)
    return GeometricResult(labels, clusters, stats, candidate, floater, rejected)


def _candidates(
    means: np.ndarray, size: np.ndarray, opac: np.ndarray, frustum_views: np.ndarray, scene_size: float, cfg
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Gaussians above the support layer that are not floaters (faint, huge or seen by too
    few views), the floaters, and the numbers that decided it."""
    z = means[:, 2]
    spacing_all = knn_spacing(means)
    # the first band scales with the camera distance, not with the (room-dominated) spacing
    thickness = table_thickness(z, band=0.02 * scene_size)
    margin = cfg.height_margin * max(thickness, 0.5 * spacing_all, 1e-4 * scene_size)
    above = z > margin
    floater = above & ((opac < cfg.min_opacity) | (size > cfg.max_scale * scene_size) | (frustum_views < cfg.min_views))
    stats = {
        "gaussians": int(len(means)),
        "spacing": spacing_all,
        "table_thickness": thickness,
        "height_margin": margin,
        "scene_size": float(scene_size),
        "above_plane": int(above.sum()),
        "floaters": int(floater.sum()),
        "floaters_by": {
            "opacity": int((above & (opac < cfg.min_opacity)).sum()),
            "size": int((above & (size > cfg.max_scale * scene_size)).sum()),
            "views": int((above & (frustum_views < cfg.min_views)).sum()),
        },
    }
    return above & ~floater, floater, stats


def _object_clusters(
    means: np.ndarray,
    idx: np.ndarray,
    comp: np.ndarray,
    min_count: int,
    margin: float,
    spacing: float,
    scene_size: float,
    cfg,
    rejected: list[dict],
    support: "SupportRegion",
    standing: np.ndarray | None = None,
) -> list[Cluster]:
    """The components (``comp`` over the candidates ``idx``) that are objects, split at
    narrow footprint necks, largest first; the others are described in ``rejected``.
    ``standing`` [len(idx)] bool: over a footprint of the views' height map (None: unknown)."""
    clusters: list[Cluster] = []
    group = 0
    for c in range(int(comp.max()) + 1 if len(comp) else 0):
        members = idx[comp == c]
        if len(members) < min_count:
            continue
        p = means[members]
        share = float(standing[comp == c].mean()) if standing is not None else None
        rejection, evidence = _rejection(p, means, margin, spacing, scene_size, cfg, support, share)
        if rejection is not None:
            rejected.append(rejection)
            continue
        if cfg.split_touching:
            parts, suspicious = split_touching(p, 1.5 * spacing, cfg.neck_ratio, min_count)
        else:
            parts, suspicious = [np.arange(len(members))], [False]
        merge_note = "footprint is not convex or narrows: may be touching objects merged into one"
        for q, flag in zip(parts, suspicious):
            notes = [f"separated from {len(parts) - 1} touching neighbour(s) at a narrow footprint neck"] if len(parts) > 1 else []
            clusters.append(Cluster(members[q], notes + evidence + ([merge_note] if flag else []), flag, group if len(parts) > 1 else None))
        group += 1
    clusters.sort(key=lambda c: -len(c.indices))
    return clusters


def _rejection(p: np.ndarray, means: np.ndarray, margin: float, spacing: float, scene_size: float, cfg, support: "SupportRegion",
               standing: float | None = None) -> tuple[dict | None, list[str]]:  # fmt: skip
    """(Why the cluster of Gaussian means ``p`` is not an object, or None when it is one; notes
    for the object). ``standing``: the share of its Gaussians over the views' standing
    footprints (None: not known), recorded with a rejection. It is not a reason to keep a
    low or sparse cluster: on the hard captures (seed 200) the table's blurred edge stands in
    the views' height map as much as a plate does (0.57-0.87 of its Gaussians), and keeping
    such clusters invented two objects there."""
    lo, hi = np.percentile(p, 1, axis=0), np.percentile(p, 99, axis=0)
    width = float(np.linalg.norm(hi[:2] - lo[:2]))
    summary = {"gaussians": int(len(p)), "centroid": p.mean(0).round(4).tolist(), "width": round(width, 4)}
    if standing is not None:
        summary["standing_share"] = round(standing, 3)
    notes: list[str] = []
    if width > cfg.max_object_size * scene_size:
        return {**summary, "reason": "wider than max_object_size x scene size (wall or furniture)"}, notes
    if hi[2] < 2 * margin and hi[2] < FLAT_ASPECT * width:
        # low AND much wider than high: a patch of the support's texture or shadow. A small
        # ball or fruit is as high as it is wide: below two margins, but it stands.
        return {**summary, "top": round(float(hi[2]), 4), "reason": "flat patch on the support surface"}, notes
    if hi[2] < 2 * margin:
        notes.append("low (its top within two height margins of the support) but as high as it is wide: kept as a small object")
    beyond = support.beyond(p[:, :2])
    if beyond > MAX_BEYOND_SUPPORT and beyond * len(p) > MAX_STRAYS:
        # the support's blurred edge, or where it meets a wall: an object stands on the support
        return {**summary, "beyond_support": round(beyond, 4), "reason": "reaches the support's edge or beyond it (continues off the table)"}, notes
    if beyond > 0:
        notes.append(f"{round(beyond * len(p))} of its Gaussians lie past the support's edge (a stray or two of its blur: kept)")
    sparse = support.density_ratio(p[:, :2])
    if sparse < MIN_DENSITY_RATIO:
        # a blur or a reflection floating over the support, not a solid standing on it
        return {**summary, "density_ratio": round(sparse, 3), "reason": "sparser over its footprint than the support it would stand on"}, notes
    support, below = support_around(p[:, :2], means, margin, 1.5 * spacing)
    if below > support:
        # e.g. a wall or a cupboard crossing the support's height beyond its edge
        return {
            **summary,
            "support_around": support,
            "below_around": below,
            "reason": "not resting on the support surface (around it the scene goes on below the support)",
        }, notes
    return None, notes


def over_footprint(points: np.ndarray, grid: np.ndarray, lo: np.ndarray, cell: float) -> np.ndarray:
    """[N] bool: the points [N,3] whose cell of ``grid`` (segment.regions.view_footprints) is a
    footprint (k > 0), not a skirt or nothing."""
    ij = np.floor((points[:, :2] - lo) / cell).astype(np.int64)
    inside = (ij >= 0).all(1) & (ij[:, 0] < grid.shape[0]) & (ij[:, 1] < grid.shape[1])
    out = np.zeros(len(points), bool)
    out[inside] = grid[ij[inside, 0], ij[inside, 1]] > 0
    return out


def attach_hidden(labels: np.ndarray, means: np.ndarray, candidate: np.ndarray, margin: float, cell: float, layer: float | None = None) -> np.ndarray:
    """Give each object the Gaussians at or below the margin inside its footprint: its lower
    part (above the support layer ``layer``, inside the footprint) and its bottom face and
    the table under it that no camera sees. Returns new labels.

    The hidden table is under the object's contact, the outline of its lowest part (members
    within 2 margins of its lowest one), not under its whole footprint: a ball or a bowl
    overhangs table that cameras see, and that table stays background."""
    from scipy import ndimage

    out = labels.copy()
    low = (means[:, 2] <= margin) & (means[:, 2] > -2 * margin) & (labels < 0)
    low_idx = np.flatnonzero(low)
    if not len(low_idx):
        return out
    layer = margin if layer is None else min(layer, margin)
    above_layer = means[low_idx, 2] > layer
    for k in range(int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0):
        members = np.flatnonzero(labels == k)
        grid, lo, member_ij = footprint_grid(means[members, :2], cell)
        z = means[members, 2]
        lowest = z <= z.min() + 2 * margin
        contact = np.zeros_like(grid)
        contact[member_ij[lowest, 0], member_ij[lowest, 1]] = True
        contact = ndimage.binary_fill_holes(ndimage.binary_closing(contact, iterations=1))
        ij = np.floor((means[low_idx, :2] - lo) / cell).astype(int)
        inside = (ij >= 0).all(1) & (ij[:, 0] < grid.shape[0]) & (ij[:, 1] < grid.shape[1])
        in_footprint = np.zeros(len(low_idx), bool)
        in_footprint[inside] = grid[ij[inside, 0], ij[inside, 1]]
        eroded = ndimage.binary_erosion(contact, iterations=1)
        if not eroded.any():  # a contact patch narrower than two cells: keep it whole
            eroded = contact
        in_core = np.zeros(len(low_idx), bool)
        in_core[inside] = eroded[ij[inside, 0], ij[inside, 1]]
        hit = (in_footprint & above_layer) | in_core
        take = low_idx[hit & (out[low_idx] < 0)]
        out[take] = k
    return out
