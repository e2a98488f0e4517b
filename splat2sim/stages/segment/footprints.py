"""Footprints of Gaussian clusters seen from above (occupancy grids on the support plane),
and splitting a footprint at narrow necks where touching objects meet."""

from __future__ import annotations

import numpy as np


def footprint_grid(xy: np.ndarray, cell: float):
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
    grid, lo, ij = footprint_grid(points[:, :2], cell)
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
