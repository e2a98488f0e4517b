"""Mass properties of closed triangle meshes, and checks that an inertia is physical.

Volume, centre of mass and inertia come from the divergence theorem over signed
tetrahedra (origin, triangle) — exact for a closed, consistently wound mesh. Use the
watertight visual mesh, not a set of overlapping convex hulls (overlaps count twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MassProperties:
    volume: float  # m^3 (negative if the mesh is wound inside-out)
    center_of_mass: np.ndarray  # [3]
    inertia: np.ndarray  # [3,3] about the centre of mass, for the given density (kg m^2)
    mass: float

    def principal(self) -> tuple[np.ndarray, np.ndarray]:
        """Principal moments [3] (ascending) and axes [3,3] (columns)."""
        moments, axes = np.linalg.eigh(self.inertia)
        return moments, axes


def mass_properties(vertices: np.ndarray, faces: np.ndarray, density: float = 1.0) -> MassProperties:
    """vertices [V,3], faces [F,3] (counter-clockwise seen from outside)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    det = np.einsum("ij,ij->i", a, np.cross(b, c))  # 6 x signed tetra volume
    volume = det.sum() / 6.0
    if abs(volume) < 1e-15:
        raise ValueError("the mesh encloses no volume (open or degenerate)")
    com = (det[:, None] * (a + b + c)).sum(axis=0) / (24.0 * volume)
    # second moments of each tetra (origin, a, b, c): integral of x_i x_j over the tetra
    s = a + b + c
    outer = (
        np.einsum("ni,nj->nij", a, a) + np.einsum("ni,nj->nij", b, b) + np.einsum("ni,nj->nij", c, c)
        + np.einsum("ni,nj->nij", s, s)
    )  # fmt: skip
    second = (det[:, None, None] * outer).sum(axis=0) / 120.0  # integral of x x^T over the solid
    second_com = second - volume * np.outer(com, com)
    inertia = (np.trace(second_com) * np.eye(3) - second_com) * density
    sign = 1.0 if volume > 0 else -1.0
    return MassProperties(float(volume), com, sign * inertia, float(abs(volume) * density))


def shell_mass_properties(vertices: np.ndarray, faces: np.ndarray, thickness: float, density: float) -> MassProperties:
    """A thin-walled object (mug, bowl, box, bottle): the mesh's surface as a shell of the
    given wall thickness. Surface integrals over the triangles (area-weighted)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = area.sum()
    if total <= 0:
        raise ValueError("the mesh has no surface area")
    mass = total * thickness * density
    com = (area[:, None] * (a + b + c) / 3.0).sum(axis=0) / total
    # second moment over a triangle: A/12 (sum v v^T + s s^T) with s = a + b + c
    s = a + b + c
    outer = (
        np.einsum("ni,nj->nij", a, a) + np.einsum("ni,nj->nij", b, b) + np.einsum("ni,nj->nij", c, c)
        + np.einsum("ni,nj->nij", s, s)
    )  # fmt: skip
    second = (area[:, None, None] * outer).sum(axis=0) / 12.0 * thickness * density
    second_com = second - mass * np.outer(com, com)
    inertia = np.trace(second_com) * np.eye(3) - second_com
    volume = total * thickness
    return MassProperties(float(volume), com, inertia, float(mass))


def check_inertia(inertia: np.ndarray, mass: float, rtol: float = 1e-6) -> list[str]:
    """Problems that make an inertia unphysical (empty list = fine): symmetric, positive
    definite, principal moments obey the triangle inequality, mass positive."""
    problems = []
    inertia = np.asarray(inertia, np.float64)
    if not mass > 0:
        problems.append(f"mass {mass} is not positive")
    if not np.allclose(inertia, inertia.T, rtol=1e-6, atol=1e-12):
        problems.append("inertia is not symmetric")
    moments = np.linalg.eigvalsh(0.5 * (inertia + inertia.T))
    if moments.min() <= 0:
        problems.append(f"inertia is not positive definite (principal moments {moments.tolist()})")
    else:
        i1, i2, i3 = moments
        if i1 + i2 < i3 * (1 - rtol):
            problems.append(f"principal moments break the triangle inequality ({i1:.3g} + {i2:.3g} < {i3:.3g})")
    return problems


def box_inertia(mass: float, size: np.ndarray) -> np.ndarray:
    """Inertia [3,3] of a solid box of the given full extents [3] about its centre."""
    x, y, z = np.asarray(size, np.float64) ** 2
    return mass / 12.0 * np.diag([y + z, x + z, x + y])
