"""Benchmark of the collision decomposition on meshes from files: procedural mug and bowl
(splat2sim.synth.meshes) and the YCB objects in ../shared/data/ycb when present, for each
preset: hull count, vertices, hull volume / mesh volume, whether a mug's cavity stays open,
seconds per object. Writes bench/results/collision.json.

    python bench/bench_collision.py [--presets mujoco physx bullet] [--config-presets default cpu] [--no-ycb]

``--presets`` are the simulator limits (collision.preset); ``--config-presets`` are the
splat2sim config presets whose ``collision`` section sets CoACD's effort ("default" = the
built-in defaults, "cpu" = the laptop preset with fewer MCTS iterations).
"""

from __future__ import annotations

import argparse
import dataclasses
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

    from splat2sim.config import load_config
    from splat2sim.stages.collision.coacd_runner import decompose
    from splat2sim.stages.collision.run import make_job
    from splat2sim.synth.meshes import make_object

    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["mujoco", "physx", "bullet"])
    parser.add_argument("--config-presets", nargs="+", default=["cpu", "default"])
    parser.add_argument("--no-ycb", action="store_true")
    parser.add_argument(
        "--lighter", action="append", default=[], metavar="NAME:KEY=VALUE,...",
        help="also a config preset NAME (cpu with these collision settings), e.g. cpu-light:mcts_iterations=20,mcts_depth=2",
    )  # fmt: skip
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
    lighter = {}
    for spec in args.lighter:
        name, _, sets = spec.partition(":")
        lighter[name] = {k: type(getattr(load_config(preset="cpu").section("collision"), k))(v) for k, v in (kv.split("=") for kv in sets.split(","))}
    for config_preset in args.config_presets + list(lighter):
        if config_preset in lighter:
            base = dataclasses.replace(load_config(preset="cpu").section("collision"), **lighter[config_preset])
        else:
            base = load_config(preset=None if config_preset == "default" else config_preset).section("collision")
        for preset in args.presets:
            for name, (v, f, cavity) in meshes.items():
                cfg = dataclasses.replace(base, preset=preset)
                t0 = time.perf_counter()
                res = decompose(make_job(name, v, f, cfg, seed=0))
                hulls = [trimesh.Trimesh(hv, hf, process=False) for hv, hf in res["hulls"]]
                mesh = trimesh.Trimesh(v, f, process=False)
                mv = abs(mesh.volume) if mesh.is_watertight else abs(mesh.convex_hull.volume)
                row = {"object": name, "preset": preset, "config_preset": config_preset,
                       "mcts_iterations": cfg.mcts_iterations, "mcts_depth": cfg.mcts_depth, "mcts_nodes": cfg.mcts_nodes, "resolution": cfg.resolution, "preprocess_mode": cfg.preprocess_mode, "method": res["method"], "hulls": len(hulls),
                       "max_vertices_per_hull": max(len(h.vertices) for h in hulls),
                       "hull_to_mesh_volume": sum(h.volume for h in hulls) / mv, "mesh_watertight": bool(mesh.is_watertight),
                       "volume_reference": "mesh" if mesh.is_watertight else "convex hull of the mesh (the mesh is not watertight)",
                       "load_average": [round(x, 2) for x in os.getloadavg()],
                       "faces": int(len(f)), "seconds": round(time.perf_counter() - t0, 2),
                       "threshold": (res["settings"] or {}).get("threshold"), "attempts": len(res["attempts"])}  # fmt: skip
                if cavity is not None:
                    row["cavity_open"] = not any(h.contains([cavity])[0] for h in hulls)
                rows.append(row)
                print(json.dumps(row), flush=True)
                write_results(args.out, rows)  # after every row: a stopped run keeps what it measured


def write_results(out: str, rows: list[dict]) -> None:
    import coacd

    summary = {}
    for row in rows:
        key = f"{row['config_preset']}/{row['preset']}"
        entry = summary.setdefault(key, {"seconds_total": 0.0, "max_hulls": 0, "cavity_open": []})
        entry["seconds_total"] = round(entry["seconds_total"] + row["seconds"], 2)
        entry["max_hulls"] = max(entry["max_hulls"], row["hulls"])
        if "cavity_open" in row:
            entry["cavity_open"].append(f"{row['object']}: {row['cavity_open']}")
    result = {"schema_version": 1, "benchmark": "collision", "cpu_count": os.cpu_count(),
              "coacd_version": getattr(coacd, "__version__", "unknown"), "summary": summary, "rows": rows}  # fmt: skip
    Path(out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
