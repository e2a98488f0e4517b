"""Objects seen from above: a top-down height map of the standing surface, fused over the
keyframes from the splat's own rendered depth (no weights), split at its low saddles.

3D proximity alone merges objects a few centimetres apart: a coarse splat blurs each object
into a low skirt of Gaussians (and shadows raise the table) that links it to its neighbours.
The views say more. Each view's rendered surface points (median depth, back-projected) that
stand above the support and that other views agree with (multi-view depth consistency: a
view-dependent blur across a gap is seen through by the views that look into the gap) are
fused into the highest standing point per cell of a grid on the support plane. In that
height map every object is a peak and two neighbours meet in a saddle far below their tops;
``height_peaks`` cuts there. ``geometric.split_by_footprints`` then gives each Gaussian the
footprint under it (or the nearest one along the 3D links).

    depth, valid = render_depths(gaussians, views)                  # [V,H,W] each
    height = height_map(depth, valid, views, margin, lo, shape, cell, factor=6.0)
    footprints = height_peaks(height, margin, ratio=0.3, noise=layer_thickness)

Conventions: the support plane is z = 0 of the world frame (poses puts it there); depths are
camera z (splat2sim.render.conventions); grid cell (i, j) covers lo + (i, j) * cell in xy.
"""

from __future__ import annotations

import numpy as np

from splat2sim.geometry.transforms import surface_points


def render_depths(gaussians, views, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Median depth [V,H,W] and where it is a surface [V,H,W] (alpha above 0.5)."""
    import torch

    from splat2sim.render import render

    depth, valid = [], []
    for i in range(views.num):
        with torch.no_grad():
            r = render(gaussians, views.subset([i]).cameras(), backend=backend)
        d = r.median_depth[0, ..., 0].numpy().astype(np.float64)
        depth.append(d)
        valid.append((r.alpha[0, ..., 0].numpy() > 0.5) & (d > 0))
    return np.stack(depth), np.stack(valid)


def nearest_surfaces(depth: np.ndarray, valid: np.ndarray, window: int = 5) -> np.ndarray:
    """[V,H,W]: each view's nearest surface depth within ``window`` pixels (inf: none)."""
    from scipy.ndimage import minimum_filter

    return np.stack([minimum_filter(np.where(valid[u], depth[u], np.inf), size=window) for u in range(len(depth))])


def depth_votes(points: np.ndarray, v: int, views, depth: np.ndarray, valid: np.ndarray, factor: float,
                window: int = 5, near: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """How the other views see view v's surface points ``points`` [H,W,3]: ([H,W] views that
    see beyond the point, [H,W] views whose surface agrees with it).

    Beyond: even the nearest surface within ``window`` pixels lies more than ``factor`` pixel
    footprints behind the point: it is empty space, e.g. the blur of a coarse splat across a
    gap (a depth ramp from a near object to a far one). The window absorbs a pixel or two of
    pose and silhouette error. Agree: the surface at the point's pixel is within ``factor``
    footprints of it (standard multi-view depth consistency); a real surface agrees with the
    views that see it, a view-dependent artefact does not. ``near``: ``nearest_surfaces``
    of the views with this window, when the caller votes for every view in turn."""
    if near is None:
        near = nearest_surfaces(depth, valid, window)
    h, w = points.shape[:2]
    flat = points.reshape(-1, 3)
    beyond = np.zeros(len(flat), np.int32)
    agree = np.zeros(len(flat), np.int32)
    for u in range(views.num):
        if u == v:
            continue
        R, t = views.world_from_camera[u, :3, :3], views.world_from_camera[u, :3, 3]
        pc = (flat - t) @ R  # camera frame: R^T (p - t)
        z = pc[:, 2]
        fx, fy, cx, cy = views.intrinsics[u]
        zs = np.where(z > 1e-9, z, 1e-9)
        px = np.floor(pc[:, 0] / zs * fx + cx).astype(np.int64)
        py = np.floor(pc[:, 1] / zs * fy + cy).astype(np.int64)
        inside = np.flatnonzero((z > 1e-9) & (px >= 0) & (px < w) & (py >= 0) & (py < h))
        tol = z[inside] * factor / fx
        beyond[inside] += near[u][py[inside], px[inside]] > z[inside] + tol
        here = np.where(valid[u][py[inside], px[inside]], depth[u][py[inside], px[inside]], np.inf)
        agree[inside] += np.abs(here - z[inside]) <= tol
    return beyond.reshape(h, w), agree.reshape(h, w)


def height_map(depth: np.ndarray, valid: np.ndarray, views, margin: float, lo: np.ndarray, shape: tuple[int, int], cell: float,
               factor: float, min_agree: int = 2) -> np.ndarray:  # fmt: skip
    """Top-down height [I,J] of the standing surface fused over the views (0: none), over the
    support plane's cells of ``cell`` from ``lo`` (xy). Each view gives its highest standing
    point per cell among those that at least ``min_agree`` other views agree with and fewer
    than two see through (``depth_votes``); a cell keeps the second highest of the views'
    heights, so one view's spike does not count and no spatial filter closes a narrow gap."""
    first = np.zeros(shape)
    second = np.zeros(shape)
    near = nearest_surfaces(depth, valid)
    for i in range(views.num):
        points = surface_points(depth[i], views.world_from_camera[i], views.intrinsics[i])
        stand = valid[i] & (points[..., 2] > margin)
        beyond, agree = depth_votes(points, i, views, depth, valid, factor, near=near)
        q = points[stand & (beyond < 2) & (agree >= min_agree)]
        ij = np.floor((q[:, :2] - lo) / cell).astype(np.int64)
        ok = (ij >= 0).all(1) & (ij[:, 0] < shape[0]) & (ij[:, 1] < shape[1])
        top = np.zeros(shape)
        np.maximum.at(top, (ij[ok, 0], ij[ok, 1]), q[ok, 2])
        second = np.maximum(second, np.minimum(first, top))
        first = np.maximum(first, top)
    return second


#: A broad top holds a disc of at least this share of its equivalent radius sqrt(area / pi)
#: (holes filled): 1 for a disc, 0.89 a square, 0.63 a 2:1 rectangle, 0.5 about 3:1; an arc of
#: a rim, a handle or a blade (10:1) about 0.3.
COMPACT = 0.5


def height_peaks(height: np.ndarray, margin: float, ratio: float, noise: float, levels: int = 48, broad: float = 0.0) -> np.ndarray:
    """Footprints [I,J] int32 (0 none) of the objects in a top-down height map: the connected
    parts of {height > margin}, each split where it holds two or more prominent peaks.

    Going up through height levels t, a part splits into pieces; a piece is a peak of its
    own when it rises above the level t by at least ``ratio`` of its own height above the
    ``margin`` (where standing begins) and by more than the surface's ``noise`` (two objects
    meet in a low saddle: the skirt of a coarse splat, a shadow; a mug's handle or a bottle's
    neck rise no higher than the body they join). Heights count from the margin, not from
    the support: below it nothing stands, so a low bowl's rim, 5 cm up, next to a ball is
    judged by the 3-4 cm it stands, as a tall object is. A broad top is a peak of its own
    with half that prominence (and above the ``noise``) when its area there is at least
    ``broad`` of the largest piece's (0: off): two boxes side by side, their gap
    filled by the views that look across it, meet in a saddle high up their sides, but each
    has a top of its own. The broad top must also be compact (``COMPACT``): a handle, a
    blade or the arcs of a noisy rim are slivers beside their body. Cells of a split part
    go to the peak they reach first growing inside the part."""
    from scipy import ndimage

    from splat2sim.stages.segment.footprints import assign_to_seeds

    standing, _ = ndimage.label(height > margin)
    out = np.zeros(height.shape, np.int32)
    next_id = 1
    for k, box in enumerate(ndimage.find_objects(standing), start=1):
        part = standing[box] == k  # work inside the part's bounding box
        seeds = _peaks(height[box], part, margin, ratio, noise, levels, base=margin, broad=broad)
        lab = assign_to_seeds(part, seeds) if len(seeds) >= 2 else part.astype(np.int32)
        view = out[box]
        for s in range(1, int(lab.max()) + 1):
            view[part & (lab == s)] = next_id
            next_id += 1
    return out


def _peaks(height: np.ndarray, part: np.ndarray, level: float, ratio: float, noise: float, levels: int, base: float,
           broad: float = 0.0) -> list[np.ndarray]:  # fmt: skip
    """Seed masks of the prominent peaks inside ``part`` above ``level`` ([] or one: no split),
    recursively; a peak's height counts from ``base`` (height_peaks' margin)."""
    from scipy import ndimage

    top = float(height[part].max())
    for t in np.linspace(level, top, levels)[1:-1]:
        lab, n = ndimage.label(part & (height > t))
        if n < 2:
            continue
        index = np.arange(1, n + 1)
        rise = np.asarray(ndimage.maximum(height, lab, index=index)) - t
        area = np.bincount(lab.ravel(), minlength=n + 1)[1:]
        standing = rise + t - base
        tall = rise >= np.maximum(ratio * standing, noise)
        # a broad top needs half that prominence: enough to keep a noisy rim in one piece
        wide = (broad > 0) & (rise >= np.maximum(0.5 * ratio * standing, noise)) & (area >= broad * area.max())
        for j in np.flatnonzero(wide & ~tall):  # a broad top is compact: a handle, an arc of a rim or a blade is not
            filled = ndimage.binary_fill_holes(lab == j + 1)
            inscribed = float(ndimage.distance_transform_edt(np.pad(filled, 1)).max())
            wide[j] = inscribed >= COMPACT * np.sqrt(filled.sum() / np.pi)
        keep = [j + 1 for j in range(n) if tall[j] or wide[j]]
        if len(keep) < 2:
            continue
        seeds = []
        for j in keep:  # a peak may itself hold several; look for them inside its own box
            peak = lab == j
            box = ndimage.find_objects(peak.astype(np.int8))[0]
            sub = _peaks(height[box], peak[box], t, ratio, noise, levels, base, broad)
            for seed in sub if len(sub) >= 2 else [peak[box]]:
                full = np.zeros_like(peak)
                full[box] = seed
                seeds.append(full)
        return seeds
    return []


SKIRT = -1  # grid value: standing, but far below the top of the footprint around it


def mark_skirts(grid: np.ndarray, height: np.ndarray, ratio: float) -> np.ndarray:
    """``grid`` [I,J] (k > 0 footprints) with each footprint's cells lower than ``ratio`` of
    its top set to SKIRT."""
    from scipy import ndimage

    out = grid.copy()
    if out.max() > 0:
        tops = np.asarray(ndimage.maximum(height, out, index=np.arange(out.max() + 1)))
        out[(out > 0) & (height < ratio * tops[np.clip(out, 0, None)])] = SKIRT
    return out


def view_footprints(gaussians, views, points: np.ndarray, margin: float, noise: float, *, factor: float, ratio: float,
                    broad: float = 0.0, min_cells: int = 9, max_cells: int = 4_000_000) -> tuple[np.ndarray, np.ndarray, float, dict]:  # fmt: skip
    """Object footprints under ``points`` [N,3] (the candidate Gaussians): (grid [I,J] int32,
    k > 0 footprint, 0 nothing seen standing, SKIRT; its origin lo [2]; its cell; numbers for
    the record). A footprint's cells lower than ``ratio`` of its top are SKIRT: the low blur
    or shadow a coarse splat spreads around an object (a handle, a rim, a ball's flank stand
    higher). The cell is twice the
    median footprint of a pixel on the support (fine enough that each view fills it),
    coarser only when the points' extent would need more than ``max_cells``; footprints of
    fewer than ``min_cells`` cells are dropped (their Gaussians go to a neighbour)."""
    depth, valid = render_depths(gaussians, views)
    pixel = []
    for i in range(views.num):
        z = surface_points(depth[i], views.world_from_camera[i], views.intrinsics[i])[..., 2]
        on_support = valid[i] & (np.abs(z) <= margin)
        pixel.append(depth[i][on_support] / views.intrinsics[i][0])
    pixel = np.concatenate(pixel)
    extent = np.ptp(points[:, :2], axis=0) if len(points) else np.ones(2)
    cell = 2.0 * float(np.median(pixel)) if len(pixel) else float(extent.max()) / 200
    cell = max(cell, float(np.sqrt(np.prod(extent + 2 * cell) / max_cells)))
    lo = points[:, :2].min(0) - cell
    shape = tuple(int(v) for v in np.maximum(np.ceil((np.ptp(points[:, :2], axis=0) + 2 * cell) / cell), 1))
    height = height_map(depth, valid, views, margin, lo, shape, cell, factor)
    grid = height_peaks(height, margin, ratio, noise, broad=broad)
    sizes = np.bincount(grid.ravel())
    small = np.flatnonzero(sizes < min_cells)
    grid[np.isin(grid, small[small > 0])] = 0
    grid = mark_skirts(grid, height, ratio)
    info = {"views": views.num, "cell": round(cell, 6), "grid": list(shape), "footprints": int((sizes[1:] >= min_cells).sum()),
            "skirt_cells": int((grid == SKIRT).sum())}  # fmt: skip
    return grid, lo, cell, info
