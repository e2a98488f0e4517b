"""The variants stage alone, before and after a change, on one built workspace: each arm
re-runs ``variants`` (and nothing else) on its own copy of the workspace, in a fresh
interpreter running that arm's checkout, alternating arms so that the machine's load
falls on both alike. Records the stage's seconds, its backend (workers), its failures and
the machine's load average around every run.

    .venv/bin/python bench/bench_variants.py --workspace workspaces/demo \\
        --arm "before (abc123)=/path/to/old/checkout" --arm "after=." --repeats 2

Writes bench/results/variants_cpu.json (one key per --label).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from machine import checkout_env, cpu_model  # noqa: E402

RUN = """
import sys
from splat2sim import api
api.build(None, sys.argv[1], force=["variants"], until="variants")
"""
DOWNSTREAM = ("variants", "report")  # what re-running variants replaces; the copy keeps the rest


def run_arm(name: str, repo: Path, workspace: Path, env: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_variants_") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(workspace, ws, ignore=shutil.ignore_patterns(*DOWNSTREAM), symlinks=True)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", RUN, str(ws)], cwd=repo, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{name}: the variants stage failed:\n{done.stderr[-3000:]}")
        record = json.loads((ws / "variants" / "_stage.json").read_text())
    return {
        "arm": name,
        "stage_seconds": record["timings"]["seconds"],
        "process_seconds": round(wall, 2),
        "backend": record.get("backend"),
        "failures": record["metrics"].get("failures"),
        "count": record["metrics"].get("count"),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=REPO / "workspaces" / "demo", help="a workspace built through check")
    parser.add_argument("--arm", action="append", required=True, help="NAME=CHECKOUT (repeat: before, after)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "variants_cpu.json")
    args = parser.parse_args()
    if not (args.workspace / "check" / "scene.json").is_file():
        raise SystemExit(f"{args.workspace} has no checked scene: build it first (make demo)")
    arms = [(a.split("=", 1)[0], Path(a.split("=", 1)[1]).resolve()) for a in args.arm]
    envs = {name: checkout_env(repo, Path(tempfile.gettempdir()) / "bench_variants_ext" / name.replace(" ", "_")) for name, repo in arms}
    rows = []
    for r in range(args.repeats):
        for name, repo in arms:
            rows.append({"repeat": r, **run_arm(name, repo, args.workspace, envs[name])})
            print(json.dumps(rows[-1]), flush=True)
    summary = {name: {"median_stage_seconds": statistics.median(x["stage_seconds"] for x in rows if x["arm"] == name)} for name, _ in arms}
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc[args.label] = {
        "machine": {"platform": platform.platform(), "cpu": cpu_model(), "cpus": os.cpu_count()},
        "workspace": str(args.workspace),
        "arms": {name: str(repo) for name, repo in arms},
        "runs": rows,
        "summary": summary,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
