"""One object's visual mesh: render its Gaussians alone, fuse, carve, close at the support
plane, keep the main pieces, simplify and colour."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from splat2sim.geometry.transforms import surface_points
from splat2sim.stages.mesh import cleanup, solid
from splat2sim.stages.mesh.rendering import Renders, render_views
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


def mesh_object(gaussians, train_views, full_train, cfg, floor_z: float | None, backend: str,
                others_xy: np.ndarray | None = None) -> ObjectMesh:  # fmt: skip
    """``gaussians``: the object's Gaussians (torch); ``train_views``: ViewSet or None;
    ``full_train``: Renders of the whole splat at the training views (with median depth);
    ``others_xy`` [M,2]: the other objects' Gaussians seen from above (where this object's
    footprint ends, for ``cfg.carve_with == "scene"``)."""
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
    notes: list[str] = []  # things that went less well (warnings)
    grid = solid.lattice_grid(lo, hi, voxel, margin=2 * trunc + 2 * voxel)
    if cfg.carve_with == "scene" and train_views is not None and full_train.median_depth is not None:
        tsdf, observed, free, coloured, views = _solid_from_scene(gaussians, others_xy, train_views, full_train, grid, trunc, cfg, timings, floor_z)
    else:
        if cfg.carve_with == "scene":  # said, never silent: the scene's renders are the training views'
            notes.append("carve_with=scene needs the training views (mesh.use_training_views): carved with the object's own renders")
        orbit = orbit_views((lo + hi) / 2, 0.5 * diag * 1.1, cfg.extra_views, cfg.extra_view_size) if cfg.extra_views > 0 else None
        tsdf, observed, free, coloured, views = _solid_from_object(gaussians, train_views, full_train, orbit, grid, trunc, cfg, backend, timings)
    t0 = time.perf_counter()
    field = solid.signed_field(tsdf, observed, free, trunc, grid, floor_z)
    if floor_z is not None and observed_low > floor_z + voxel:
        field = solid.extrude_down(field, grid, observed_low + voxel, floor_z)
    timings["field"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh = solid.extract_level_set(field, grid, edge=cfg.level_set_edge * voxel)
    timings["level_set"] = time.perf_counter() - t0
    if len(mesh.faces) == 0 or not cleanup.is_closed(mesh):
        used_mesh, used = cleanup.hull_or_box(np.clip(means, lo, hi), cfg.min_thickness)
        why = "the fused surface is empty" if len(mesh.faces) == 0 else "the fused surface is not closed"
        return ObjectMesh(used_mesh, used, voxel, views, fallback=("TSDF fusion", used, why), timings=timings)
    mesh, dropped = cleanup.keep_components(mesh, cfg.min_component_fraction)
    if dropped:
        notes.append(f"dropped {dropped} small disconnected piece(s)")
    t0 = time.perf_counter()
    mesh, note = cleanup.simplify(mesh, cfg.face_budget, tolerance=0.25 * voxel)
    if note:
        notes.append(note)
    cleanup.transfer_colours(mesh, coloured)
    timings["simplify_colour"] = time.perf_counter() - t0
    return ObjectMesh(mesh, "tsdf", voxel, views, notes, timings={k: round(v, 3) for k, v in timings.items()})


def footprint_points(means: np.ndarray, floor_z: float | None, above: float) -> np.ndarray:
    """[K,2]: the xy of the Gaussians (``means`` [N,3]) that give the object's footprint, those
    above ``above`` of its height over ``floor_z``. The lowest ones are mostly the support's
    colour smeared around the base (and segmentation gives some of the support to the
    object): from above they spread a skirt several cm wide on the side no camera saw,
    e.g. a 7 cm ball came out 14 cm long. All of them when too few are that high."""
    z = means[:, 2]
    base = float(floor_z) if floor_z is not None else float(np.percentile(z, 2))
    cut = base + above * (float(np.percentile(z, 98)) - base)
    upper = z > cut
    if above <= 0 or upper.sum() < max(20, len(z) // 5):
        return means[:, :2]
    return means[upper, :2]


def _solid_from_scene(gaussians, others_xy, train_views, full_train, grid, trunc, cfg, timings, floor_z=None):
    """The solid is what the whole splat never shows empty from the training views, inside
    the object's footprint: their renders of the whole splat, fused (TSDF: the surface where
    it was seen) and carved (free where a view sees past a voxel).

    The object's own Gaussians alone would carve through every Gaussian the segmentation gave
    to the background, and their blended (expected) depth reaches past the object at every
    silhouette, eroding it; the median depth is where a view turns opaque. Virtual views
    around the object are not used: a splat fitted to the training views is see-through from
    where no camera was (seen from above, a can's top let the table show through and carved
    the can: 3D IoU 0.43 with them, 0.60 without, bench seed 100; carving only where they
    look at a surface the training views fused cost 2.5x the time for no gain). A cavity no
    training view sees into (a deep mug's) stays filled. Measured on bench_objects:
    mesh volume / true volume 0.39-0.81 from the object's own renders (seed 100), about 1 from
    the scene's (bench/results/objects.json)."""
    timings["render"] = 0.0  # the training views' renders of the whole splat are shared
    view_sets, renders = [train_views], [Renders(full_train.rgb, full_train.alpha, full_train.median_depth)]
    box = (grid.origin, grid.origin + grid.voxel * (np.asarray(grid.shape) - 1))
    seen = np.where(full_train.alpha > cfg.alpha_threshold, full_train.median_depth, 0.0)
    # only the surfaces near the object are fused: the rest of the scene would fill the volume
    depth = np.where(_inside_box(train_views, seen, *box), seen, 0.0)
    tsdf, observed, free, coloured = _fuse_and_carve(view_sets, renders, [depth], grid, trunc, cfg, timings)
    t0 = time.perf_counter()
    means = gaussians.means.numpy().astype(np.float64)
    radius = max(3 * grid.voxel, float(np.median(np.exp(gaussians.log_scales.numpy()).max(1))))
    outside = ~solid.footprint(grid, footprint_points(means, floor_z, cfg.footprint_above), others_xy, radius)[:, :, None]
    # a neighbour's surface is observed too: outside the footprint nothing is this object's
    observed &= ~outside
    free |= outside
    timings["carve"] += time.perf_counter() - t0
    return tsdf, observed, free, coloured, sum(v.num for v in view_sets)


def _inside_box(views, depth: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[C,H,W] bool: pixels whose depth (camera z) back-projects into the box [lo, hi]."""
    out = np.zeros(depth.shape, bool)
    for c, (pose, k) in enumerate(zip(views.world_from_camera, views.intrinsics)):
        world = surface_points(depth[c], pose, k)
        out[c] = (depth[c] > 0) & np.all((world >= lo) & (world <= hi), axis=-1)
    return out


def _solid_from_object(gaussians, train_views, full_train, orbit, grid, trunc, cfg, backend, timings):
    """The object's Gaussians alone, rendered and fused (TSDF), carved by their own renders:
    exact where the splat and the segmentation are (an oracle splat), eroded where not."""
    t0 = time.perf_counter()
    view_sets, renders = [], []
    if orbit is not None:
        view_sets.append(orbit)
        renders.append(render_views(gaussians, orbit, backend))
    train_depth = None
    if train_views is not None:
        rend = render_views(gaussians, train_views, backend)
        # keep what the view really observed: the object in front of everything else
        occluder = np.where(full_train.alpha > cfg.alpha_threshold, full_train.depth, np.inf)
        seen = (rend.alpha > cfg.alpha_threshold) & (rend.depth <= occluder + 2 * grid.voxel)
        train_depth = np.where(seen, rend.depth, 0.0)
        view_sets.append(train_views)
        renders.append(rend)
    timings["render"] = time.perf_counter() - t0
    depths = [train_depth if views is train_views else np.where(rend.alpha > cfg.alpha_threshold, rend.depth, 0.0)
              for views, rend in zip(view_sets, renders)]  # fmt: skip
    tsdf, observed, free, coloured = _fuse_and_carve(view_sets, renders, depths, grid, trunc, cfg, timings)
    return tsdf, observed, free, coloured, sum(v.num for v in view_sets)


def _fuse_and_carve(view_sets, renders, depths, grid, trunc, cfg, timings):
    """(TSDF values, observed mask, free mask [X,Y,Z], coloured surface): ``depths`` (one
    [C,H,W] per view set, 0 = no measurement) fused, and the voxels the renders show empty."""
    t0 = time.perf_counter()
    fusion = Fusion(grid.voxel, trunc)
    for views, rend, depth in zip(view_sets, renders, depths):
        fusion.integrate(depth, rend.rgb, views)
    coloured = fusion.extract()
    timings["tsdf"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tsdf, observed = solid.tsdf_on_grid(fusion, grid)
    free = solid.carve(grid, view_sets, renders, cfg.alpha_threshold, trunc, cfg.carve_min_views)
    timings["carve"] = time.perf_counter() - t0
    return tsdf, observed, free, coloured
