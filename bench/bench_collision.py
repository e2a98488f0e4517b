"""Benchmark of the collision decomposition on meshes from files: procedural mug and bowl
(splat2sim.synth.meshes) and the YCB objects in ../shared/data/ycb when present, for each
preset: hull count, vertices, hull volume / mesh volume, whether a mug's cavity stays open,
seconds per object. Writes bench/results/collision.json.

    python bench/bench_collision.py [--presets mujoco physx bullet] [--no-ycb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    import trimesh

    from splat2sim.stages.collision.coacd_runner import decompose
    from splat2sim.stages.collision.config import CollisionConfig
    from splat2sim.stages.collision.run import make_job
    from splat2sim.synth.meshes import make_object

    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["mujoco", "physx", "bullet"])
    parser.add_argument("--no-ycb", action="store_true")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "collision.json"))
    args = parser.parse_args()
    meshes = {}
    for kind in ("mug", "bowl"):
        mesh, dims, _ = make_object(kind, np.random.default_rng(1))
        meshes[f"procedural_{kind}"] = (mesh.vertices, mesh.faces, np.array([0.0, 0.0, 0.6 * dims["height"]]))
    ycb = REPO.parent / "shared" / "data" / "ycb"
    if ycb.is_dir() and not args.no_ycb:
        for name in ("mug", "bowl", "tomato_soup_can", "mustard_bottle"):
            if (ycb / name / "textured.obj").is_file():
                m = trimesh.load(ycb / name / "textured.obj", process=False, force="mesh")
                m.merge_vertices(merge_tex=True, merge_norm=True)
                cavity = None
                if name in ("mug", "bowl"):  # a point in the middle of the opening, halfway down
                    lo, hi = m.bounds
                    c = m.vertices[m.vertices[:, 2] > lo[2] + 0.9 * (hi[2] - lo[2])].mean(0)
                    cavity = np.array([c[0], c[1], lo[2] + 0.6 * (hi[2] - lo[2])])
                meshes[f"ycb_{name}"] = (m.vertices, m.faces, cavity)
    rows = []
    for preset in args.presets:
        for name, (v, f, cavity) in meshes.items():
            t0 = time.perf_counter()
            res = decompose(make_job(name, v, f, CollisionConfig(preset=preset), seed=0))
            hulls = [trimesh.Trimesh(hv, hf, process=False) for hv, hf in res["hulls"]]
            mesh = trimesh.Trimesh(v, f, process=False)
            mv = abs(mesh.volume) if mesh.is_watertight else abs(mesh.convex_hull.volume)
            row = {"object": name, "preset": preset, "method": res["method"], "hulls": len(hulls),
                   "max_vertices_per_hull": max(len(h.vertices) for h in hulls),
                   "hull_to_mesh_volume": sum(h.volume for h in hulls) / mv, "mesh_watertight": bool(mesh.is_watertight),
                   "faces": int(len(f)), "seconds": round(time.perf_counter() - t0, 2),
                   "threshold": (res["settings"] or {}).get("threshold"), "attempts": len(res["attempts"])}  # fmt: skip
            if cavity is not None:
                row["cavity_open"] = not any(h.contains([cavity])[0] for h in hulls)
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"schema_version": 1, "benchmark": "collision", "cpu_count": os.cpu_count(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
