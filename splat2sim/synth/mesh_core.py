"""The triangle mesh of the synthetic scenes (``Mesh``) and what can be measured on it:
volume, mass properties, closedness, convex hull.

Positions are welded (one vertex per point in space) so that a closed surface is closed by
index; texture coordinates are indexed separately per face corner (OBJ's ``f v/vt``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splat2sim.errors import InputError


@dataclass
class Mesh:
    vertices: np.ndarray  # (N, 3) float64, metres, in the object's own frame
    faces: np.ndarray  # (M, 3) int64, counter-clockwise seen from outside
    uvs: np.ndarray | None = None  # (K, 2) float64 texture coordinates, OBJ convention (v up)
    face_uvs: np.ndarray | None = None  # (M, 3) int64 indices into uvs

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> Mesh:
        """Copy with vertices mapped by x -> R x + t; rotation (3, 3), translation (3,)."""
        v = self.vertices @ np.asarray(rotation).T + np.asarray(translation)
        return Mesh(v, self.faces.copy(), self.uvs, self.face_uvs)

    def flipped(self) -> Mesh:
        fu = None if self.face_uvs is None else self.face_uvs[:, ::-1].copy()
        return Mesh(self.vertices, self.faces[:, ::-1].copy(), self.uvs, fu)

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3): min and max corner."""
        return np.stack([self.vertices.min(0), self.vertices.max(0)])


def concatenate(meshes: list[Mesh]) -> Mesh:
    verts, faces, uvs, fuv = [], [], [], []
    nv = nuv = 0
    textured = all(m.uvs is not None for m in meshes)
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + nv)
        nv += len(m.vertices)
        if textured:
            uvs.append(m.uvs)
            fuv.append(m.face_uvs + nuv)
            nuv += len(m.uvs)
    return Mesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(uvs) if textured else None, np.concatenate(fuv) if textured else None)


def outward(mesh: Mesh) -> Mesh:
    """Flip the winding if the signed volume is negative (faces pointed inwards)."""
    return mesh.flipped() if signed_volume(mesh) < 0 else mesh


def _tetra_terms(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tri = mesh.vertices[mesh.faces]  # (M, 3, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = np.einsum("ij,ij->i", a, np.cross(b, c))  # 6 x signed volume of (0, a, b, c)
    return a, b, c, det


def signed_volume(mesh: Mesh) -> float:
    *_, det = _tetra_terms(mesh)
    return float(det.sum() / 6.0)


def mass_properties(mesh: Mesh, mass: float) -> dict:
    """Volume, centre of mass and inertia (about the centre of mass, object axes) of a
    closed mesh of uniform density with the given total mass (kg).

    Sums signed tetrahedra from the origin: for a tetrahedron (0, a, b, c) of volume V,
    the integral of x x^T is V/20 (a a^T + b b^T + c c^T + s s^T) with s = a + b + c.
    """
    a, b, c, det = _tetra_terms(mesh)
    volume = det.sum() / 6.0
    if volume <= 0:
        raise InputError("mesh encloses no volume (open or inside-out)", hint="check that the mesh is closed")
    s = a + b + c
    centroid = (det[:, None] * s).sum(0) / 24.0 / volume
    outer = np.einsum("ni,nj->nij", a, a) + np.einsum("ni,nj->nij", b, b) + np.einsum("ni,nj->nij", c, c) + np.einsum("ni,nj->nij", s, s)
    second = (det[:, None, None] * outer).sum(0) / 120.0  # integral of x x^T over the solid
    density = mass / volume
    cov = density * second - mass * np.outer(centroid, centroid)  # about the centre of mass
    inertia = np.trace(cov) * np.eye(3) - cov
    return {"volume": float(volume), "center_of_mass": centroid, "inertia": inertia, "density": float(density)}


def is_closed(mesh: Mesh) -> bool:
    """Every undirected edge used by exactly two faces, in opposite directions."""
    f = mesh.faces
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    _, counts = np.unique(key, axis=0, return_counts=True)
    if not np.all(counts == 2):
        return False
    _, dcounts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(dcounts == 1))


def convex_hull(mesh: Mesh) -> Mesh:
    from scipy.spatial import ConvexHull

    hull = ConvexHull(mesh.vertices)
    used = np.unique(hull.simplices)
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    faces = remap[hull.simplices]
    # Orient every facet away from the hull's interior.
    centre = mesh.vertices[used].mean(0)
    v = mesh.vertices[used]
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    inward = np.einsum("ij,ij->i", n, v[faces[:, 0]] - centre) < 0
    faces[inward] = faces[inward][:, ::-1]
    return Mesh(v.copy(), faces.astype(np.int64))
