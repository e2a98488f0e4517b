"""The background mesh (TSDF of the background Gaussians at the training views) and the
support-plane primitive."""

from __future__ import annotations

import numpy as np


def mesh_background(out_dir, gaussians, mask: np.ndarray, train, cfg, backend: str,
                    plane: dict | None = None) -> tuple[dict | None, list[str]]:  # fmt: skip
    """Writes background/visual.obj (world frame) under ``out_dir``; returns its mesh.json
    entry (None when there is none) and warnings. Touches no stage context, so it can run
    in a pool thread beside the objects. ``plane``: the support (``support_plane``); its top,
    which the exported support primitive stands for, is cut out (see ``without_support``)."""
    from splat2sim.stages.mesh import cleanup
    from splat2sim.stages.mesh.rendering import render_views, subset
    from splat2sim.stages.mesh.tsdf import Fusion

    if train is None or mask.sum() < 10:
        return None, ["no background mesh (no training views or too few background Gaussians)"]
    sub = subset(gaussians, mask)
    means = sub.means.numpy()
    lo, hi = np.percentile(means, 1, axis=0), np.percentile(means, 99, axis=0)
    extent = float(np.linalg.norm(hi - lo))
    voxel = cfg.background_voxel or max(extent / 256, cfg.min_voxel)
    rend = render_views(sub, train, backend)
    depth = np.where(rend.alpha > cfg.alpha_threshold, rend.depth, 0.0)
    fusion = Fusion(voxel, 3 * voxel)
    fusion.integrate(depth, rend.rgb, train)
    mesh = fusion.extract()
    if len(mesh.faces) == 0:
        return None, ["the background mesh is empty"]
    coloured = mesh.copy()
    if plane is not None:
        mesh = without_support(mesh, plane, max(2 * voxel, 0.01))
        if len(mesh.faces) == 0:
            return None, ["the background mesh is empty (nothing but the support's top)"]
    mesh, _ = cleanup.keep_components(mesh, cfg.min_component_fraction, by="area")
    if len(mesh.faces) > cfg.background_face_budget:
        import open3d as o3d
        import trimesh

        o3 = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces))
        o3 = o3.simplify_quadric_decimation(int(cfg.background_face_budget))
        mesh = trimesh.Trimesh(np.asarray(o3.vertices), np.asarray(o3.triangles), process=False)
        mesh.remove_unreferenced_vertices()
    cleanup.transfer_colours(mesh, coloured)
    folder = out_dir / "background"
    folder.mkdir()
    mesh.export(folder / "visual.obj", include_normals=False)
    entry = {"visual": "background/visual.obj", "faces": int(len(mesh.faces)), "vertices": int(len(mesh.vertices)),
            "voxel": voxel, "bounds": [mesh.bounds[0].tolist(), mesh.bounds[1].tolist()]}  # fmt: skip
    return entry, []


def without_support(mesh, plane: dict, band: float):
    """``mesh`` without the faces of the support's top, inside its rectangle: level ones
    (normal within 45 degrees of vertical) centred within ``band`` of its height, and any
    face lying wholly within that slab (the top's bumps: tilted slivers a few mm high,
    which poked through the primitive in every render). The support primitive (a box in
    every export) stands for them; drawn twice at one height they flicker (z-fighting)."""
    if plane["source"] != "background":
        return mesh
    from splat2sim.geometry.rectangle import inside as on_rectangle

    centre = mesh.triangles_center
    inside = on_rectangle(plane, centre[:, :2])
    level = np.abs(mesh.face_normals[:, 2]) > np.sqrt(0.5)
    height = plane["center"][2]
    in_slab = np.all(np.abs(mesh.triangles[:, :, 2] - height) < band, axis=1)
    top = inside & ((level & (np.abs(centre[:, 2] - height) < band)) | in_slab)
    if not top.any():
        return mesh
    out = mesh.copy()
    out.update_faces(~top)
    out.remove_unreferenced_vertices()
    return out


def support_plane(background_means: np.ndarray, floor_z: float, object_xy: np.ndarray, obj_lo: list, obj_hi: list, level=None) -> dict:
    """Centre, size and yaw of the support surface: the rectangle of the support layer's
    region under the objects (splat2sim.stages.mesh.support; ``level``: its Gaussians that
    face up); without enough Gaussians there, the objects' footprint (``obj_lo``/``obj_hi``:
    mesh bounds) grown by half."""
    from splat2sim.stages.mesh.support import support_rectangle

    rect = support_rectangle(background_means, floor_z, object_xy, level=level)
    if rect is not None:
        return {**rect, "source": "background"}
    if obj_lo:
        lo, hi = np.min(obj_lo, axis=0)[:2], np.max(obj_hi, axis=0)[:2]
        size = np.maximum((hi - lo) * 1.5, 0.2)
        c = (lo + hi) / 2
        return {"center": [float(c[0]), float(c[1]), floor_z], "size": size.tolist(), "yaw": 0.0, "source": "object footprint"}
    return {"center": [0.0, 0.0, floor_z], "size": [1.0, 1.0], "yaw": 0.0, "source": "default (no geometry)"}
