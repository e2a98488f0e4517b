"""Closed meshes built with numpy: lathe (revolved closed profiles), boxes, slabs and
swept tubes, each with texture coordinates and outward-facing triangles."""

from __future__ import annotations

import numpy as np

from splat2sim.synth.mesh_core import Mesh, outward


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
                faces.append((a, c, d))
                fuv.append((ta, tc, td))
            elif j == p - 2:
                faces.append((a, b, c))
                fuv.append((ta, tb, tc))
            else:
                faces += [(a, b, c), (a, c, d)]
                fuv += [(ta, tb, tc), (ta, tc, td)]
    return outward(Mesh(vertices, np.array(faces, np.int64), uvs, np.array(fuv, np.int64)))


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
    return outward(Mesh(corners.astype(np.float64), np.array(faces, np.int64), np.array(uvs, np.float64), np.array(fuv, np.int64)))


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
    return outward(Mesh(corners.astype(np.float64), np.array(faces, np.int64), np.array(uvs, np.float64), np.array(fuv, np.int64)))


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
    ring = np.cos(phi)[None, :, None] * normal[:, None, :] + np.sin(phi)[None, :, None] * binormal
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
        faces.append((start_c, i1, i))
        fuv.append((t0, i + 1, i))
        last = (p - 1) * n
        faces.append((end_c, last + i, last + i1))
        fuv.append((t1, (p - 1) * (n + 1) + i, (p - 1) * (n + 1) + i + 1))
    return outward(Mesh(vertices, np.array(faces, np.int64), uvs, np.array(fuv, np.int64)))


def extrude(outline: np.ndarray, triangles: np.ndarray, thickness: float) -> Mesh:
    """A flat plate: a polygon in the xy plane extruded from z = 0 to z = thickness.

    outline: (K, 2) polygon corners, counter-clockwise seen from +z, traced once.
    triangles: (T, 3) indices into ``outline`` that tile the polygon (given explicitly so a
    non-convex outline, e.g. a spatula, needs no triangulation library); every outline
    edge must be an edge of exactly one triangle, which keeps the result closed.
    The top and bottom faces get planar UVs over the outline's bounding box; the thin sides
    reuse a strip of the texture.
    """
    outline = np.asarray(outline, np.float64)
    tris = np.asarray(triangles, np.int64)
    k = len(outline)
    vertices = np.concatenate([np.c_[outline, np.zeros(k)], np.c_[outline, np.full(k, thickness)]])
    lo, hi = outline.min(0), outline.max(0)
    uv_top = (outline - lo) / np.maximum(hi - lo, 1e-9)
    uvs = np.concatenate([uv_top, [[0.0, 0.0], [1.0, 0.0], [1.0, 0.02], [0.0, 0.02]]])
    side = k  # first index of the side strip's UVs
    faces = [tris + k, tris[:, ::-1]]  # top (counter-clockwise from above), bottom (reversed)
    fuv = [tris, tris[:, ::-1]]
    for i in range(k):
        j = (i + 1) % k
        faces.append(np.array([[i, j, j + k], [i, j + k, i + k]]))
        fuv.append(np.array([[side, side + 1, side + 2], [side, side + 2, side + 3]]))
    return outward(Mesh(vertices, np.concatenate(faces), uvs, np.concatenate(fuv)))
