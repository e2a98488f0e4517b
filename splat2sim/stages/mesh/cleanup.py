"""Mesh clean-up: keep the right components, simplify to a face budget without opening the
surface, colour from the fused TSDF mesh, and the fallbacks for geometry that cannot be
fused (too few Gaussians, flat objects)."""

from __future__ import annotations

import numpy as np


def is_closed(mesh) -> bool:
    """Watertight, consistently wound and enclosing a positive volume."""
    return bool(len(mesh.faces) >= 4 and mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0)


def _edge_ids(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([F,3] id of each face's edges, [E] how many faces use each edge) of ``faces`` [F,3]."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, edge_id, uses = np.unique(edges[:, 0] * (int(faces.max()) + 1) + edges[:, 1], return_inverse=True, return_counts=True)
    return edge_id.reshape(-1, 3), uses


def face_components(faces: np.ndarray, edge_id: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """([F] component of each face, count): faces that share an edge are connected (as in
    trimesh's ``split``), found with one sparse graph search instead of a mesh per part."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    faces = np.asarray(faces, np.int64)
    n_faces = len(faces)
    if n_faces == 0:
        return np.zeros(0, np.int64), 0
    if edge_id is None:
        edge_id, _ = _edge_ids(faces)
    # a bipartite graph: face f -- edge e for each of its three edges
    rows = np.repeat(np.arange(n_faces), 3)
    cols = n_faces + edge_id.ravel()
    size = n_faces + int(edge_id.max()) + 1
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    _, comp = np.unique(labels[:n_faces], return_inverse=True)
    return comp.ravel(), int(comp.max()) + 1


def keep_components(mesh, min_fraction: float, by: str = "volume"):
    """Drop pieces smaller than ``min_fraction`` of the largest; returns (mesh, number
    dropped). ``by="volume"``: a solid's pieces, measured by volume (an open piece counts 0
    beside closed ones; by area when none is closed). ``by="area"``: a surface's pieces (a
    TSDF scene is open: by volume, its few closed specks would outweigh the table itself).
    The same pieces as splitting with trimesh and measuring each (tests/unit/
    test_mesh_cleanup.py), without a mesh per piece: a background's 16k specks took 30 s so."""
    if by not in ("volume", "area"):
        raise ValueError(f"keep_components: by={by!r}, expected 'volume' or 'area'")
    faces = np.asarray(mesh.faces, np.int64)
    if len(faces) == 0:
        return mesh, 0
    edge_id, uses = _edge_ids(faces)
    comp, n = face_components(faces, edge_id)
    if n <= 1:
        return mesh, 0
    # watertight as trimesh means it: every edge of the piece in exactly two of its faces
    watertight = np.ones(n, bool)
    watertight[comp[np.repeat(np.arange(len(faces)), 3)[uses[edge_id.ravel()] != 2]]] = False
    tri = np.asarray(mesh.vertices, np.float64)[faces]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    size = np.where(watertight, np.abs(np.bincount(comp, signed, n)), 0.0) if by == "volume" else np.zeros(n)
    if size.max() <= 0:
        size = np.bincount(comp, np.asarray(mesh.area_faces, np.float64), n)
    keep = size >= min_fraction * size.max()
    return _pieces_apart(mesh, faces, comp, keep[comp]), int((~keep).sum())


def _pieces_apart(mesh, faces: np.ndarray, comp: np.ndarray, selected: np.ndarray):
    """The ``selected`` faces as a mesh whose pieces share no vertex (a vertex where two
    pieces touch is copied into each, as concatenating split pieces does: manifold3d reads
    such a mesh as a manifold), with the vertex colours."""
    import trimesh

    n_vertices = len(mesh.vertices)
    keys, new_faces = np.unique(comp[selected][:, None] * n_vertices + faces[selected], return_inverse=True)
    source = keys % n_vertices
    out = trimesh.Trimesh(np.asarray(mesh.vertices)[source], new_faces.reshape(-1, 3), process=False)
    colours = getattr(mesh.visual, "vertex_colors", None)
    if mesh.visual.kind == "vertex" and colours is not None and len(colours) == n_vertices:
        out.visual.vertex_colors = np.asarray(colours)[source]
    return out


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
