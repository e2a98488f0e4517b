"""The collision stage: per object, its convex hull when that is already close to the
surface (``decide``), else CoACD, in a process pool; hull files in the object frame and
collision.json."""

from __future__ import annotations

import os
import time

import numpy as np

from splat2sim.artifacts import collision as collision_artifacts
from splat2sim.artifacts import mesh as mesh_artifacts
from splat2sim.errors import InputError
from splat2sim.stages.base import StageContext
from splat2sim.stages.collision import decide
from splat2sim.stages.collision.coacd_runner import cap_vertices, decompose, threshold_for
from splat2sim.stages.collision.presets import limits

#: CoACD's threshold is at least this many proxy voxels over the object's diagonal.
PROXY_RESOLVES_VOXELS = 2.0


def load_mesh(path):
    import trimesh

    if not path.is_file():
        raise InputError(f"{path} is missing", hint="re-run the mesh stage (`splat2sim build --force mesh`)")
    return trimesh.load(path, process=False, force="mesh")


def make_job(oid: str, vertices: np.ndarray, faces: np.ndarray, cfg, seed: int) -> dict:
    max_hulls, max_vertices = limits(cfg)
    diag = float(np.linalg.norm(np.ptp(vertices, axis=0)))
    lowest = cfg.min_threshold
    if cfg.proxy_voxels:
        # the proxy does not resolve a concavity under about two of its voxels: a lower
        # threshold has CoACD chase the surface's bumps (same hulls, half the time again)
        lowest = min(cfg.max_threshold, max(lowest, PROXY_RESOLVES_VOXELS / cfg.proxy_voxels))
    settings = {
        "threshold": threshold_for(diag, cfg.concavity, lowest, cfg.max_threshold),
        "preprocess_mode": cfg.preprocess_mode, "resolution": cfg.resolution,
        "mcts_iterations": cfg.mcts_iterations, "mcts_depth": cfg.mcts_depth, "mcts_nodes": cfg.mcts_nodes, "seed": seed,
    }  # fmt: skip
    return {"id": oid, "vertices": np.asarray(vertices, np.float64), "faces": np.asarray(faces, np.int64),
            "settings": settings, "retries": cfg.retries, "max_hulls": max_hulls, "max_vertices": max_vertices,
            "tolerance": cfg.bounds_tolerance * diag + 0.001,
            "proxy": {"voxels_per_diagonal": cfg.proxy_voxels, "faces": cfg.proxy_faces} if cfg.proxy_voxels else None}  # fmt: skip


def run_jobs(jobs: list[dict], workers: int, progress=None) -> dict[str, dict]:
    """Decompose every job, in parallel across objects (a spawned process pool: CoACD and
    OpenMP runtimes do not survive fork reliably)."""
    results = {}
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            results[job["id"]] = decompose(job)
            if progress is not None:
                progress.advance()
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # largest first, so the longest job does not start last
    order = sorted(jobs, key=lambda j: -len(j["faces"]))
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(decompose, job): job["id"] for job in order}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if progress is not None:
                progress.advance()
    return results


def _round(value):
    return round(value, 5) if isinstance(value, float) else value


def hull_volume(v: np.ndarray, f: np.ndarray) -> float:
    from splat2sim.geometry.inertia import mass_properties

    try:
        return abs(mass_properties(v, f).volume)
    except ValueError:
        return 0.0


def run(ctx: StageContext) -> None:
    import trimesh

    cfg = ctx.config
    mesh_dir = ctx.upstream_dir("mesh")
    meshes = ctx.read(mesh_artifacts.MESH)
    jobs, mesh_volume, decisions, results = [], {}, {}, {}
    _, max_vertices = limits(cfg)
    with ctx.timed("decide"):
        for obj in meshes.objects:
            mesh = load_mesh(mesh_dir / obj["visual"])
            mesh_volume[obj["id"]] = float(obj.get("volume") or 0.0)
            concavity = decide.measure(mesh.vertices, mesh.faces, seed=ctx.run_config.seed)
            tol = decide.tolerance(concavity, cfg.convex_tolerance, cfg.convex_tolerance_share, cfg.convex_tolerance_max)
            method, why = decide.choose(concavity, cfg.decompose, tol)
            decisions[obj["id"]] = {"method": method, "why": why, **{k: _round(v) for k, v in concavity.items()}}
            if method == "coacd":
                jobs.append(make_job(obj["id"], mesh.vertices, mesh.faces, cfg, ctx.run_config.seed))
            else:
                t0 = time.perf_counter()
                hull = cap_vertices(mesh.vertices, max_vertices)
                results[obj["id"]] = {"id": obj["id"], "hulls": [hull], "method": "hull", "settings": None, "attempts": [],
                                      "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
    workers = ctx.run_config.workers or os.cpu_count() or 1
    ctx.backend = f"coacd ({min(workers, max(1, len(jobs)))} worker(s))" if jobs else "convex hulls (no object needed CoACD)"
    with ctx.timed("decompose"), ctx.progress("Convex decomposition", total=len(jobs)) as task:
        results.update(run_jobs(jobs, workers, task))
    records = []
    for obj in meshes.objects:
        oid = obj["id"]
        res = results[oid]
        folder = ctx.out_dir / "objects" / oid
        folder.mkdir(parents=True)
        hulls, total = [], 0.0
        for i, (v, f) in enumerate(res["hulls"]):
            name = f"objects/{oid}/hull_{i:03d}.obj"
            trimesh.Trimesh(v, f, process=False).export(ctx.out_dir / name, include_normals=False)
            vol = hull_volume(v, f)
            total += vol
            hulls.append({"file": name, "vertices": int(len(v)), "faces": int(len(f)), "volume": vol})
        warnings = []
        proxy = res.get("proxy")
        if proxy and "problem" in proxy:
            ctx.fallback(f"{oid} collision proxy", "CoACD on the visual mesh as it is", proxy["problem"])
            warnings.append(f"no proxy: {proxy['problem']}")
        if res["method"] == "convex_hull":  # CoACD was needed and failed
            why = "; ".join(p for a in res["attempts"] for p in a["problems"]) or "no attempt"
            ctx.fallback(f"{oid} convex decomposition", "a single convex hull", why)
            warnings.append(f"single convex hull: {why}")
        elif len(res["attempts"]) > 1:
            first = "; ".join(res["attempts"][0]["problems"])
            ctx.warn(f"{oid}: the first decomposition failed ({first}); retried with other settings")
            warnings.append(f"retried: {first}")
        mv = mesh_volume.get(oid) or 0.0
        records.append({
            "id": oid, "hulls": hulls, "hull_count": len(hulls), "hull_volume": total, "mesh_volume": mv,
            "hull_to_mesh_volume": (total / mv) if mv > 0 else None, "method": res["method"], "decision": decisions[oid],
            "settings": res["settings"], "proxy": proxy, "attempts": res["attempts"], "seconds": res["seconds"], "warnings": warnings,
        })  # fmt: skip
    max_hulls, max_vertices = limits(cfg)
    collision_artifacts.COLLISION.write(ctx.out_dir, collision_artifacts.Collision(
        objects=records, preset=cfg.preset, extra={"limits": {"max_hulls": max_hulls, "max_vertices": max_vertices}}))  # fmt: skip
    ctx.metrics.update({
        "objects": len(records), "hulls": sum(r["hull_count"] for r in records),
        "fallbacks": sum(r["method"] == "convex_hull" for r in records),
        "decomposed": sum(r["method"] == "coacd" for r in records),
        "hull_only": sum(r["method"] == "hull" for r in records),
    })  # fmt: skip
    ctx.summary += [
        (r["id"], f"{r['hull_count']} hulls ({r['method']}), volume x{(r['hull_to_mesh_volume'] or 0):.2f}, {r['seconds']:.1f} s") for r in records
    ]
