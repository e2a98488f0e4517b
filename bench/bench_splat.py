"""Splat stage benchmark with the CPU preset: the bundled example and the real kitchen photos.

For each capture: frames and poses (cached in the workspace), then the splat stage timed
on its own. Reports held-out PSNR / SSIM, Gaussian count, splat-stage wall time and peak
memory, and the backend, as JSON (bench/results/splat_cpu.json).

    .venv/bin/python bench/bench_splat.py [--only example|kitchen] [--work DIR] [--set splat.iterations=3000]

Extra ``--set`` overrides apply to the splat stage only and are part of the result's name
(e.g. ``kitchen[splat.iterations=3000]``), so runs beside the plain preset are kept apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(CAPTURES))
    parser.add_argument("--work", type=Path, default=REPO / "workspaces" / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "splat_cpu.json")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="splat.KEY=VALUE for the splat stage")
    args = parser.parse_args()
    results = {}
    if args.out.is_file():
        results = json.loads(args.out.read_text()).get("results", {})
    for name, (source, extra) in CAPTURES.items():
        if args.only and name != args.only:
            continue
        if not source.exists():
            results[name] = {"skipped": f"{source} is absent"}
            continue
        ws = args.work / name
        api.build(source, ws, preset="cpu", overrides=extra, until="poses")
        t0 = time.perf_counter()
        api.run_stage(ws, "splat", preset="cpu", overrides=extra + args.sets, force=True)
        seconds = time.perf_counter() - t0
        metrics = json.loads((ws / "splat" / "metrics.json").read_text())
        key = name + (f"[{','.join(args.sets)}]" if args.sets else "")
        results[key] = {
            "input": str(source.relative_to(REPO.parent)),
            "preset": "cpu" + (" + " + ", ".join(args.sets) if args.sets else ""),
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
        }
        results[key]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
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
