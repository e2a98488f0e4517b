"""The support surface's extent: the rectangle (centre, size, yaw) that the exports stand
for the table with.

The support layer (background Gaussians within a band of the plane's height) holds more
than the table top: every wall or piece of furniture that crosses the table's height leaves
a strip in it, and a room's walls ring the table at metres. Taking the layer's extent made
the exported table about ten times the true one (synthetic benchmark: median area ratio
9.98, IoU with the true top 0.09), so objects pushed off the real table's edge rested on
thin air in the simulator. The table is the part of the layer the objects stand on: the
layer is rasterised seen from above, thin strips are opened away, and only the connected
region under the objects is kept; its minimum-area rectangle (any yaw) is the support.

The rectangle's conventions (yaw) are splat2sim.geometry.rectangle's.
"""

from __future__ import annotations

import math

import numpy as np

from splat2sim.geometry.rectangle import canonical_yaw

# grid cell, as a fraction of the support layer's diagonal: a wall's strip in the band is
# 1-2 cells wide and opens away; a table top is tens of cells across.
CELL_FRACTION = 0.02


def level_and_flat(log_scales: np.ndarray, quats: np.ndarray) -> np.ndarray:
    """[N] bool: Gaussians flat enough to have a normal (smallest scale under half the
    middle one) whose normal (the smallest axis) is within 45 degrees of vertical.
    log_scales [N,3]; quats [N,4] (w, x, y, z), any norm."""
    q = np.asarray(quats, np.float64)
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    # the z row of the rotation matrix: the z component of each body axis
    axis_z = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1)
    scales = np.sort(np.asarray(log_scales, np.float64), axis=1)
    smallest = np.argmin(log_scales, axis=1)
    flat = scales[:, 0] < scales[:, 1] - math.log(2)
    return flat & (np.abs(axis_z[np.arange(len(q)), smallest]) > math.sqrt(0.5))


def support_rectangle(
    background_means: np.ndarray, floor_z: float, object_xy: np.ndarray, band: float | None = None, level: np.ndarray | None = None
) -> dict | None:
    """Centre [3], size [2], yaw of the support under the objects, or None when the layer
    has too few Gaussians (fewer than 20) to say.

    background_means: [N,3] background Gaussians (metric frame); object_xy: [M,2] points of
    the objects seen from above (their Gaussians), which seed the region (M may be 0: then
    the largest region is the support); band: the layer's half-height (default: 1 % of the
    background's horizontal diagonal, at least 5 mm); level: [N] bool, the Gaussians that
    may be the support's (:func:`level_and_flat`; default all). A wall's Gaussians in the
    band face sideways: without them its foot cannot widen the table where they touch."""
    import cv2
    from scipy import ndimage

    means = np.asarray(background_means, np.float64).reshape(-1, 3)
    seeds_xy = np.asarray(object_xy, np.float64).reshape(-1, 2)
    if len(means) == 0:
        return None
    diagonal = float(np.linalg.norm(np.ptp(means[:, :2], axis=0)))
    band = max(0.005, 0.01 * diagonal) if band is None else band
    in_band = np.abs(means[:, 2] - floor_z) < band
    if level is not None:
        in_band &= np.asarray(level, bool)
    layer = means[in_band, :2]
    if len(layer) < 20:
        return None
    cell = max(CELL_FRACTION * float(np.linalg.norm(np.ptp(layer, axis=0))), 1e-6)
    everything = np.concatenate([layer, seeds_xy])
    lo = everything.min(0) - 3 * cell
    shape = tuple(np.floor((everything.max(0) + 3 * cell - lo) / cell).astype(int) + 1)
    occupied = np.zeros(shape, bool)
    ij = np.floor((layer - lo) / cell).astype(int)
    occupied[ij[:, 0], ij[:, 1]] = True
    seeds = np.zeros(shape, bool)
    sij = np.floor((seeds_xy - lo) / cell).astype(int)
    seeds[sij[:, 0], sij[:, 1]] = True
    # close the gaps between Gaussians (the cells under objects are seeds), then open away
    # strips one or two cells wide: the walls' and chair legs' cross-sections
    grid = ndimage.binary_opening(ndimage.binary_closing(occupied | seeds), iterations=1) | seeds
    labels, count = ndimage.label(grid, structure=np.ones((3, 3), bool))
    if count == 0:
        return None
    keep = np.unique(labels[seeds])
    keep = keep[keep > 0]
    if len(keep) == 0:  # no objects: the largest region
        keep = np.array([1 + int(np.argmax(ndimage.sum(grid, labels, range(1, count + 1))))])
    region = np.isin(labels, keep)
    points = np.concatenate([layer[region[ij[:, 0], ij[:, 1]]], seeds_xy]).astype(np.float32)
    if len(points) < 3:
        return None
    (cx, cy), (sx, sy), angle = cv2.minAreaRect(points)
    (sx, sy), yaw = canonical_yaw((sx, sy), math.radians(angle))
    return {"center": [float(cx), float(cy), float(floor_z)], "size": [sx, sy], "yaw": yaw}
