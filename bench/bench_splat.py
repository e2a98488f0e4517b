"""Splat stage benchmark with the CPU preset: the bundled example, the real kitchen photos
and bench_e2e's synthetic table-top captures (synth_300..302, generated on first use).

For each capture: frames and poses (cached in the workspace), then the splat stage timed
on its own. Reports held-out PSNR / SSIM, Gaussian count, splat-stage wall time and peak
memory, and the backend, as JSON (bench/results/splat_cpu.json).

    .venv/bin/python bench/bench_splat.py [--only example kitchen synth_300] [--work DIR] [--set splat.iterations=3000]
    .venv/bin/python bench/bench_splat.py --arm before= --arm "after=splat.coarse_fraction=0.5" --repeats 2

Extra ``--set`` overrides apply to the splat stage only and are part of the result's name
(e.g. ``kitchen[splat.iterations=3000]``), so runs beside the plain preset are kept apart.
``--arm NAME=K=V,K=V`` (repeatable) compares settings side by side in one run: per capture
the arms take turns, ``--repeats`` rounds each, so a change of the machine's load falls on
all of them; each result is ``capture[NAME]`` with every run's time and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from splat2sim import api  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
CAPTURES = {
    "example": (REPO / "examples" / "tabletop" / "video.mp4", ["poses.marker_size=0.08"]),
    "kitchen": (SHARED / "real" / "kitchen_lego" / "images", []),
}


def _captures(work: Path) -> dict[str, tuple[Path, list[str]]]:
    from bench_e2e import MARKER, captures

    synth = {name: (video, list(MARKER)) for name, (video, _) in captures(work / "captures").items() if name.startswith("synth_")}
    return {**CAPTURES, **synth}


def _run_splat(ws: Path, sets: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    api.run_stage(ws, "splat", preset="cpu", overrides=sets, force=True)
    return time.perf_counter() - t0, json.loads((ws / "splat" / "metrics.json").read_text())


def _row(source: Path, preset: str, seconds: float, metrics: dict) -> dict:
    return {
        "input": str(source.relative_to(REPO.parent)) if source.is_relative_to(REPO.parent) else str(source),
        "preset": preset,
        "splat_stage_seconds": round(seconds, 1),
        "held_out_psnr": metrics["held_out"]["psnr"],
        "held_out_ssim": metrics["held_out"]["ssim"],
        "held_out_views": metrics["held_out"]["views"],
        "held_out_psnr_per_view": metrics["held_out"].get("psnr_per_view"),
        "training_view_psnr": metrics["training_views"]["psnr"],
        "gaussians": metrics["gaussians"],
        "iterations": metrics["iterations"],
        "image_size": metrics["image_size"],
        "peak_memory_mb": metrics["peak_memory_mb"],
        "backend": metrics["backend"],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _arms(args, name: str, source: Path, extra: list[str], ws: Path, results: dict) -> None:
    arms = [(a.split("=", 1)[0], [kv for kv in a.split("=", 1)[1].split(",") if kv]) for a in args.arm]
    runs: dict[str, list[tuple[float, dict]]] = {arm: [] for arm, _ in arms}
    for _ in range(args.repeats):
        for arm, sets in arms:
            runs[arm].append(_run_splat(ws, extra + args.sets + sets))
            print(name, arm, f"{runs[arm][-1][0]:.1f} s", runs[arm][-1][1]["held_out"]["psnr"], "dB", flush=True)
    for arm, sets in arms:
        median = statistics.median(t for t, _ in runs[arm])
        row = _row(source, "cpu" + (" + " + ", ".join(args.sets + sets) if args.sets + sets else ""), median, runs[arm][-1][1])
        row["splat_stage_seconds_runs"] = [round(t, 1) for t, _ in runs[arm]]
        row["held_out_psnr_runs"] = [m["held_out"]["psnr"] for _, m in runs[arm]]
        results[f"{name}[{arm}]"] = row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", help="capture names: example, kitchen, synth_300, synth_301, synth_302")
    parser.add_argument("--arm", action="append", default=[], help="NAME=splat.K=V,... : settings compared side by side")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the arms per capture")
    parser.add_argument("--work", type=Path, default=REPO / "workspaces" / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "splat_cpu.json")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="splat.KEY=VALUE for the splat stage")
    args = parser.parse_args()
    results = {}
    if args.out.is_file():
        results = json.loads(args.out.read_text()).get("results", {})
    captures = _captures(args.work) if args.only and any(n.startswith("synth_") for n in args.only) else CAPTURES
    for name, (source, extra) in captures.items():
        if args.only and name not in args.only:
            continue
        if not source.exists():
            results[name] = {"skipped": f"{source} is absent"}
            continue
        ws = args.work / name
        api.build(source, ws, preset="cpu", overrides=extra, until="poses")
        if args.arm:
            _arms(args, name, source, extra, ws, results)
            continue
        seconds, metrics = _run_splat(ws, extra + args.sets)
        key = name + (f"[{','.join(args.sets)}]" if args.sets else "")
        results[key] = _row(source, "cpu" + (" + " + ", ".join(args.sets) if args.sets else ""), seconds, metrics)
        print(key, json.dumps(results[key]), flush=True)
    payload = {
        "benchmark": "splat stage, CPU preset (targets: example held-out PSNR >= 28 dB within 600 s; kitchen >= 22 dB)",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
