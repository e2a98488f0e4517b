"""Batch benchmark: throughput (scans per hour) of ``splat2sim batch`` with the local
executor against running the same scans one after another.

Synthetic captures (distinct seeds) are built twice from scratch into fresh folders:

- ``sequential``: ``splat2sim build VIDEO -o WS`` for one scan after another, each in its own
  process with every core (``run.workers=0``), as a shell loop would;
- ``batch``: ``splat2sim batch VIDEOS -o OUT`` with its default plan (on 2 cores: 2 workers
  x 1 thread each).

Each mode runs ``--repeat`` times, alternating, and the fastest run of each is reported
(all wall times are kept), which damps what other work on the machine does to one run.
Two workloads: ``poses`` (frames + SfM: light, partly single-threaded stages) and ``splat``
(frames + SfM + a short splat training, the heavy multi-threaded stage), both with the CPU
preset and settings small enough to finish in minutes. Every build is checked to have
completed. The machine's load average is recorded: on a shared machine the numbers move
with what else runs.

    .venv/bin/python bench/bench_batch.py [--out bench/results/batch_cpu.json] [--scans 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKLOADS = {
    "poses": {
        "until": "poses",
        "overrides": ["frames.target_count=16", "poses.marker_size=0.08"],
    },
    "splat": {
        "until": "splat",
        "overrides": [
            "frames.target_count=16",
            "poses.marker_size=0.08",
            "splat.iterations=200",
            "splat.train_max_side=160",
            "splat.max_gaussians=8000",
            "splat.densify_from=100",
            "splat.densify_until=150",
        ],
    },
}


def make_captures(folder: Path, count: int) -> list[Path]:
    from splat2sim.synth import SynthConfig, generate_capture

    kinds = [["box", "mug"], ["can", "bowl"], ["mug", "can"], ["box", "ball"], ["bottle", "box"], ["bowl", "mug"]]
    videos = []
    for i in range(count):
        target = folder / f"scan_{i:02d}.mp4"
        if not target.is_file():
            capture = generate_capture(
                folder / f"capture_{i:02d}",
                SynthConfig(seed=100 + i, width=320, height=240, duration_s=2, fps=15, object_kinds=kinds[i % len(kinds)]),
            )
            capture.video.rename(target)
        videos.append(target)
    return videos


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "splat2sim", "--quiet", *map(str, args)], capture_output=True, text=True)


def _set_args(overrides: list[str]) -> list[str]:
    return [a for item in overrides for a in ("--set", item)]


def run_sequential(videos: list[Path], out: Path, workload: dict) -> dict:
    t0 = time.perf_counter()
    per_scan = []
    for video in videos:
        t = time.perf_counter()
        done = _cli("build", video, "-o", out / video.stem, "--preset", "cpu", "--until", workload["until"], *_set_args(workload["overrides"]))
        if done.returncode != 0:
            raise SystemExit(f"sequential build of {video} failed:\n{done.stderr}")
        per_scan.append(round(time.perf_counter() - t, 2))
    wall = time.perf_counter() - t0
    return {"wall_seconds": round(wall, 2), "scans_per_hour": round(len(videos) * 3600 / wall, 1), "per_scan_seconds": per_scan}


def run_batch(videos: list[Path], out: Path, workload: dict) -> dict:
    t0 = time.perf_counter()
    done = _cli("batch", *videos, "-o", out, "--preset", "cpu", "--until", workload["until"], *_set_args(workload["overrides"]))
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"batch failed:\n{done.stdout}\n{done.stderr}")
    batch = json.loads((out / "batch.json").read_text())
    assert batch["totals"]["done"] == len(videos), batch["totals"]
    return {
        "wall_seconds": round(wall, 2),
        "scans_per_hour": round(len(videos) * 3600 / wall, 1),
        "per_scan_seconds": [s["seconds"] for s in batch["scans"]],
        "workers": batch["executor"]["workers"],
        "threads_per_worker": batch["executor"]["threads_per_worker"],
        "plan": batch["executor"].get("reason"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "batch_cpu.json")
    parser.add_argument("--scans", type=int, default=4)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode (alternating); the fastest is reported")
    parser.add_argument("--work", type=Path, default=None, help="folder for captures and outputs (default: a temporary one)")
    parser.add_argument("--note", default="", help="a remark stored with the results (e.g. what else loaded the machine)")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_batch_"))
    work.mkdir(parents=True, exist_ok=True)
    videos = make_captures(work / "captures", args.scans)
    results = []
    for name in args.workloads.split(","):
        workload = WORKLOADS[name]
        load_before = os.getloadavg()
        runs: dict[str, list[dict]] = {"sequential": [], "batch_local": []}
        for r in range(args.repeat):  # alternate, so that a change in the machine's load hits both
            runs["sequential"].append(run_sequential(videos, work / f"{name}_sequential_{r}", workload))
            runs["batch_local"].append(run_batch(videos, work / f"{name}_batch_{r}", workload))
        summary = {}
        for mode, items in runs.items():
            best = min(items, key=lambda item: item["wall_seconds"])
            summary[mode] = {**best, "wall_seconds_all_runs": [item["wall_seconds"] for item in items]}
        results.append({
            "workload": name,
            "until": workload["until"],
            "preset": "cpu",
            "overrides": workload["overrides"],
            "scans": len(videos),
            "repeats": args.repeat,
            "sequential": summary["sequential"],
            "batch_local": summary["batch_local"],
            "speedup": round(summary["sequential"]["wall_seconds"] / summary["batch_local"]["wall_seconds"], 2),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        })  # fmt: skip
        print(json.dumps(results[-1], indent=2), flush=True)
    report = {
        "benchmark": "splat2sim batch (local executor) vs scans one after another",
        "metric": "scans per hour = scans x 3600 / wall seconds of the fastest run; speedup = sequential wall / batch wall",
        "captures": f"{len(videos)} synthetic table-top captures, 320x240, 2 s at 15 fps (splat2sim.synth seeds 100+)",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        **({"note": args.note} if args.note else {}),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
