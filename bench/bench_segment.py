"""The segment stage alone, before and after a change, on workspaces already built through
splat: each arm reruns segment (``--force segment --until segment``) on its own copy of
every workspace with the splat2sim of a checkout (``--arm NAME=REPO``, e.g. a ``git archive``
of the commit before), in a fresh interpreter, one after the other, and records the stage
time, its steps, the machine's load, and whether the labels and objects.json equal the first
arm's. Writes bench/results/segment_cpu.json under ``--label``. Give workspaces built by the
oldest arm's splat2sim: a newer one's config.yaml may hold keys an older one refuses.

    .venv/bin/python bench/bench_segment.py --label "view footprints" \\
        --arm "before=/work/before" --arm "after=." --workspace workspaces/bench_e2e/X/synth_302
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from machine import checkout_env

REPO = Path(__file__).resolve().parents[1]

RUN = """
import sys
from splat2sim import api
if __name__ == "__main__":
    api.build(None, sys.argv[1], force=["segment"], until="segment")
"""


def run_arm(repo: Path, ws: Path, env: dict) -> dict:
    load_before = os.getloadavg()
    done = subprocess.run([sys.executable, "-c", RUN, str(ws)], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    timings = json.loads((ws / "segment" / "_stage.json").read_text())["timings"]
    return {"seconds": round(timings["seconds"], 2), "steps": {k: round(v, 2) for k, v in timings.get("steps", {}).items()},
            "load_average_before": load_before, "load_average_after": os.getloadavg()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arm", action="append", required=True, help="NAME=REPO (repeatable; the first is the reference)")
    ap.add_argument("--workspace", action="append", required=True, type=Path, help="a workspace built through splat (repeatable)")
    ap.add_argument("--work", type=Path, default=REPO / "workspaces" / "bench_segment", help="where the copies go")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "segment_cpu.json")
    ap.add_argument("--label", default="current")
    args = ap.parse_args()
    envs = {}
    for arm in args.arm:  # build (or find) each arm's native extension before any timing
        name, repo = arm.split("=", 1)
        envs[name] = checkout_env(Path(repo).resolve(), args.work / "ext" / name)
    rows = []
    for src in args.workspace:
        row = {"workspace": str(src), "arms": {}}
        reference = None
        for arm in args.arm:
            name, repo = arm.split("=", 1)
            ws = args.work / src.name / name
            shutil.rmtree(ws, ignore_errors=True)
            shutil.copytree(
                src, ws, ignore=shutil.ignore_patterns("segment", "mesh", "collision", "physics", "export", "check", "variants", "report")
            )
            result = run_arm(Path(repo).resolve(), ws, envs[name])
            if "error" not in result:
                labels = np.load(ws / "segment" / "gaussian_labels.npy")
                objects = json.loads((ws / "segment" / "objects.json").read_text())
                if reference is None:
                    reference = (labels, objects)
                result["same_as_first_arm"] = bool(np.array_equal(labels, reference[0]) and objects == reference[1])
                result["objects"] = len(objects["objects"])
            row["arms"][name] = result
            print(src.name, name, json.dumps(result), flush=True)
        rows.append(row)
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc[args.label] = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "arms": dict(a.split("=", 1) for a in args.arm),
        "rows": rows,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
