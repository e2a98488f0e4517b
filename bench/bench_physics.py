"""Mass estimates of the physics stage's prior path on the six YCB objects in
../shared/data/ycb (known masses in masses.json), written as JSON.

    .venv/bin/python bench/bench_physics.py [--out bench/results/physics_ycb.json]

Geometry variants: ``scan`` (the YCB textured.obj as it is: not watertight, walls of mugs
and bowls present) and ``filled`` (its convex hull: a closed outer surface with cavities
filled, as a reconstruction from an orbit may give). For each: the prior estimator's mass
(label + size -> material, fill, density; shell-aware for hollow labels) and, for
comparison, a solid block of the same material (density x enclosed volume).

Metrics (Image2Mass conventions): ALDE = mean |ln(pred / true)|, APE = mean |pred - true| /
true, MnRE = mean min(pred/true, true/pred) (1 = perfect).

Not measured here: the CLIP path needs real open-clip weights (none can be downloaded on
these machines) and the VLM path needs an endpoint; with either available, run the stage
on a synthetic capture of these meshes (splat2sim.synth with mesh_files) instead.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

YCB = Path(__file__).resolve().parents[2] / "shared" / "data" / "ycb"
LABELS = {"cracker_box": "cracker box", "mustard_bottle": "mustard bottle", "banana": "banana", "mug": "mug",
          "bowl": "bowl", "tomato_soup_can": "tomato soup can"}  # fmt: skip


def metrics(pred: dict, truth: dict) -> dict:
    r = np.array([pred[k] / truth[k] for k in truth])
    return {"ALDE": float(np.mean(np.abs(np.log(r)))), "APE": float(np.mean(np.abs(r - 1))), "MnRE": float(np.mean(np.minimum(r, 1 / r)))}


def main() -> None:
    import trimesh

    from splat2sim.stages.physics import priors as P
    from splat2sim.stages.physics import reconcile as R
    from splat2sim.stages.physics.run import prior_estimate

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "physics_ycb.json"))
    args = parser.parse_args()
    truth = json.loads((YCB / "masses.json").read_text())
    rows, t0 = [], time.perf_counter()
    preds = {"scan": {}, "filled": {}}
    solid = {"scan": {}, "filled": {}}
    for name, label in LABELS.items():
        mesh = trimesh.load(YCB / name / "textured.obj", process=False, force="mesh")
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        for variant, m in (("scan", mesh), ("filled", mesh.convex_hull)):
            g = R.geometry_from_mesh(m.vertices, m.faces, watertight=bool(m.is_watertight))
            est = prior_estimate(label)
            rec = R.reconcile_mass(g, est.fill, est.density, est.thickness, None)
            material_density = P.material_properties(est.material)["density"]["value"]
            block = (est.density["value"] if est.fill == "bulk" else material_density) * g.volume
            preds[variant][name], solid[variant][name] = rec.mass["value"], block
            lo, hi = rec.mass["range"]
            rows.append({"object": name, "label": label, "geometry": variant, "true_kg": truth[name], "pred_kg": round(rec.mass["value"], 4),
                         "range_kg": [round(lo, 4), round(hi, 4)], "range_contains_truth": lo <= truth[name] <= hi,
                         "solid_block_kg": round(block, 4), "material": est.material, "fill": est.fill, "mass_model": rec.material.mode,
                         "volume_m3": g.volume, "area_m2": g.area, "watertight": g.watertight})  # fmt: skip
    result = {
        "schema_version": 1, "benchmark": "physics_ycb", "estimator": "prior (label + measured geometry)",
        "seconds": round(time.perf_counter() - t0, 2),
        "metrics": {v: metrics(preds[v], truth) for v in preds},
        "solid_block_metrics": {v: metrics(solid[v], truth) for v in solid},
        "shell_vs_solid_for_hollow": {
            v: {n: {"true": truth[n], "shell_aware": round(preds[v][n], 4), "solid_block": round(solid[v][n], 4),
                    "shell_better": abs(math.log(preds[v][n] / truth[n])) < abs(math.log(solid[v][n] / truth[n]))} for n in ("mug", "bowl")}
            for v in preds
        },
        "ranges_containing_truth": {v: sum(r["range_contains_truth"] for r in rows if r["geometry"] == v) for v in preds},
        "rows": rows,
        "not_measured": {"clip": "no open-clip weights on this machine (random weights are meaningless)",
                         "vlm": "no VLM endpoint and no recorded answers from a real model"},
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("metrics", "solid_block_metrics", "shell_vs_solid_for_hollow", "ranges_containing_truth")}, indent=1))


if __name__ == "__main__":
    main()
