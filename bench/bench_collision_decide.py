"""The collision stage's per-object decision against CoACD on everything, on reconstructed
meshes: the benchmark captures of bench_objects.py (their mesh stage already run), the
collision stage run twice on copies of each workspace, ``collision.decompose=always`` and
``auto``, then scored against the ground truth (splat2sim.synth.evaluate).

Per object: the decision and its measurement (hull-to-surface distance), seconds, hull
count, hull volume / mesh volume, how far the hulls leave the visual mesh's bounds, and
the share of the true solid the hulls cover. Written into bench/results/collision.json
under ``per_object_decision`` (the rest of that file is bench_collision.py's).

    .venv/bin/python bench/bench_collision_decide.py --seeds 100-107 --from workspaces/bench_objects
    .venv/bin/python bench/bench_collision_decide.py --seeds 103,105,200 \
        --arms "before: raw mesh=collision.proxy_voxels=0" "after: proxy=collision.proxy_voxels=64"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_objects as B  # noqa: E402


def bounds_excess(ws: Path, record: dict, mesh_record: dict) -> float:
    """Metres by which the object's hulls leave its visual mesh's bounding box (0 = inside)."""
    import trimesh

    lo, hi = (np.asarray(b) for b in mesh_record["bounds"])
    worst = 0.0
    for h in record["hulls"]:
        v = trimesh.load(ws / "collision" / h["file"], process=False, force="mesh").vertices
        worst = max(worst, float(np.max(lo - v.min(0))), float(np.max(v.max(0) - hi)))
    return worst


def run_mode(seed: int, source: Path, work: Path, mode: str, overrides: list[str]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    cap = work / f"capture_{seed}"
    if not cap.exists():
        cap.symlink_to((source / f"capture_{seed}").resolve())
    ws = work / f"ws_{seed}"
    if not ws.exists():  # an existing copy is reused: its collision stage re-runs only if stale
        shutil.copytree(source / f"ws_{seed}", ws, ignore=shutil.ignore_patterns("collision", "physics", "export", "check", "variants", "report"))
    B.OVERRIDES = [*BASE_OVERRIDES, *overrides]
    load = os.getloadavg()
    t0 = time.perf_counter()
    row = B.run_scene(seed, work, "collision", [], hard=seed >= 200)
    if "error" in row:
        return {**row, "mode": mode}
    ran_mesh = json.loads((ws / "mesh" / "_stage.json").read_text())["timings"]["seconds"]
    collision = json.loads((ws / "collision" / "collision.json").read_text())
    meshes = {m["id"]: m for m in json.loads((ws / "mesh" / "mesh.json").read_text())["objects"]}
    truth_of = {o.get("object"): o for o in row["objects"] if o["found"]}
    objects = []
    for rec in collision["objects"]:
        truth = truth_of.get(rec["id"], {})
        objects.append({
            "object": rec["id"], "kind": truth.get("kind"), "method": rec["method"], "why": rec["decision"]["why"],
            "hull_to_surface_p95_mm": round(1000 * rec["decision"]["hull_to_surface_p95"], 1),
            "seconds": rec["seconds"], "hulls": rec["hull_count"],
            "hull_to_mesh_volume": None if rec["hull_to_mesh_volume"] is None else round(rec["hull_to_mesh_volume"], 3),
            "bounds_excess_mm": round(1000 * bounds_excess(ws, rec, meshes[rec["id"]]), 1),
            "true_solid_covered": truth.get("hull_coverage"),
            "proxy": rec.get("proxy"),
        })  # fmt: skip
    return {"seed": seed, "mode": mode, "collision_stage_seconds": row["stage_seconds"].get("collision"),
            "wall_seconds": round(time.perf_counter() - t0, 1), "mesh_stage_seconds_if_rerun": ran_mesh,
            "load_average_before": load, "load_average_after": os.getloadavg(), "objects": objects}  # fmt: skip


BASE_OVERRIDES = list(B.OVERRIDES)


def summarise(rows: list[dict], modes: list[str]) -> dict:
    out = {}
    for mode in modes:
        mine = [r for r in rows if r.get("mode") == mode and "error" not in r]
        objs = [o for r in mine for o in r["objects"]]
        cov = [o["true_solid_covered"] for o in objs if o["true_solid_covered"] is not None]
        out[mode] = {
            "scenes": len(mine),
            "objects": len(objs),
            "collision_seconds_total": round(sum(r["collision_stage_seconds"] or 0 for r in mine), 1),
            "methods": {m: sum(o["method"] == m for o in objs) for m in ("coacd", "hull", "convex_hull")},
            "hulls_median": float(np.median([o["hulls"] for o in objs])) if objs else None,
            "hull_to_mesh_volume_median": float(np.median([o["hull_to_mesh_volume"] for o in objs if o["hull_to_mesh_volume"]])) if objs else None,
            "bounds_excess_mm_max": max((o["bounds_excess_mm"] for o in objs), default=None),
            "true_solid_covered_median": float(np.median(cov)) if cov else None,
            "true_solid_covered_min": float(np.min(cov)) if cov else None,
        }
    return out


def write(args, rows: list[dict]) -> dict:
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    section = doc.setdefault("per_object_decision", {})
    section[args.label] = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {"preset": "cpu", "overrides": BASE_OVERRIDES, "seeds": args.seeds},
        "arms": dict(args.arms),
        "summary": summarise(rows, [name for name, _ in args.arms]),
        "scenes": rows,
    }
    args.out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="100-107")
    parser.add_argument(
        "--from", dest="source", type=Path, default=REPO / "workspaces" / "bench_objects", help="bench_objects workspaces (mesh stage done)"
    )
    parser.add_argument("--work", type=Path, default=REPO / "workspaces" / "bench_collision_decide")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "collision.json")
    parser.add_argument("--from-hard", dest="source_hard", type=Path, default=REPO / "workspaces" / "bench_hard",
                        help="bench_objects --hard workspaces, for seeds 200 and up")  # fmt: skip
    parser.add_argument("--label", default="current")
    parser.add_argument(
        "--arms", nargs="+", default=["always=collision.decompose=always", "auto=collision.decompose=auto"],
        help="NAME=override[,override...] per arm, run in this order on each seed",
    )  # fmt: skip
    args = parser.parse_args()
    args.arms = [(a.split("=", 1)[0], a.split("=", 1)[1].split(",")) for a in args.arms if "=" in a]
    for name, overrides in args.arms:
        if not all("." in o.split("=", 1)[0] and "=" in o for o in overrides):
            parser.error(f"arm {name!r}: overrides must be section.key=value (and a name without '=')")
    rows = []
    for seed in B.parse_seeds(args.seeds):
        for mode, overrides in args.arms:
            source = args.source_hard if seed >= 200 else args.source
            folder = "".join(c if c.isalnum() or c in "-_" else "_" for c in mode)
            rows.append(run_mode(seed, source, args.work / folder, mode, overrides))
            print(json.dumps({k: rows[-1].get(k) for k in ("seed", "mode", "collision_stage_seconds", "error")}), flush=True)
            section = write(args, rows)  # after every run: a stopped benchmark keeps what it measured
    print(json.dumps(section[args.label]["summary"], indent=1))


if __name__ == "__main__":
    main()
