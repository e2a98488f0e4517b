"""Poses stage benchmark: SfM time per step against frame count and resolution, and
exhaustive against sequential matching, with accuracy against ground truth.

One synthetic capture (splat2sim.synth, seed 0, 6 s handheld orbit with a marker) is cut
into keyframe sets of several sizes; every set runs the full poses stage through the API
(SIFT, matching, mapping, gravity, marker scale) once per matching mode. Results go to
JSON: per run the step timings, registered fraction, reprojection error and the errors
against the generator's ground truth.

    .venv/bin/python bench/bench_poses.py [--counts 15 30 45] [--out bench/results/poses_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from splat2sim import api  # noqa: E402
from splat2sim.synth import SynthConfig, generate_capture  # noqa: E402
from tests.stages.test_poses_synth import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[15, 30, 45])
    parser.add_argument("--sides", type=int, nargs="+", default=[640, 320], help="working resolutions (longest side)")
    parser.add_argument("--matching", nargs="+", default=["exhaustive", "sequential"])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "poses_cpu.json")
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate_capture(tmp / "capture", SynthConfig(seed=0))
        synth_seconds = time.perf_counter() - t0
        gt = json.loads((tmp / "capture" / "ground_truth.json").read_text())
        for side in args.sides:
            for count in args.counts:
                base = tmp / f"frames_{side}_{count}"
                api.build(tmp / "capture" / "video.mp4", base, overrides=[f"frames.target_count={count}", f"frames.max_side={side}"], until="frames")
                for matching in args.matching:
                    ws = tmp / f"ws_{side}_{count}_{matching}"
                    shutil.copytree(base, ws)
                    t = time.perf_counter()
                    api.run_stage(ws, "poses", overrides=[f"poses.matching={matching}", "poses.marker_size=0.08"])
                    seconds = time.perf_counter() - t
                    record = json.loads((ws / "poses" / "_stage.json").read_text())
                    m = record["metrics"]
                    accuracy = evaluate(ws, gt)
                    runs.append(
                        {
                            "side": side,
                            "frames": count,
                            "matching": matching,
                            "seconds": round(seconds, 2),
                            "steps": record["timings"]["steps"],
                            "pairs_matched": m.get("pairs_matched"),
                            "registered_fraction": m["registered_fraction"],
                            "reprojection_error_px": m.get("reprojection_error_px"),
                            "points3d": m["points3d"],
                            "accuracy": {k: round(v, 6) for k, v in accuracy.items()},
                        }
                    )
                    print(json.dumps(runs[-1]), flush=True)
    result = {
        "benchmark": "poses",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "capture": {"generator": "splat2sim.synth", "seed": 0, "seconds_to_generate": round(synth_seconds, 1), "width": 640, "height": 480},
        "note": "wall times on a shared machine; other processes may have been running",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
