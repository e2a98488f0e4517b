"""Mesh clean-up against references: the component filter against trimesh's split."""

from __future__ import annotations

import numpy as np
import pytest


def _keep_components_reference(mesh, min_fraction: float, by: str = "volume"):
    """The filter written with trimesh: a mesh per piece, measured one by one (slow on a
    TSDF background's thousands of specks, clear). No repair: trimesh's split would fill a
    piece's one-triangle holes first."""
    import trimesh

    parts = mesh.split(only_watertight=False, repair=False)
    if len(parts) <= 1:
        return mesh, 0
    size = np.array([abs(p.volume) if p.is_watertight and by == "volume" else 0.0 for p in parts])
    if size.max() <= 0:
        size = np.array([p.area for p in parts])
    keep = [p for p, s in zip(parts, size) if s >= min_fraction * size.max()]
    return trimesh.util.concatenate(keep), len(parts) - len(keep)


def _faces_as_points(mesh) -> set:
    return {tuple(np.round(np.sort(t.reshape(-1)), 9)) for t in np.asarray(mesh.vertices)[mesh.faces]}


def _pieces(closed: bool):
    """Closed spheres of many sizes (or the same with one face removed each: open pieces),
    some touching only at a vertex, plus specks."""
    import trimesh

    rng = np.random.default_rng(0)
    parts = []
    for k, r in enumerate([0.1, 0.05, 0.03, 0.012, 0.004, 0.002]):
        s = trimesh.creation.icosphere(subdivisions=2, radius=r)
        s.apply_translation([0.3 * k, rng.uniform(-1, 1), 0.0])
        if not closed:
            s.update_faces(np.arange(len(s.faces)) != 0)
            s.remove_unreferenced_vertices()
        parts.append(s)
    # a tetrahedron sharing one vertex with the largest sphere: a separate piece for trimesh too
    v0 = parts[0].vertices[0]
    tet = trimesh.Trimesh(np.array([v0, v0 + [0.01, 0, 0], v0 + [0, 0.01, 0], v0 + [0, 0, 0.01]]), [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    parts.append(tet)
    mesh = trimesh.util.concatenate(parts)
    mesh.merge_vertices()
    return mesh


@pytest.mark.parametrize("by", ["volume", "area"])
@pytest.mark.parametrize("closed", [True, False])
@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.05, 0.5])
def test_keep_components_drops_the_same_pieces_as_trimesh_split(closed, fraction, by):
    from splat2sim.stages.mesh.cleanup import keep_components

    mesh = _pieces(closed)
    ours, dropped = keep_components(mesh, fraction, by=by)
    ref, ref_dropped = _keep_components_reference(mesh, fraction, by=by)
    assert dropped == ref_dropped
    assert _faces_as_points(ours) == _faces_as_points(ref)
    assert len(ours.vertices) == len(ref.vertices)


def test_a_mix_of_closed_and_open_pieces_is_judged_by_the_closed_ones_volume():
    """An open piece counts 0 beside closed ones, whatever its area (as in the reference)."""
    import trimesh

    from splat2sim.stages.mesh.cleanup import keep_components

    closed = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    sheet = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    sheet.update_faces(np.arange(len(sheet.faces)) != 0)
    sheet.remove_unreferenced_vertices()
    sheet.apply_translation([2.0, 0, 0])
    mesh = trimesh.util.concatenate([closed, sheet])
    ours, dropped = keep_components(mesh, 0.05)
    ref, ref_dropped = _keep_components_reference(mesh, 0.05)
    assert dropped == ref_dropped == 1 and _faces_as_points(ours) == _faces_as_points(ref) == _faces_as_points(closed)


def test_a_surface_keeps_its_large_open_sheet_beside_closed_specks():
    """A TSDF background: the table is one large open sheet, the specks around it closed.
    By area the sheet stays and the specks go; by volume (a solid's rule) the sheet would go."""
    import trimesh

    from splat2sim.stages.mesh.cleanup import keep_components

    table = trimesh.creation.box(extents=[1.0, 1.0, 0.02])
    table.update_faces(np.arange(len(table.faces)) >= 2)  # open: one side's two triangles removed
    table.remove_unreferenced_vertices()
    specks = [trimesh.creation.icosphere(subdivisions=1, radius=0.01).apply_translation([0.3 * k, 0.8, 0.2]) for k in range(3)]
    mesh = trimesh.util.concatenate([table, *specks])
    surface, dropped = keep_components(mesh, 0.05, by="area")
    assert dropped == 3 and _faces_as_points(surface) == _faces_as_points(table)
    solid, dropped = keep_components(mesh, 0.05, by="volume")
    assert dropped == 1 and len(solid.faces) == 3 * len(specks[0].faces)


def test_the_support_top_is_cut_from_the_background_and_the_rest_kept():
    """A table top (at z = 0, a rectangle of level faces), a wall standing on it and the
    floor beyond it: the top inside the support's rectangle goes (the support primitive
    stands for it), the wall, the floor and the top's faces outside the rectangle stay."""
    import trimesh

    from splat2sim.stages.mesh.background import without_support

    top = trimesh.creation.box(extents=[1.0, 1.0, 1e-3]).apply_translation([0, 0, 0.002])
    top.update_faces(top.face_normals[:, 2] > 0.9)  # the upward face only, 2 mm above the plane
    top = top.subdivide().subdivide().subdivide()  # 128 faces across the rectangle
    wall = trimesh.creation.box(extents=[0.02, 1.0, 0.5]).apply_translation([0.49, 0, 0.25])
    floor = trimesh.creation.box(extents=[3.0, 3.0, 1e-3]).apply_translation([0, 0, -0.75])
    # a sliver on the top: a steep triangle 4 mm high (a bump of the splat's table surface)
    sliver = trimesh.Trimesh([[0.1, 0.1, 0.001], [0.11, 0.1, 0.001], [0.1, 0.1, 0.005]], [[0, 1, 2]], process=False)
    mesh = trimesh.util.concatenate([top, wall, floor, sliver])
    plane = {"center": [0.0, 0.0, 0.0], "size": [1.0, 1.0], "source": "background"}
    out = without_support(mesh, plane, band=0.01)
    kept = _faces_as_points(out)
    assert not kept & _faces_as_points(top)
    assert not kept & _faces_as_points(sliver)
    assert _faces_as_points(floor) <= kept
    # the wall's bottom face lies at z = 0 inside the rectangle: level and at the top's height, so cut too
    wall_kept = _faces_as_points(wall) & kept
    assert len(wall_kept) == len(wall.faces) - 2
    # half the rectangle: the top's faces outside it stay
    half = without_support(mesh, {**plane, "size": [0.4, 1.0]}, band=0.01)
    assert _faces_as_points(top) & _faces_as_points(half) and len(half.faces) > len(out.faces)
    # a support size from the objects' footprint is a guess: nothing is cut then
    assert len(without_support(mesh, {**plane, "source": "object footprint"}, band=0.01).faces) == len(mesh.faces)
