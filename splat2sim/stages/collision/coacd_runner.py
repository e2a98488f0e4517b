"""One object's convex decomposition, run in a worker process: CoACD with settings scaled to
the object's size, vertex caps per hull, a bounds check, retries with other settings."""

from __future__ import annotations

import time

import numpy as np


def cap_vertices(points: np.ndarray, max_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Convex hull (vertices, outward faces) of ``points`` with at most ``max_vertices``
    vertices: extra hull vertices are dropped by farthest-point selection, so the capped
    hull is a subset of (inside) the original one."""
    import trimesh

    hull = trimesh.Trimesh(np.asarray(points, np.float64), process=False).convex_hull
    v = np.asarray(hull.vertices)
    if len(v) > max_vertices:
        chosen = [int(np.argmax(np.linalg.norm(v - v.mean(0), axis=1)))]
        dist = np.linalg.norm(v - v[chosen[0]], axis=1)
        while len(chosen) < max_vertices:
            nxt = int(np.argmax(dist))
            chosen.append(nxt)
            dist = np.minimum(dist, np.linalg.norm(v - v[nxt], axis=1))
        hull = trimesh.Trimesh(v[chosen], process=False).convex_hull
    return np.asarray(hull.vertices), np.asarray(hull.faces)


def threshold_for(diag: float, concavity: float, lo: float, hi: float) -> float:
    """CoACD's concavity threshold is relative to the (normalised) object: an absolute
    tolerance in metres becomes concavity / diagonal, clamped to [lo, hi]."""
    return float(np.clip(concavity / max(diag, 1e-9), lo, hi))


def attempts(settings: dict, retries: int) -> list[dict]:
    """The first settings, then alternatives: other pre-processing and a coarser threshold."""
    out = [dict(settings)]
    alt = dict(settings)
    alt["preprocess_mode"] = "on" if settings["preprocess_mode"] != "on" else "off"
    alt["threshold"] = min(1.0, settings["threshold"] * 2)
    alt["seed"] = settings["seed"] + 1
    out.append(alt)
    alt2 = dict(alt, preprocess_mode="on", preprocess_resolution=30, threshold=min(1.0, settings["threshold"] * 4), seed=settings["seed"] + 2)
    out.append(alt2)
    return out[: 1 + retries]


def _run_coacd(vertices, faces, s: dict, max_hulls: int, max_vertices: int):
    import coacd

    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64)),
        threshold=s["threshold"], max_convex_hull=max_hulls, preprocess_mode=s["preprocess_mode"],
        preprocess_resolution=s.get("preprocess_resolution", 50), resolution=s["resolution"],
        mcts_nodes=s["mcts_nodes"], mcts_iterations=s["mcts_iterations"], mcts_max_depth=s["mcts_depth"],
        decimate=True, max_ch_vertex=max_vertices, seed=s["seed"],
    )  # fmt: skip
    return [cap_vertices(np.asarray(v), max_vertices) for v, _f in parts if len(v) >= 4]


def check_hulls(hulls, lo: np.ndarray, hi: np.ndarray, tolerance: float, max_hulls: int, max_vertices: int) -> list[str]:
    """Problems of a decomposition (empty = fine)."""
    problems = []
    if not hulls:
        return ["no hulls"]
    if len(hulls) > max_hulls:
        problems.append(f"{len(hulls)} hulls > cap {max_hulls}")
    for i, (v, _f) in enumerate(hulls):
        if len(v) > max_vertices:
            problems.append(f"hull {i} has {len(v)} vertices > cap {max_vertices}")
        over = max(float(np.max(lo - v.min(0))), float(np.max(v.max(0) - hi)))
        if over > tolerance:
            problems.append(f"hull {i} leaves the visual bounds by {over * 1000:.1f} mm (tolerance {tolerance * 1000:.1f} mm)")
    return problems


def decompose(job: dict) -> dict:
    """Worker entry point (plain data in and out). job: id, vertices, faces, settings,
    retries, max_hulls, max_vertices, tolerance, proxy (None, or its voxels_per_diagonal
    and faces). Returns hulls [(vertices, faces)], method, settings used, attempts (with
    their problems), the proxy's info (or why there is none), seconds."""
    t0 = time.perf_counter()
    v, f = np.asarray(job["vertices"]), np.asarray(job["faces"])
    lo, hi = v.min(0), v.max(0)  # the bounds check is against the visual mesh, whatever CoACD cuts
    cut_v, cut_f, proxy_info = v, f, None
    if job.get("proxy"):
        from splat2sim.stages.collision.proxy import closed_proxy

        try:
            cut_v, cut_f, proxy_info = closed_proxy(v, f, job["proxy"]["voxels_per_diagonal"], job["proxy"]["faces"])
        except Exception as exc:  # recorded: the stage reports the fallback to the visual mesh
            proxy_info = {"problem": f"{type(exc).__name__}: {exc}"}
    tried = []
    for settings in attempts(job["settings"], job["retries"]):
        t1 = time.perf_counter()
        try:
            hulls = _run_coacd(cut_v, cut_f, settings, job["max_hulls"], job["max_vertices"])
            problems = check_hulls(hulls, lo, hi, job["tolerance"], job["max_hulls"], job["max_vertices"])
        except Exception as exc:  # CoACD raises RuntimeError on meshes it cannot cut
            hulls, problems = [], [f"CoACD failed: {exc}"]
        tried.append({"settings": settings, "problems": problems, "seconds": round(time.perf_counter() - t1, 3)})
        if not problems:
            return {"id": job["id"], "hulls": hulls, "method": "coacd", "settings": settings, "attempts": tried,
                    "proxy": proxy_info, "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
    hull = cap_vertices(v, job["max_vertices"])
    return {"id": job["id"], "hulls": [hull], "method": "convex_hull", "settings": None, "attempts": tried,
            "proxy": proxy_info, "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
