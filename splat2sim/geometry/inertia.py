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


# ----------------------------------------------------------------------------- robust use
def closed_mesh_problems(vertices: np.ndarray, faces: np.ndarray) -> list[str]:
    """Why a triangle mesh is not a closed, consistently wound surface (empty = it is):
    boundary edges (open), edges shared by more than two faces (non-manifold), edges
    traversed twice in the same direction (inconsistent winding)."""
    f = np.asarray(faces, np.int64)
    if len(f) < 4:
        return [f"only {len(f)} faces"]
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    undirected = np.sort(directed, axis=1)
    _, counts = np.unique(undirected, axis=0, return_counts=True)
    problems = []
    if np.any(counts == 1):
        problems.append(f"{int(np.sum(counts == 1))} boundary edges (the mesh is open)")
    if np.any(counts > 2):
        problems.append(f"{int(np.sum(counts > 2))} non-manifold edges (shared by more than two faces)")
    _, dcounts = np.unique(directed, axis=0, return_counts=True)
    if np.any(dcounts > 1) and not np.any(counts > 2):
        problems.append(f"{int(np.sum(dcounts > 1))} edges with inconsistent winding")
    return problems


def principal_axes(inertia: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal moments [3] (ascending), axes [3,3] (columns, right-handed) and the
    quaternion (w, x, y, z) rotating the body axes onto the principal axes."""
    from scipy.spatial.transform import Rotation

    moments, axes = np.linalg.eigh(0.5 * (np.asarray(inertia, np.float64) + np.asarray(inertia, np.float64).T))
    if np.linalg.det(axes) < 0:
        axes[:, 2] = -axes[:, 2]
    xyzw = Rotation.from_matrix(axes).as_quat()
    return moments, axes, np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]])


def robust_mass_properties(
    vertices: np.ndarray, faces: np.ndarray, density: float = 1.0, min_thickness: float = 1e-3
) -> tuple[MassProperties, str, list[str]]:
    """Mass properties that are never zero or unphysical, with what had to give.

    Returns (properties, method, warnings): method "mesh" for a closed mesh (exact);
    "convex_hull" when the mesh is open or non-manifold (its hull's volume is used, an
    upper bound); "box" when even the hull is flat (a box of the mesh's extent, each side at
    least ``min_thickness``). Raises ValueError only for an empty mesh."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if len(v) == 0:
        raise ValueError("the mesh has no vertices")
    warnings: list[str] = []
    problems = closed_mesh_problems(v, f) if len(f) else ["no faces"]
    if not problems:
        try:
            props = mass_properties(v, f, density)
            if props.volume < 0:  # wound inside-out: flip
                props = mass_properties(v, f[:, ::-1], density)
                warnings.append("the mesh was wound inside-out (faces flipped for the mass properties)")
            bad = check_inertia(props.inertia, props.mass)
            if not bad:
                return props, "mesh", warnings
            problems = bad
        except ValueError as exc:
            problems = [str(exc)]
    warnings.append("mass properties not from the mesh: " + "; ".join(problems))
    lo, hi = v.min(0), v.max(0)
    if len(v) >= 4 and np.all(hi - lo >= min_thickness):
        try:
            from scipy.spatial import ConvexHull

            hull = ConvexHull(v)
            simplices = hull.simplices.copy()
            centre = v[hull.vertices].mean(0)
            a, b, c = v[simplices[:, 0]], v[simplices[:, 1]], v[simplices[:, 2]]
            flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a - centre) < 0
            simplices[flip] = simplices[flip][:, ::-1]
            props = mass_properties(v, simplices, density)
            if not check_inertia(props.inertia, props.mass):
                warnings.append("used the convex hull (an upper bound on volume and mass)")
                return props, "convex_hull", warnings
        except Exception:  # degenerate hull (qhull error): fall through to the box
            pass
    size = np.maximum(hi - lo, min_thickness)
    mass = float(np.prod(size) * density)
    warnings.append(f"used a box of the mesh's extent {np.round(size, 5).tolist()} m (the mesh is flat or degenerate)")
    return MassProperties(float(np.prod(size)), (lo + hi) / 2, box_inertia(mass, size), mass), "box", warnings
