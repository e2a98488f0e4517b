"""Mesh clean-up: keep the right components, simplify to a face budget without opening the
surface, colour from the fused TSDF mesh, and the fallbacks for geometry that cannot be
fused (too few Gaussians, flat objects)."""

from __future__ import annotations

import numpy as np


def is_closed(mesh) -> bool:
    """Watertight, consistently wound and enclosing a positive volume."""
    return bool(len(mesh.faces) >= 4 and mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0)


def keep_components(mesh, min_fraction: float):
    """Drop closed pieces whose volume (open ones: area) is below ``min_fraction`` of the
    largest; returns (mesh, number dropped)."""
    import trimesh

    parts = mesh.split(only_watertight=False)
    if len(parts) <= 1:
        return mesh, 0
    size = np.array([abs(p.volume) if p.is_watertight else 0.0 for p in parts])
    if size.max() <= 0:
        size = np.array([p.area for p in parts])
    keep = [p for p, s in zip(parts, size) if s >= min_fraction * size.max()]
    return trimesh.util.concatenate(keep), len(parts) - len(keep)


def _to_manifold(mesh):
    import manifold3d

    return manifold3d.Manifold(manifold3d.Mesh(vert_properties=np.asarray(mesh.vertices, np.float32),
                                               tri_verts=np.asarray(mesh.faces, np.uint32)))  # fmt: skip


def simplify(mesh, face_budget: int, tolerance: float):
    """Reduce to at most ``face_budget`` faces without opening the surface: manifold3d's
    simplification (every surface moves less than ``tolerance``; stays manifold), then
    open3d's quadric decimation, whose result is kept only if it is still closed.
    Returns (mesh, note or None)."""
    import open3d as o3d
    import trimesh

    if len(mesh.faces) <= face_budget:
        return mesh, None
    try:
        solid = _to_manifold(mesh).simplify(float(tolerance))
        out = solid.to_mesh()
        reduced = trimesh.Trimesh(np.asarray(out.vert_properties, np.float64)[:, :3], np.asarray(out.tri_verts, np.int64), process=False)
        if is_closed(reduced) and len(reduced.faces) < len(mesh.faces):
            mesh = reduced
    except Exception:  # manifold3d rejects what it cannot read as a manifold: go on with open3d
        pass
    if len(mesh.faces) <= face_budget:
        return mesh, None
    target = face_budget
    for _attempt in range(3):
        o3 = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(mesh.vertices)), o3d.utility.Vector3iVector(np.asarray(mesh.faces)))
        o3 = o3.simplify_quadric_decimation(int(target))
        out = trimesh.Trimesh(np.asarray(o3.vertices), np.asarray(o3.triangles), process=False)
        out.remove_unreferenced_vertices()
        if is_closed(out):
            if target != face_budget:
                return out, f"simplified to {len(out.faces)} faces (over the budget of {face_budget}: a smaller mesh was not closed)"
            return out, None
        target = int(target * 1.5)
    return mesh, f"kept {len(mesh.faces)} faces (over the budget of {face_budget}): simplification opened the surface"


def transfer_colours(mesh, source) -> None:
    """Vertex colours from the nearest vertex of ``source`` (the coloured TSDF mesh)."""
    from scipy.spatial import cKDTree

    colours = getattr(source.visual, "vertex_colors", None)
    if source is None or len(source.vertices) == 0 or colours is None or len(colours) != len(source.vertices):
        return
    _, nearest = cKDTree(source.vertices).query(mesh.vertices)
    mesh.visual.vertex_colors = np.asarray(colours)[nearest]


def box_mesh(lo: np.ndarray, hi: np.ndarray, min_thickness: float):
    """A closed box spanning [lo, hi], each side at least ``min_thickness`` (grown about
    the centre, except that the bottom stays at lo[2] so it keeps resting on its support)."""
    import trimesh

    lo, hi = np.asarray(lo, np.float64).copy(), np.asarray(hi, np.float64).copy()
    for i in range(3):
        if hi[i] - lo[i] < min_thickness:
            if i == 2:
                hi[i] = lo[i] + min_thickness
            else:
                c = (lo[i] + hi[i]) / 2
                lo[i], hi[i] = c - min_thickness / 2, c + min_thickness / 2
    box = trimesh.creation.box(extents=hi - lo)
    box.apply_translation((lo + hi) / 2)
    return box


def hull_or_box(points: np.ndarray, min_thickness: float):
    """The convex hull of ``points`` when it is a proper solid (every extent at least
    ``min_thickness``), else a box around them. Returns (mesh, "convex_hull" | "box")."""
    import trimesh

    points = np.asarray(points, np.float64)
    lo, hi = points.min(0), points.max(0)
    if len(points) >= 4 and np.all(hi - lo >= min_thickness):
        try:
            hull = trimesh.Trimesh(points, process=False).convex_hull
            if is_closed(hull):
                return hull, "convex_hull"
        except Exception:  # qhull fails on degenerate input: a box is the answer then
            pass
    return box_mesh(lo, hi, min_thickness), "box"
