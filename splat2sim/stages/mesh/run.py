"""The mesh stage: per-object watertight visual meshes (object frame) with mass properties
for unit density, a background mesh and the support-plane primitive; writes mesh.json."""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from splat2sim.artifacts import mesh as mesh_artifacts
from splat2sim.artifacts import poses, segment, splat
from splat2sim.stages.base import StageContext


def support_height(objects: dict) -> tuple[float, list[str]]:
    """Height of the support plane n.x = offset, taken as horizontal (z = offset / n_z)."""
    plane = objects.get("support_plane") or {"normal": [0, 0, 1], "offset": 0.0}
    n = np.asarray(plane.get("normal", [0, 0, 1]), np.float64)
    n = n / np.linalg.norm(n)
    notes = []
    if n[2] < 0.99:
        notes.append(f"support plane normal {np.round(n, 3).tolist()} is not vertical; meshes are closed at a horizontal plane")
    return float(plane.get("offset", 0.0)) / max(n[2], 1e-6), notes


def run(ctx: StageContext) -> None:
    import torch

    from splat2sim.stages.mesh import background as B
    from splat2sim.stages.mesh import rendering as R
    from splat2sim.stages.mesh.objects import mesh_object
    from splat2sim.stages.mesh.support import level_and_flat
    from splat2sim.stages.mesh.tsdf import limit_threads
    from splat2sim.stages.mesh.views import training_views

    limit_threads()
    cfg = ctx.config
    torch.set_num_threads(max(1, min(torch.get_num_threads(), ctx.run_config.workers or torch.get_num_threads())))
    backend = ctx.render_backend(cfg.backend, "cpu")
    metric = ctx.metric_frame()  # everything below is in metres
    gaussians = R.load_gaussians(splat.GAUSSIANS.require(ctx.upstream_dir("splat")), metric)
    seg = metric.objects(ctx.read(segment.OBJECTS)).to_dict()
    labels = segment.read_labels(ctx.upstream_dir("segment"), gaussians.num).astype(np.int64)
    floor_z, notes = support_height(seg)
    for note in notes:
        ctx.warn(note)
    train = full = None
    if cfg.use_training_views:
        with ctx.timed("render_training_views"):
            train = training_views(metric.cameras(ctx.read(poses.CAMERAS).to_dict()), cfg.render_max_side)
            full = R.render_views(gaussians, train, backend)
    records = []
    all_lo, all_hi = [], []
    jobs = _object_jobs(ctx, R, gaussians, labels, seg, floor_z)

    def mesh_one(job):
        obj, sub, resting, others = job
        try:
            return mesh_object(sub, train, full, cfg, resting, backend, others)
        except ValueError as exc:
            return exc

    # the support as exported (the support layer under the objects): the background mesh leaves its top out
    background_means = gaussians.means.numpy()[labels < 0]
    # the support is what the objects stand on: one that does not rest on it (an invented
    # object on a wall, one on another object) does not stretch it
    resting = [sub.means.numpy()[:, :2] for _, sub, rest, _ in jobs if rest == floor_z]
    object_xy = np.concatenate(resting) if resting else gaussians.means.numpy()[labels >= 0, :2]
    level = level_and_flat(gaussians.log_scales.numpy()[labels < 0], gaussians.quats.numpy()[labels < 0])
    measured_plane = B.support_plane(background_means, floor_z, object_xy, [], [], level)
    # Objects (and the background) are independent: a thread pool sized to the cores
    # overlaps them (open3d, scipy, torch and numpy release the GIL in their heavy parts).
    # Results are taken in object order, so the files are the same with any pool size.
    workers = max(1, min(ctx.run_config.workers or os.cpu_count() or 1, len(jobs) + 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending_background = None
        if cfg.background:
            pending_background = pool.submit(_timed_background, B, ctx.out_dir, gaussians, labels < 0, train, cfg, backend, measured_plane)
        futures = [pool.submit(mesh_one, job) for job in jobs]
        with ctx.progress("Meshing objects", total=len(jobs)) as task:
            for (obj, sub, _resting, _others), future in zip(jobs, futures):
                oid, result = obj["id"], future.result()
                task.advance()
                if isinstance(result, ValueError):
                    ctx.warn(f"{oid}: no mesh ({result}); the object is left out")
                    continue
                if result.fallback:
                    ctx.fallback(f"{oid} mesh: " + result.fallback[0], result.fallback[1], result.fallback[2])
                for note in result.notes:
                    ctx.warn(f"{oid}: {note}")
                lo, hi = result.mesh.bounds
                all_lo.append(lo), all_hi.append(hi)
                records.append(_write_object(ctx, obj, result, int(sub.num)))
        background = None
        if pending_background is not None:
            background, seconds, notes = pending_background.result()
            ctx.timings["background"] = seconds
            for note in notes:
                ctx.warn(note)
    ctx.metrics["workers"] = workers
    if measured_plane["source"] != "background":  # the objects' footprint, now that they have meshes
        measured_plane = B.support_plane(background_means, floor_z, object_xy, all_lo, all_hi, level)
        ctx.warn(f"support plane size from {measured_plane['source']} (too few background Gaussians on the plane)")
    _write_index(ctx, measured_plane, floor_z, records, background)


def _write_index(ctx: StageContext, plane: dict, floor_z: float, records: list[dict], background) -> None:
    """mesh.json, the stage's metrics and its summary."""
    mesh_artifacts.MESH.write(ctx.out_dir, mesh_artifacts.MeshIndex(
        support_plane={"normal": [0.0, 0.0, 1.0], "offset": floor_z, "size": plane["size"], "center": plane["center"], "yaw": plane["yaw"]},
        objects=records, background=background))  # fmt: skip
    closed = sum(r["watertight"] for r in records)
    ctx.metrics.update({"objects": len(records), "watertight": closed, "faces": sum(r["faces"] for r in records)})
    ctx.summary += [("objects meshed", f"{len(records)} ({closed} watertight)")]
    ctx.summary += [("support", f"{plane['size'][0]:.2f} x {plane['size'][1]:.2f} m, yaw {math.degrees(plane['yaw']):.0f} deg ({plane['source']})")]
    ctx.summary += [(r["id"], f"{r['faces']} faces, {r['volume'] * 1e6:.0f} cm^3, {r['method']}") for r in records]


def _object_jobs(ctx, R, gaussians, labels, seg, floor_z) -> list[tuple]:
    """Per object: (its record, its Gaussians, resting height, the other objects' Gaussians
    seen from above)."""
    jobs = []
    for obj in seg.get("objects", []):
        index = int(obj["index"])
        sub = R.subset(gaussians, labels == index)
        resting = _resting_height(ctx, obj["id"], sub.means.numpy(), floor_z, seg)
        jobs.append((obj, sub, resting, gaussians.means.numpy()[(labels >= 0) & (labels != index), :2]))
    return jobs


def _timed_background(B, out_dir, gaussians, mask, train, cfg, backend, plane):
    """The background mesh (run in a pool thread): its mesh.json entry, seconds, warnings."""
    t0 = time.perf_counter()
    entry, notes = B.mesh_background(out_dir, gaussians, mask, train, cfg, backend, plane)
    return entry, round(time.perf_counter() - t0, 4), notes


def _resting_height(ctx: StageContext, oid: str, means: np.ndarray, floor_z: float, seg: dict) -> float:
    """Where the object's unseen bottom is closed: the support, unless its lowest Gaussians
    stand clearly above it (an object on another object)."""
    if not len(means):
        return floor_z
    low = float(np.percentile(means[:, 2], 0.5)) if len(means) >= 50 else float(means[:, 2].min())
    height = float(np.ptp(means[:, 2])) if len(means) > 1 else 0.0
    # within the support layer an object's Gaussians cannot be told from the
    # support's: an object whose lowest Gaussian is there rests on the support
    layer = float((seg.get("support_plane") or {}).get("height_margin", 0.0))
    if low - floor_z > max(0.1 * height, 0.01, layer):
        ctx.warn(f"{oid}: its lowest point is {low - floor_z:.3f} m above the support plane; its unseen bottom is closed flat there")
        return low
    return floor_z


def _write_object(ctx: StageContext, obj: dict, result, gaussians: int) -> dict:
    """The object's mesh moved into its object frame and written; its mesh.json record."""
    from splat2sim.geometry.inertia import robust_mass_properties
    from splat2sim.names import sanitize

    oid, mesh = obj["id"], result.mesh
    lo, hi = mesh.bounds
    origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    mesh.apply_translation(-origin)
    props, method, mass_notes = robust_mass_properties(mesh.vertices, mesh.faces, 1.0, ctx.config.min_thickness)
    for note in mass_notes:
        ctx.warn(f"{oid}: {note}")
    folder = ctx.out_dir / "objects" / oid
    folder.mkdir(parents=True)
    mesh.export(folder / "visual.obj", include_normals=False)
    pose = np.eye(4)
    pose[:3, 3] = origin
    return {
        "id": oid, "label": obj.get("label", oid), "name": sanitize(obj.get("label", oid)),
        "visual": f"objects/{oid}/visual.obj",
        "world_from_object": pose.tolist(),
        "watertight": bool(mesh.is_watertight and mesh.is_winding_consistent),
        "volume": float(props.volume), "area": float(mesh.area),
        "vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces)),
        "bounds": [mesh.bounds[0].tolist(), mesh.bounds[1].tolist()],
        "center_of_mass": props.center_of_mass.tolist(),
        "inertia_unit_density": props.inertia.tolist(),
        "mass_properties_from": method,
        "method": result.method, "voxel": result.voxel, "views": result.views,
        "gaussians": gaussians, "timings": result.timings,
    }  # fmt: skip
