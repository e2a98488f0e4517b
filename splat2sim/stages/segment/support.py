"""The support surface seen from above: where it is (to reject clusters that reach its edge),
how densely the splat covers it (to reject clusters too sparse to be solids), and what lies
around and below a footprint (to reject walls and furniture crossing its height)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splat2sim.stages.segment.footprints import footprint_grid

MAX_BEYOND_SUPPORT = 0.005  # share of a cluster's Gaussians allowed over the support's edge
MAX_STRAYS = 2  # ... and always a stray or two (the share alone rejected a 92-Gaussian ball near the edge for one)
MIN_DENSITY_RATIO = 0.5  # an object covers its footprint at least half as densely as the support (see density_ratio)


@dataclass
class SupportRegion:
    """Where the support surface is, seen from above: cells of the support layer's Gaussians
    (|z| <= margin), closed, holes (under objects) filled, then the outermost ring of cells
    dropped (the edge, where the layer frays)."""

    inner: np.ndarray  # bool [I,J]
    lo: np.ndarray  # [2] xy of cell (0, 0)
    cell: float
    density: float  # support-layer Gaussians per unit area over the inner region

    @classmethod
    def of(cls, means: np.ndarray, margin: float, cell: float) -> "SupportRegion":
        from scipy import ndimage

        layer = means[np.abs(means[:, 2]) <= margin, :2]
        if len(layer) == 0 or cell <= 0:
            return cls(np.zeros((1, 1), bool), np.zeros(2), max(cell, 1.0), 0.0)
        lo = layer.min(0) - 3 * cell
        shape = tuple(np.floor((layer.max(0) + 3 * cell - lo) / cell).astype(int) + 1)
        grid = np.zeros(shape, bool)
        ij = np.floor((layer - lo) / cell).astype(int)
        grid[ij[:, 0], ij[:, 1]] = True
        grid = ndimage.binary_fill_holes(ndimage.binary_closing(grid, iterations=2))
        inner = ndimage.binary_erosion(grid, iterations=1)
        region = cls(inner, lo, cell, 0.0)
        area = float(inner.sum()) * cell * cell
        region.density = float(np.sum(region.contains(layer))) / area if area else 0.0
        return region

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """[M] bool: the points ``xy`` [M,2] over the support's inner region."""
        ij = np.floor((xy - self.lo) / self.cell).astype(int)
        ok = (ij >= 0).all(1) & (ij[:, 0] < self.inner.shape[0]) & (ij[:, 1] < self.inner.shape[1])
        on = np.zeros(len(xy), bool)
        on[ok] = self.inner[ij[ok, 0], ij[ok, 1]]
        return on

    def density_ratio(self, xy: np.ndarray) -> float:
        """Points ``xy`` [M,2] per unit area of their footprint (closed, holes filled), over
        the support's own density: an object's top alone covers its footprint about as
        densely as the support is covered, and its sides add more."""
        grid, _, _ = footprint_grid(xy, self.cell)
        area = float(grid.sum()) * self.cell * self.cell
        return len(xy) / area / self.density if area and self.density else float("inf")

    def beyond(self, xy: np.ndarray) -> float:
        """Share of the points ``xy`` [M,2] outside the support's inner region."""
        return float(1.0 - self.contains(xy).mean()) if len(xy) else 0.0


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
