"""A closed solid from fused depth: the TSDF (open3d) gives the surface near what was seen,
space carving of the depth renders says which of the remaining voxels are empty, the
support plane cuts the solid flat (closing the unseen bottom), and a level set of the
resulting signed field gives a mesh that is closed and manifold by construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Grid:
    origin: np.ndarray  # [3] centre of voxel (0,0,0)
    voxel: float
    shape: tuple[int, int, int]

    def centres(self) -> np.ndarray:
        axes = [self.origin[i] + self.voxel * np.arange(self.shape[i]) for i in range(3)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def lattice_grid(lo: np.ndarray, hi: np.ndarray, voxel: float, margin: float) -> Grid:
    """A grid aligned with open3d's voxel lattice (centres at (i + 0.5) voxel) covering
    [lo - margin, hi + margin]."""
    start = np.floor((np.asarray(lo) - margin) / voxel - 0.5)
    stop = np.ceil((np.asarray(hi) + margin) / voxel - 0.5)
    shape = tuple(int(s) for s in (stop - start + 1))
    return Grid((start + 0.5) * voxel, float(voxel), shape)


def tsdf_on_grid(fusion, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(values [X,Y,Z] in metres, observed mask) of the fused TSDF at the grid's voxels."""
    pc = fusion.volume.extract_voxel_point_cloud()
    points = np.asarray(pc.points)
    values = np.zeros(grid.shape, np.float32)
    observed = np.zeros(grid.shape, bool)
    if len(points) == 0:
        return values, observed
    tsdf = (np.asarray(pc.colors)[:, 0] * 2.0 - 1.0) * fusion.trunc  # open3d encodes (tsdf + 1) / 2
    idx = np.round((points - grid.origin) / grid.voxel).astype(np.int64)
    ok = np.all((idx >= 0) & (idx < np.asarray(grid.shape)), axis=1)
    idx, tsdf = idx[ok], tsdf[ok]
    values[idx[:, 0], idx[:, 1], idx[:, 2]] = tsdf
    observed[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return values, observed


def carve(grid: Grid, view_sets: list, renders: list, alpha_threshold: float, trunc: float, min_views: int = 1,
          chunk: int = 1 << 20) -> np.ndarray:  # fmt: skip
    """[X,Y,Z] bool: voxels that at least ``min_views`` views see as empty (outside the
    object's silhouette, or in front of its rendered depth by more than ``trunc``). One view
    is classic space carving; more forgive a hole in a sparse object's render (a missing
    Gaussian lets one view see through the object and would carve a tunnel through it)."""
    centres = grid.centres().astype(np.float32)
    free = np.zeros(len(centres), np.int32)
    for views, rend in zip(view_sets, renders):
        for pose, k, alpha, depth in zip(views.world_from_camera, views.intrinsics, rend.alpha, rend.depth):
            cam = np.linalg.inv(pose).astype(np.float32)
            for s in range(0, len(centres), chunk):
                p = centres[s : s + chunk] @ cam[:3, :3].T + cam[:3, 3]
                z = p[:, 2]
                front = z > 1e-6
                u = np.floor(p[:, 0] / np.where(front, z, 1) * k[0] + k[2]).astype(np.int64)
                v = np.floor(p[:, 1] / np.where(front, z, 1) * k[1] + k[3]).astype(np.int64)
                inside = front & (u >= 0) & (u < views.width) & (v >= 0) & (v < views.height)
                ui, vi = u[inside], v[inside]
                a = alpha[vi, ui]
                d = depth[vi, ui]
                empty = (a < alpha_threshold) | (d - z[inside] > trunc)
                block = free[s : s + chunk]
                block[np.flatnonzero(inside)[empty]] += 1
    return (free >= min_views).reshape(grid.shape)


def footprint(grid: Grid, own_xy: np.ndarray, others_xy: np.ndarray | None, radius: float) -> np.ndarray:
    """[X,Y] bool: the grid columns that belong to the object seen from above. A column is
    the object's when one of its Gaussians (``own_xy`` [N,2]) is within ``radius`` of it and
    no other object's (``others_xy`` [M,2]) is nearer (touching objects split half-way);
    holes are filled (a can's top covers its footprint, its sides only the rim)."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    X, Y = grid.shape[:2]
    xs = grid.origin[0] + grid.voxel * np.arange(X)
    ys = grid.origin[1] + grid.voxel * np.arange(Y)
    cells = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    d_own = cKDTree(own_xy).query(cells, distance_upper_bound=radius)[0]
    near = d_own <= radius
    if others_xy is not None and len(others_xy) and near.any():
        d_other = cKDTree(others_xy).query(cells[near])[0]
        near[np.flatnonzero(near)] = d_own[near] <= d_other
    return ndimage.binary_fill_holes(near.reshape(X, Y))


def signed_field(tsdf: np.ndarray, observed: np.ndarray, free: np.ndarray, trunc: float, grid: Grid, floor_z: float | None) -> np.ndarray:
    """Signed distance-like field [X,Y,Z], positive outside: the TSDF where observed, +trunc
    where carved empty, -trunc where never seen empty (inside, or hidden); cut by the
    half-space above ``floor_z``; the grid's border is outside."""
    field = np.where(observed, tsdf, np.where(free, trunc, -trunc)).astype(np.float32)
    if floor_z is not None:
        z = grid.origin[2] + grid.voxel * np.arange(grid.shape[2])
        field = np.maximum(field, (floor_z - z)[None, None, :].astype(np.float32))
    field[0, :, :] = field[-1, :, :] = field[:, 0, :] = field[:, -1, :] = field[:, :, 0] = field[:, :, -1] = trunc
    return field


def extrude_down(field: np.ndarray, grid: Grid, z_from: float, z_to: float) -> np.ndarray:
    """Extend the cross-section at height ``z_from`` straight down to ``z_to``: the band
    between an object's lowest observed part and the support cannot be told from the
    support's own Gaussians, and an object resting there fills it with its outline."""
    z = grid.origin[2] + grid.voxel * np.arange(grid.shape[2])
    k_from = int(np.searchsorted(z, z_from))
    if k_from <= 0 or k_from >= grid.shape[2]:
        return field
    band = (z < z[k_from]) & (z >= z_to - grid.voxel)
    out = field.copy()
    out[:, :, band] = np.minimum(out[:, :, band], field[:, :, k_from][:, :, None])
    return out


def extract_level_set(field: np.ndarray, grid: Grid, edge: float | None = None):
    """The zero level set of ``field`` (positive outside) as a closed manifold
    trimesh.Trimesh (manifold3d's marching tetrahedra, trilinear interpolation)."""
    import manifold3d
    import trimesh

    X, Y, Z = field.shape
    f = np.asarray(field, np.float64)
    ox, oy, oz = (float(c) for c in grid.origin)
    inv = 1.0 / grid.voxel
    fl = f.ravel().tolist()
    sy, sx = Z, Y * Z
    floor = math.floor

    def sdf(x: float, y: float, z: float) -> float:  # manifold3d: positive inside
        gx, gy, gz = (x - ox) * inv, (y - oy) * inv, (z - oz) * inv
        if gx < 0 or gy < 0 or gz < 0 or gx > X - 1 or gy > Y - 1 or gz > Z - 1:
            return -1.0
        i, j, k = min(floor(gx), X - 2), min(floor(gy), Y - 2), min(floor(gz), Z - 2)
        tx, ty, tz = gx - i, gy - j, gz - k
        b = i * sx + j * sy + k
        c00 = fl[b] * (1 - tz) + fl[b + 1] * tz
        c01 = fl[b + sy] * (1 - tz) + fl[b + sy + 1] * tz
        c10 = fl[b + sx] * (1 - tz) + fl[b + sx + 1] * tz
        c11 = fl[b + sx + sy] * (1 - tz) + fl[b + sx + sy + 1] * tz
        return -((c00 * (1 - ty) + c01 * ty) * (1 - tx) + (c10 * (1 - ty) + c11 * ty) * tx)

    lo = grid.origin
    hi = grid.origin + grid.voxel * (np.asarray(field.shape) - 1)
    solid = manifold3d.Manifold.level_set(sdf, [*lo.tolist(), *hi.tolist()], float(edge or grid.voxel), 0.0)
    mesh = solid.to_mesh()
    vertices = np.asarray(mesh.vert_properties, np.float64)[:, :3]
    faces = np.asarray(mesh.tri_verts, np.int64)
    return trimesh.Trimesh(vertices, faces, process=False)
