"""Triangle meshes built with numpy: lathe (revolved closed profiles), boxes, swept tubes;
mass properties; OBJ reading and writing.

Positions are welded (one vertex per point in space) so that every mesh built here is
closed by index, i.e. watertight; texture coordinates are indexed separately per face
corner (OBJ's ``f v/vt``), so UV seams do not split the surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

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
    return Mesh(np.concatenate(verts), np.concatenate(faces),
                np.concatenate(uvs) if textured else None, np.concatenate(fuv) if textured else None)


def _outward(mesh: Mesh) -> Mesh:
    """Flip the winding if the signed volume is negative (faces pointed inwards)."""
    return mesh.flipped() if signed_volume(mesh) < 0 else mesh


# --------------------------------------------------------------------------- builders


def lathe(profile: np.ndarray, segments: int = 48) -> Mesh:
    """Revolve a 2D profile about the z axis into a closed surface.

    profile: (P, 2) points (r, z) that start and end on the axis (r = 0) and trace the
    outline once; interior points must have r > 0. The result is watertight because the
    first and last points become single pole vertices.
    """
    profile = np.asarray(profile, np.float64)
    if profile[0, 0] != 0 or profile[-1, 0] != 0 or np.any(profile[1:-1, 0] <= 0):
        raise ValueError("lathe profile must start and end on the axis with r > 0 between")
    n, p = segments, len(profile)
    theta = np.arange(n) * (2 * np.pi / n)
    verts = [np.array([[0.0, 0.0, profile[0, 1]]])]
    index = [np.zeros(n, np.int64)]  # per profile point: vertex index for each angle
    count = 1
    for r, z in profile[1:-1]:
        verts.append(np.stack([r * np.cos(theta), r * np.sin(theta), np.full(n, z)], -1))
        index.append(np.arange(count, count + n))
        count += n
    verts.append(np.array([[0.0, 0.0, profile[-1, 1]]]))
    index.append(np.full(n, count, np.int64))
    vertices = np.concatenate(verts)

    # UVs: u around, v along the profile's arc length; a (P, n+1) grid so the seam has u=0 and u=1.
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(profile, axis=0), axis=1))])
    v = arc / arc[-1]
    u = np.arange(n + 1) / n
    uvs = np.stack(np.meshgrid(u, v), -1).reshape(-1, 2)

    faces, fuv = [], []
    for j in range(p - 1):
        for i in range(n):
            i1 = (i + 1) % n
            a, b, c, d = index[j][i], index[j][i1], index[j + 1][i1], index[j + 1][i]
            ta, tb = j * (n + 1) + i, j * (n + 1) + i + 1
            tc, td = (j + 1) * (n + 1) + i + 1, (j + 1) * (n + 1) + i
            if j == 0:
                faces.append((a, c, d)); fuv.append((ta, tc, td))
            elif j == p - 2:
                faces.append((a, b, c)); fuv.append((ta, tb, tc))
            else:
                faces += [(a, b, c), (a, c, d)]; fuv += [(ta, tb, tc), (ta, tc, td)]
    return _outward(Mesh(vertices, np.array(faces, np.int64), uvs, np.array(fuv, np.int64)))


def box(size: tuple[float, float, float]) -> Mesh:
    """Axis-aligned box with its bottom face centred at the origin: x, y in [-s/2, s/2],
    z in [0, sz]. Each face gets its own cell of a 3x2 texture atlas."""
    sx, sy, sz = size
    corners = np.array([[x, y, z] for z in (0, sz) for y in (-sy / 2, sy / 2) for x in (-sx / 2, sx / 2)])
    # Quads as corner indices (counter-clockwise seen from outside).
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    faces, fuv, uvs = [], [], []
    for k, (a, b, c, d) in enumerate(quads):
        cu, cv = (k % 3) / 3, (k // 3) / 2
        base = len(uvs)
        uvs += [(cu, cv), (cu + 1 / 3, cv), (cu + 1 / 3, cv + 1 / 2), (cu, cv + 1 / 2)]
        faces += [(a, b, c), (a, c, d)]
        fuv += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return _outward(Mesh(corners.astype(np.float64), np.array(faces, np.int64),
                         np.array(uvs, np.float64), np.array(fuv, np.int64)))


def slab(size_x: float, size_y: float, thickness: float) -> Mesh:
    """A thin box whose top face (z = 0) carries the whole texture [0, 1]^2 with image up
    along +y; the sides and bottom reuse a thin strip of it. Used for table top, floor,
    walls and the marker, where one picture must cover one face exactly."""
    hx, hy = size_x / 2, size_y / 2
    corners = np.array([[x, y, z] for z in (-thickness, 0.0) for y in (-hy, hy) for x in (-hx, hx)])
    quads = [(4, 5, 7, 6), (0, 2, 3, 1), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    uvs = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0), (0.02, 0), (0.02, 0.02), (0, 0.02)]
    faces, fuv = [], []
    for k, (a, b, c, d) in enumerate(quads):
        faces += [(a, b, c), (a, c, d)]
        fuv += [(0, 1, 2), (0, 2, 3)] if k == 0 else [(4, 5, 6), (4, 6, 7)]
    return _outward(Mesh(corners.astype(np.float64), np.array(faces, np.int64),
                         np.array(uvs, np.float64), np.array(fuv, np.int64)))


def swept_tube(centerline: np.ndarray, radius: float, segments: int = 16) -> Mesh:
    """A capped tube of circular section along a curve in the xz plane.

    centerline: (P, 3) points with y = 0 (so the section frame never twists: its binormal
    is the y axis). Caps are fans to a centre vertex, which keeps the tube closed.
    """
    c = np.asarray(centerline, np.float64)
    tangent = np.gradient(c, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    binormal = np.array([0.0, 1.0, 0.0])
    normal = np.cross(binormal, tangent)
    phi = np.arange(segments) * (2 * np.pi / segments)
    ring = (np.cos(phi)[None, :, None] * normal[:, None, :] + np.sin(phi)[None, :, None] * binormal)
    rings = c[:, None, :] + radius * ring  # (P, segments, 3)
    p, n = len(c), segments
    vertices = np.concatenate([rings.reshape(-1, 3), c[[0, -1]]])
    start_c, end_c = p * n, p * n + 1
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(c, axis=0), axis=1))])
    uvs = np.stack(np.meshgrid(np.arange(n + 1) / n, arc / arc[-1]), -1).reshape(-1, 2)
    uvs = np.concatenate([uvs, [[0.5, 0.0], [0.5, 1.0]]])
    faces, fuv = [], []
    for j in range(p - 1):
        for i in range(n):
            i1 = (i + 1) % n
            a, b, cc, d = j * n + i, j * n + i1, (j + 1) * n + i1, (j + 1) * n + i
            ta, tb, tc, td = j * (n + 1) + i, j * (n + 1) + i + 1, (j + 1) * (n + 1) + i + 1, (j + 1) * (n + 1) + i
            faces += [(a, b, cc), (a, cc, d)]
            fuv += [(ta, tb, tc), (ta, tc, td)]
    t0, t1 = len(uvs) - 2, len(uvs) - 1
    for i in range(n):
        i1 = (i + 1) % n
        faces.append((start_c, i1, i)); fuv.append((t0, i + 1, i))
        last = (p - 1) * n
        faces.append((end_c, last + i, last + i1)); fuv.append((t1, (p - 1) * (n + 1) + i, (p - 1) * (n + 1) + i + 1))
    return _outward(Mesh(vertices, np.array(faces, np.int64), uvs, np.array(fuv, np.int64)))


# --------------------------------------------------------------------------- properties


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
    outer = (np.einsum("ni,nj->nij", a, a) + np.einsum("ni,nj->nij", b, b)
             + np.einsum("ni,nj->nij", c, c) + np.einsum("ni,nj->nij", s, s))
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


# --------------------------------------------------------------------------- files


def write_obj(path: Path, mesh: Mesh, material: str | None = None, texture_file: str | None = None) -> None:
    """Write an OBJ (and an MTL beside it when a texture is named). Fixed number format,
    so the bytes depend only on the mesh."""
    path = Path(path)
    lines = [f"# splat2sim synthetic object: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces"]
    if texture_file is not None:
        mtl = path.with_suffix(".mtl")
        mtl.write_text(f"newmtl {material}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nmap_Kd {texture_file}\n")
        lines.append(f"mtllib {mtl.name}")
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in mesh.vertices]
    if mesh.uvs is not None:
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in mesh.uvs]
        if texture_file is not None:
            lines.append(f"usemtl {material}")
        lines += [f"f {a + 1}/{ta + 1} {b + 1}/{tb + 1} {c + 1}/{tc + 1}"
                  for (a, b, c), (ta, tb, tc) in zip(mesh.faces, mesh.face_uvs)]
    else:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    path.write_text("\n".join(lines) + "\n")


def read_obj(path: Path) -> tuple[Mesh, Path | None]:
    """Read positions, texture coordinates and faces (polygons fan-triangulated) of an OBJ;
    also return the diffuse texture its MTL names, if that file exists."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mesh file not found: {path}", hint="pass the path of an existing .obj file")
    verts, uvs, faces, fuv = [], [], [], []
    mtllib = None
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read mesh file {path}: {exc}", hint="check permissions") from exc
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif tag == "vt":
            uvs.append([float(x) for x in parts[1:3]])
        elif tag == "f":
            idx = [p.split("/") for p in parts[1:]]
            vi = [int(p[0]) for p in idx]
            ti = [int(p[1]) if len(p) > 1 and p[1] else 0 for p in idx]
            for k in range(1, len(vi) - 1):
                faces.append([vi[0], vi[k], vi[k + 1]])
                fuv.append([ti[0], ti[k], ti[k + 1]])
        elif tag == "mtllib" and len(parts) > 1:
            mtllib = path.parent / " ".join(parts[1:])
    if not verts or not faces:
        raise InputError(f"mesh file {path} has no vertices or faces", hint="is it a triangle-mesh OBJ?")
    v = np.array(verts, np.float64)
    f = np.array(faces, np.int64)
    f = np.where(f < 0, f + len(v), f - 1)  # OBJ indices are 1-based; negatives count from the end
    t = np.array(fuv, np.int64)
    mesh = Mesh(v, f)
    if uvs and np.all(t != 0):
        tv = np.array(uvs, np.float64)
        mesh.uvs, mesh.face_uvs = tv, np.where(t < 0, t + len(tv), t - 1)
    texture = None
    if mtllib is not None and mtllib.is_file():
        for line in mtllib.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) > 1 and parts[0] == "map_Kd":
                cand = mtllib.parent / parts[-1]
                texture = cand if cand.is_file() else None
    if texture is None and (path.parent / "texture_map.png").is_file():
        texture = path.parent / "texture_map.png"
    return mesh, texture


# --------------------------------------------------------------------------- procedural objects


def _bevel_cylinder_profile(radius: float, height: float, bevel: float) -> list[tuple[float, float]]:
    return [(0, 0), (radius - bevel, 0), (radius, bevel), (radius, height - bevel), (radius - bevel, height), (0, height)]


def make_box(rng: np.random.Generator) -> tuple[Mesh, dict]:
    size = (rng.uniform(0.05, 0.12), rng.uniform(0.04, 0.09), rng.uniform(0.04, 0.16))
    return box(size), {"size": list(size), "mass_density_range": (150.0, 450.0)}


def make_can(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.028, 0.04), rng.uniform(0.09, 0.13)
    profile = np.array(_bevel_cylinder_profile(r, h, 0.003))
    return lathe(profile), {"radius": r, "height": h, "mass_density_range": (850.0, 1000.0)}


def make_ball(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r = rng.uniform(0.03, 0.05)
    a = np.linspace(-np.pi / 2, np.pi / 2, 17)
    profile = np.stack([r * np.cos(a), r + r * np.sin(a)], -1)
    profile[0, 0] = profile[-1, 0] = 0.0
    return lathe(profile, 32), {"radius": r, "mass_density_range": (250.0, 700.0)}


def make_bottle(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.03, 0.04), rng.uniform(0.18, 0.24)
    neck = rng.uniform(0.012, 0.016)
    shoulder0, shoulder1 = 0.6 * h, 0.8 * h
    s = np.linspace(0, 1, 8)[1:-1]
    shoulder = [(neck + (r - neck) * (0.5 + 0.5 * np.cos(np.pi * t)), shoulder0 + (shoulder1 - shoulder0) * t) for t in s]
    profile = ([(0, 0), (r - 0.004, 0), (r, 0.004), (r, shoulder0)] + shoulder
               + [(neck, shoulder1), (neck, h - 0.002), (neck - 0.002, h), (0, h)])
    return lathe(np.array(profile)), {"radius": r, "height": h, "neck_radius": neck, "mass_density_range": (700.0, 950.0)}


def make_bowl(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.065, 0.085), rng.uniform(0.045, 0.065)
    t, foot = 0.005, 0.55 * r
    a = np.linspace(0, 1, 10)
    outer = [(foot + (r - foot) * np.sin(x * np.pi / 2), h * (1 - np.cos(x * np.pi / 2))) for x in a]
    inner = [(foot - t + (r - t - foot + t) * np.sin(x * np.pi / 2), t + (h - t) * (1 - np.cos(x * np.pi / 2))) for x in a[::-1]]
    profile = [(0, 0)] + outer + inner + [(0, t)]
    return lathe(np.array(profile)), {"radius": r, "height": h, "wall": t, "mass_density_range": None, "mass_range": (0.2, 0.45)}


def make_mug(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.037, 0.045), rng.uniform(0.085, 0.105)
    t, tb = 0.005, 0.008  # wall and base thickness
    profile = [(0, 0), (r - 0.004, 0), (r, 0.004), (r, h), (r - t, h), (r - t, tb + 0.003), (r - t - 0.003, tb), (0, tb)]
    body = lathe(np.array(profile))
    # Handle: a D-shaped tube whose capped ends sit inside the wall (not in the cavity),
    # so the union stays closed and the cavity stays open.
    z_top, z_bot = 0.8 * h, 0.3 * h
    tube_r = min(0.0065, 0.2 * (z_top - z_bot))
    reach = rng.uniform(0.022, 0.03)
    x_in, x_out = r - t / 2, r + 0.006
    zc, half = (z_top + z_bot) / 2, (z_top - z_bot) / 2
    ang = np.linspace(np.pi / 2, -np.pi / 2, 21)
    arc = np.stack([x_out + reach * np.cos(ang), np.zeros_like(ang), zc + half * np.sin(ang)], -1)
    lead_in = np.stack([np.linspace(x_in, x_out, 4)[:-1], np.zeros(3), np.full(3, z_top)], -1)
    lead_out = np.stack([np.linspace(x_out, x_in, 4)[1:], np.zeros(3), np.full(3, z_bot)], -1)
    handle = swept_tube(np.concatenate([lead_in, arc, lead_out]), tube_r)
    # The handle takes the top-right corner of the texture's v range: scale its UVs.
    handle.uvs = handle.uvs * [1.0, 0.2] + [0.0, 0.8]
    return concatenate([body, handle]), {"radius": r, "height": h, "wall": t, "handle_reach": reach,
                                         "mass_density_range": None, "mass_range": (0.3, 0.4)}


BUILDERS = {"box": make_box, "can": make_can, "mug": make_mug, "bowl": make_bowl, "ball": make_ball, "bottle": make_bottle}


def make_object(kind: str, rng: np.random.Generator) -> tuple[Mesh, dict, float]:
    """Build one procedural object in its own frame (origin at the centre of its base,
    +z up); return the mesh, its dimensions and a realistic mass in kg."""
    mesh, dims = BUILDERS[kind](rng)
    dens = dims.pop("mass_density_range")
    mrange = dims.pop("mass_range", None)
    if dens is not None:
        mass = signed_volume(mesh) * rng.uniform(*dens)
    else:
        mass = rng.uniform(*mrange)
    return mesh, dims, float(round(mass, 4))
