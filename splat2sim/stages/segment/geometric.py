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


def connected_clusters(points: np.ndarray, radius: float, min_samples: int = 4, reach: np.ndarray | None = None) -> np.ndarray:
    """DBSCAN on ``points`` [N,3]: -1 noise, else component id. Two points are neighbours
    within ``radius`` plus their ``reach`` [N] (each point's own extent, for Gaussians that
    are large where the splat is sparse; None: 0). Core points have >= min_samples
    neighbours; border points join their nearest core point within ``radius``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    labels = np.full(n, -1, np.int64)
    if n == 0:
        return labels
    tree = cKDTree(points)
    if reach is None or not np.any(reach > 0):
        pairs = tree.query_pairs(radius, output_type="ndarray")
    else:
        pairs = tree.query_pairs(radius + 2 * float(reach.max()), output_type="ndarray")
        gap = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
        pairs = pairs[gap <= radius + reach[pairs[:, 0]] + reach[pairs[:, 1]]]
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
    # renumber densely
    _, dense = np.unique(labels[labels >= 0], return_inverse=True)
    labels[labels >= 0] = dense
    return labels


# ----------------------------------------------------------------------------- footprints
def _footprint(xy: np.ndarray, cell: float):
    """Occupancy grid of points ``xy`` (closed, holes filled), origin and cell indices."""
    from scipy import ndimage

    lo = xy.min(0) - 3 * cell
    ij = np.floor((xy - lo) / cell).astype(int)
    shape = tuple(ij.max(0) + 4)
    grid = np.zeros(shape, bool)
    grid[ij[:, 0], ij[:, 1]] = True
    grid = ndimage.binary_closing(grid, iterations=1)
    grid = ndimage.binary_fill_holes(grid)
    return grid, lo, ij


def neck_parts(grid: np.ndarray, ratio: float, min_cells: int, levels: int = 24) -> list[np.ndarray]:
    """Split a footprint where it narrows: returns seed masks (>= 2) or [] when it does not.

    At increasing distance-transform levels t, the parts of {dt > t} are the candidate
    objects; a part counts when its own inscribed radius p satisfies t >= ratio * p... i.e.
    the neck joining it (at most t wide) is narrower than ``ratio`` times its radius."""
    from scipy import ndimage

    dt = ndimage.distance_transform_edt(grid)
    top = float(dt.max())
    if top <= 1.0:
        return []
    for t in np.linspace(0.5, ratio * top, levels):
        lab, n = ndimage.label(dt > t)
        if n < 2:
            continue
        peaks = ndimage.maximum(dt, lab, index=np.arange(1, n + 1))
        sizes = ndimage.sum(np.ones_like(dt), lab, index=np.arange(1, n + 1))
        keep = [k + 1 for k in range(n) if t <= ratio * peaks[k] and sizes[k] >= min_cells]
        if len(keep) >= 2:
            return [lab == k for k in keep]
    return []


def solidity(grid: np.ndarray) -> float:
    """Footprint area / its convex hull's area (1 for a convex footprint)."""
    from scipy.spatial import ConvexHull, QhullError

    ij = np.argwhere(grid)
    if len(ij) < 4:
        return 1.0
    corners = (ij[:, None, :] + np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[None]).reshape(-1, 2)
    try:
        return float(len(ij) / ConvexHull(corners).volume)
    except QhullError:
        return 1.0


def assign_to_seeds(grid: np.ndarray, seeds: list[np.ndarray]) -> np.ndarray:
    """Label every occupied cell with the seed reached first by growing inside the footprint."""
    from scipy import ndimage

    lab = np.zeros(grid.shape, np.int32)
    for k, s in enumerate(seeds):
        lab[s] = k + 1
    for _ in range(grid.shape[0] + grid.shape[1]):
        free = grid & (lab == 0)
        if not free.any():
            break
        grown = ndimage.grey_dilation(lab, size=(3, 3))
        upd = free & (grown > 0)
        if not upd.any():
            break
        lab[upd] = grown[upd]
    if (grid & (lab == 0)).any():  # unreachable islands: nearest seed cell
        _, (ii, jj) = ndimage.distance_transform_edt(lab == 0, return_indices=True)
        lab = np.where(lab == 0, lab[ii, jj], lab)
    return lab


def split_touching(points: np.ndarray, cell: float, ratio: float, min_gaussians: int) -> tuple[list[np.ndarray], list[bool]]:
    """Split one cluster at narrow necks of its footprint. Returns (parts as index arrays
    into ``points``, per part whether it is suspicious: a non-convex footprint or a wider
    neck (ratio 0.8) that may still join touching objects)."""
    grid, lo, ij = _footprint(points[:, :2], cell)
    min_cells = max(4, int(0.02 * grid.sum()))
    seeds = neck_parts(grid, ratio, min_cells)
    if not seeds:
        return [np.arange(len(points))], [bool(solidity(grid) < 0.8 or (ratio < 0.8 and neck_parts(grid, 0.8, min_cells)))]
    lab = assign_to_seeds(grid, seeds)
    part = lab[ij[:, 0], ij[:, 1]] - 1
    parts = [np.flatnonzero(part == k) for k in range(len(seeds))]
    if sum(len(p) >= min_gaussians for p in parts) < 2:
        return [np.arange(len(points))], [True]
    # recurse: a part may itself hold several objects
    out: list[np.ndarray] = []
    suspicious: list[bool] = []
    for p in parts:
        if len(p) < min_gaussians:
            continue
        sub, s = split_touching(points[p], cell, ratio, min_gaussians)
        suspicious += s
        out += [p[q] for q in sub]
    # points of parts too small to stand alone join the nearest kept part
    kept = np.concatenate(out)
    rest = np.setdiff1d(np.arange(len(points)), kept)
    if len(rest):
        from scipy.spatial import cKDTree

        owner = np.concatenate([np.full(len(p), k) for k, p in enumerate(out)])
        _, j = cKDTree(points[kept]).query(points[rest], k=1)
        for k in range(len(out)):
            out[k] = np.concatenate([out[k], rest[owner[j] == k]])
    return out, suspicious


# ----------------------------------------------------------------------------- main
def segment_geometric(
    means: np.ndarray,
    log_scales: np.ndarray,
    opacity_logits: np.ndarray,
    frustum_views: np.ndarray,
    scene_size: float,
    cfg,
) -> GeometricResult:
    """Cluster the Gaussians above z = 0 into objects. ``frustum_views`` [N]: number of
    keyframes whose view frustum holds each mean; ``scene_size``: typical camera distance
    from the scene centre (metres or SfM units, whatever the world uses)."""
    n = len(means)
    z = means[:, 2]
    opac = sigmoid(opacity_logits)
    size = np.exp(log_scales.max(1))
    spacing_all = knn_spacing(means)
    # the first band scales with the camera distance, not with the (room-dominated) spacing
    thickness = table_thickness(z, band=0.02 * scene_size)
    margin = cfg.height_margin * max(thickness, 0.5 * spacing_all, 1e-4 * scene_size)
    above = z > margin
    floater = above & ((opac < cfg.min_opacity) | (size > cfg.max_scale * scene_size) | (frustum_views < cfg.min_views))
    candidate = above & ~floater
    idx = np.flatnonzero(candidate)
    labels = np.full(n, -1, np.int32)
    stats = {
        "gaussians": int(n),
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
    comp = connected_clusters(pts, radius, reach=reach)
    min_count = max(cfg.min_object_gaussians, int(np.ceil(cfg.min_object_fraction * len(idx))))
    stats.update(spacing_objects=spacing, link_radius=radius, min_cluster=min_count)
    clusters: list[Cluster] = []
    group = 0
    for c in range(int(comp.max()) + 1 if len(comp) else 0):
        members = idx[comp == c]
        if len(members) < min_count:
            continue
        p = means[members]
        lo, hi = np.percentile(p, 1, axis=0), np.percentile(p, 99, axis=0)
        width = float(np.linalg.norm(hi[:2] - lo[:2]))
        summary = {"gaussians": int(len(members)), "centroid": p.mean(0).round(4).tolist(), "width": round(width, 4)}
        if width > cfg.max_object_size * scene_size:
            rejected.append({**summary, "reason": "wider than max_object_size x scene size (wall or furniture)"})
            continue
        if hi[2] < 2 * margin:
            rejected.append({**summary, "reason": "flat patch on the support surface"})
            continue
        support, below = support_around(p[:, :2], means, margin, 1.5 * spacing)
        if below > support:
            # e.g. a wall or a cupboard crossing the support's height beyond its edge
            rejected.append({**summary, "support_around": support, "below_around": below,
                             "reason": "not resting on the support surface (around it the scene goes on below the support)"})
            continue
        if cfg.split_touching:
            parts, suspicious = split_touching(p, 1.5 * spacing, cfg.neck_ratio, min_count)
        else:
            parts, suspicious = [np.arange(len(members))], [False]
        merge_note = "footprint is not convex or narrows: may be touching objects merged into one"
        for q, flag in zip(parts, suspicious):
            notes = [f"separated from {len(parts) - 1} touching neighbour(s) at a narrow footprint neck"] if len(parts) > 1 else []
            clusters.append(Cluster(members[q], notes + ([merge_note] if flag else []), flag, group if len(parts) > 1 else None))
        group += 1
    clusters.sort(key=lambda c: -len(c.indices))
    for k, c in enumerate(clusters):
        labels[c.indices] = k
    stats["clusters"] = len(clusters)
    stats["rejected_clusters"] = len(rejected)
    return GeometricResult(labels, clusters, stats, candidate, floater, rejected)


def support_around(xy: np.ndarray, means: np.ndarray, margin: float, cell: float, ring_cells: int = 3) -> tuple[int, int]:
    """How many Gaussians lie in the support layer (|z| <= margin) in a ring around a
    footprint ``xy`` [M,2], and how many lie well below it (z < -3 margin) under the
    footprint or in that ring. A vertical wall goes on straight down under its footprint."""
    from scipy.ndimage import binary_dilation

    lo = xy.min(0) - (ring_cells + 1) * cell
    shape = np.ceil((xy.max(0) + (ring_cells + 1) * cell - lo) / cell).astype(int) + 1
    grid = np.zeros(shape, bool)
    ij = ((xy - lo) / cell).astype(int)
    grid[ij[:, 0], ij[:, 1]] = True
    area = binary_dilation(grid, iterations=ring_cells)
    ring = area & ~binary_dilation(grid, iterations=1)
    inside = np.all((means[:, :2] >= lo) & (means[:, :2] < lo + shape * cell), axis=1)
    cells = ((means[inside, :2] - lo) / cell).astype(int)
    z = means[inside, 2]
    in_ring = ring[cells[:, 0], cells[:, 1]]
    in_area = area[cells[:, 0], cells[:, 1]]
    return int((np.abs(z[in_ring]) <= margin).sum()), int((z[in_area] < -3 * margin).sum())


def attach_hidden(labels: np.ndarray, means: np.ndarray, candidate: np.ndarray, margin: float, cell: float,
                  layer: float | None = None) -> np.ndarray:
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
        grid, lo, member_ij = _footprint(means[members, :2], cell)
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
