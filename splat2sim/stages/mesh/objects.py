"""One object's visual mesh: render its Gaussians alone, fuse, carve, close at the support
plane, keep the main pieces, simplify and colour."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from splat2sim.stages.mesh import cleanup, solid
from splat2sim.stages.mesh.rendering import render_views
from splat2sim.stages.mesh.tsdf import Fusion
from splat2sim.stages.mesh.views import orbit_views


@dataclass
class ObjectMesh:
    mesh: object  # trimesh.Trimesh in the world frame
    method: str  # "tsdf" | "convex_hull" | "box"
    voxel: float | None = None
    views: int = 0
    notes: list[str] = field(default_factory=list)  # things that went less well (warnings)
    fallback: tuple[str, str, str] | None = None  # (what, used, why) when not fused
    timings: dict = field(default_factory=dict)


def robust_extent(points: np.ndarray, q: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box without the most extreme ``q`` % of points on each side (floaters)."""
    if len(points) < 50:
        return points.min(0), points.max(0)
    return np.percentile(points, q, axis=0), np.percentile(points, 100 - q, axis=0)


def mesh_object(gaussians, train_views, full_train, cfg, floor_z: float | None, backend: str) -> ObjectMesh:
    """``gaussians``: the object's Gaussians (torch); ``train_views``: ViewSet or None;
    ``full_train``: Renders of the whole splat at the training views (occlusion test)."""
    import time

    means = gaussians.means.numpy().astype(np.float64)
    if gaussians.num < cfg.min_gaussians:
        mesh, used = cleanup.hull_or_box(means, cfg.min_thickness) if gaussians.num else (None, None)
        if mesh is None:
            raise ValueError("the object has no Gaussians")
        return ObjectMesh(mesh, used, fallback=("TSDF fusion", used, f"only {gaussians.num} Gaussians (min_gaussians={cfg.min_gaussians})"))
    lo, hi = robust_extent(means)
    observed_low = float(lo[2])
    if floor_z is not None and lo[2] > floor_z:
        lo[2] = floor_z  # the object rests on floor_z: its volume reaches down to it
    diag = float(np.linalg.norm(hi - lo))
    if np.min(hi - lo) < cfg.min_thickness or diag < 4 * cfg.min_voxel:
        mesh, used = cleanup.hull_or_box(np.clip(means, lo, hi), cfg.min_thickness)
        return ObjectMesh(mesh, used, fallback=("TSDF fusion", used, f"the object is flat or tiny (extent {np.round(hi - lo, 4).tolist()} m)"))
    voxel = max(cfg.min_voxel, diag / cfg.voxels_per_diagonal)
    trunc = cfg.trunc_voxels * voxel
    timings: dict = {}
    t0 = time.perf_counter()
    view_sets, renders = [], []
    if cfg.extra_views > 0:
        centre, radius = (lo + hi) / 2, 0.5 * diag * 1.1
        orbit = orbit_views(centre, radius, cfg.extra_views, cfg.extra_view_size)
        view_sets.append(orbit)
        renders.append(render_views(gaussians, orbit, backend))
    train_depth = None
    if train_views is not None:
        rend = render_views(gaussians, train_views, backend)
        # keep what the view really observed: the object in front of everything else
        occluder = np.where(full_train.alpha > cfg.alpha_threshold, full_train.depth, np.inf)
        seen = (rend.alpha > cfg.alpha_threshold) & (rend.depth <= occluder + 2 * voxel)
        train_depth = np.where(seen, rend.depth, 0.0)
        view_sets.append(train_views)
        renders.append(rend)
    timings["render"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fusion = Fusion(voxel, trunc)
    for views, rend in zip(view_sets, renders):
        depth = train_depth if views is train_views else np.where(rend.alpha > cfg.alpha_threshold, rend.depth, 0.0)
        fusion.integrate(depth, rend.rgb, views)
    coloured = fusion.extract()
    timings["tsdf"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid = solid.lattice_grid(lo, hi, voxel, margin=2 * trunc + 2 * voxel)
    tsdf, observed = solid.tsdf_on_grid(fusion, grid)
    free = solid.carve(grid, view_sets, renders, cfg.alpha_threshold, trunc, cfg.carve_min_views)
    field = solid.signed_field(tsdf, observed, free, trunc, grid, floor_z)
    if floor_z is not None and observed_low > floor_z + voxel:
        field = solid.extrude_down(field, grid, observed_low + voxel, floor_z)
    timings["carve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh = solid.extract_level_set(field, grid, edge=cfg.level_set_edge * voxel)
    timings["level_set"] = time.perf_counter() - t0
    notes: list[str] = []
    if len(mesh.faces) == 0 or not cleanup.is_closed(mesh):
        used_mesh, used = cleanup.hull_or_box(np.clip(means, lo, hi), cfg.min_thickness)
        why = "the fused surface is empty" if len(mesh.faces) == 0 else "the fused surface is not closed"
        return ObjectMesh(used_mesh, used, voxel, sum(v.num for v in view_sets), fallback=("TSDF fusion", used, why), timings=timings)
    mesh, dropped = cleanup.keep_components(mesh, cfg.min_component_fraction)
    if dropped:
        notes.append(f"dropped {dropped} small disconnected piece(s)")
    t0 = time.perf_counter()
    mesh, note = cleanup.simplify(mesh, cfg.face_budget, tolerance=0.25 * voxel)
    if note:
        notes.append(note)
    cleanup.transfer_colours(mesh, coloured)
    timings["simplify_colour"] = time.perf_counter() - t0
    return ObjectMesh(mesh, "tsdf", voxel, sum(v.num for v in view_sets), notes, timings={k: round(v, 3) for k, v in timings.items()})
