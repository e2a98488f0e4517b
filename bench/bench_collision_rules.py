"""Which collision decision rule sends which objects to CoACD, judged by the objects' true
kinds, on meshes bench_objects.py already built (no CoACD is run: decisions only).

Balls, cans, boxes and bottles (standing or lying) are convex: their hull is the right
collider. Bowls, mugs, unmatched predictions and merges are counted as "concave" (a bowl's
hollow needs decomposing; a reconstructed mug's cavity is mostly filled, so this side is
an upper bound on what a rule should send to CoACD). Each arm is an objects.json label
(for its rows: which predicted object matched which true kind) and the workspaces folder
it was built in. Written into bench/results/collision_rules.json under ``--label``.

    .venv/bin/python bench/bench_collision_rules.py --label "mesh.trunc_voxels 3 vs 5" \
        --arm "trunc 3=on the support (b9a5b9c), flat objects off (default), seeds 100-121, until mesh@workspaces/bench_objects" \
        --arm "trunc 5=mesh.trunc_voxels=5 (b9a5b9c), seeds 100-121, until mesh@workspaces/bench_objects_t5"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONVEX_KINDS = {"ball", "small_ball", "can", "box", "bottle", "bottle_lying"}
METRES, SHARE, CAP = 0.006, 0.08, 0.025  # collision.convex_tolerance, convex_tolerance_share, convex_tolerance_max
OLD_NOISE_SPREAD = 4.0  # the rule before collision stage version 4: the share only while p95 <= 4 x p50


def rules(c: dict) -> dict[str, bool]:
    """Rule name -> True when the object gets its hull (c: collision.decide.measure's dict)."""
    from splat2sim.stages.collision import decide

    p50, p95, d = c["hull_to_surface_p50"], c["hull_to_surface_p95"], c["diagonal"]
    return {
        "noise test p95 <= 4 x p50 (before collision v4)": p95 <= (max(METRES, SHARE * d) if p95 <= OLD_NOISE_SPREAD * p50 else METRES),
        "no noise test: max(6 mm, 8 % of the diagonal)": p95 <= max(METRES, SHARE * d),
        "today: rough surface, max(6 mm, 8 % of the diagonal) capped at 25 mm": p95 <= decide.tolerance(c, METRES, SHARE, CAP),
    }


def measure_arm(results: dict, label: str, work: Path) -> list[dict]:
    import trimesh

    from splat2sim.stages.collision import decide

    rows = []
    for scene in results[label]["scenes"]:
        ws = work / f"ws_{scene['seed']}"
        kinds = {o["object"]: o["kind"] for o in scene.get("objects", []) if o.get("found")}
        for rec in json.loads((ws / "mesh" / "mesh.json").read_text())["objects"]:
            mesh = trimesh.load(ws / "mesh" / rec["visual"], process=False, force="mesh")
            c = decide.measure(mesh.vertices, mesh.faces)
            kind = kinds.get(rec["id"], "unmatched")
            rows.append({"seed": scene["seed"], "object": rec["id"], "kind": kind, "convex_kind": kind in CONVEX_KINDS,
                         **{k: round(v, 5) for k, v in c.items() if v is not None}, "hull": rules(c)})  # fmt: skip
    return rows


def tally(rows: list[dict]) -> dict:
    out = {}
    for name in rows[0]["hull"] if rows else []:
        convex = [r for r in rows if r["convex_kind"]]
        other = [r for r in rows if not r["convex_kind"]]
        out[name] = {"convex_kinds_to_hull": sum(r["hull"][name] for r in convex), "convex_kinds": len(convex),
                     "other_to_coacd": sum(not r["hull"][name] for r in other), "other": len(other)}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arm", action="append", required=True, help="NAME=OBJECTS_JSON_LABEL@WORKSPACES_DIR (repeatable)")
    ap.add_argument("--objects", type=Path, default=REPO / "bench" / "results" / "objects.json")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "collision_rules.json")
    ap.add_argument("--label", default="current")
    args = ap.parse_args()
    results = json.loads(args.objects.read_text())
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    entry = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "arms": {}}
    for arm in args.arm:
        name, rest = arm.split("=", 1)
        label, work = rest.rsplit("@", 1)
        rows = measure_arm(results, label, REPO / work)
        entry["arms"][name] = {"objects_json_label": label, "workspaces": work, "tally": tally(rows), "objects": rows}
        print(name, json.dumps(entry["arms"][name]["tally"], indent=1), flush=True)
    doc[args.label] = entry
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
