"""Is the poses stage reproducible? The same keyframes and seed, posed several times, with
structure from motion on every core (as before) and on one thread (``poses.reproducible``,
the default now), side by side in one run.

For each capture: its keyframes are extracted once (the frames stage), then the poses stage
(SfM, gravity, world frame, marker scale) runs ``--runs`` times per setting, each in a fresh
copy of that workspace. Recorded per setting: how many different results the runs gave
(``cameras.json``'s poses, bit for bit), the largest difference of any pose entry, the largest
distance between the same camera's centre in two runs (in the stage's world frame, over the
size of the camera path), the fields of ``cameras.json`` that differ at all, and the times of
the extraction step and of the whole stage, with the machine's load.

    .venv/bin/python bench/bench_determinism.py [--runs 4] [--seeds 3 5] [--out bench/results/poses_determinism.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import cpu_model  # noqa: E402
from splat2sim import api  # noqa: E402
from splat2sim.stages.poses import sfm  # noqa: E402
from splat2sim.synth import SynthConfig, generate_capture  # noqa: E402


def _pose(ws: Path, run: Path, overrides: list[str]) -> dict:
    shutil.copytree(ws, run, ignore=shutil.ignore_patterns("poses"))
    api.run_stage(run, "poses", preset="cpu", overrides=overrides, force=True)
    doc = json.loads((run / "poses" / "cameras.json").read_text())
    frames = doc["frames"]
    poses = np.array([f["world_from_camera"] if f.get("world_from_camera") is not None else np.full((4, 4), np.nan) for f in frames])
    steps = json.loads((run / "poses" / "_stage.json").read_text())["timings"]
    return {
        "poses": poses,
        "hash": hashlib.sha256((np.nan_to_num(poses) + 0.0).tobytes()).hexdigest()[:16],
        "doc": doc,
        "seconds": steps["seconds"],
        "features_seconds": steps["steps"].get("sfm_features"),
    }


def _spread(runs: list[dict]) -> float:
    """Largest distance of a camera centre between the first run and any other (the stage's
    world frame is fixed by gravity, the support and the marker), over the camera path's size."""
    ref = runs[0]["poses"][:, :3, 3]
    size = float(np.linalg.norm(np.nanmax(ref, 0) - np.nanmin(ref, 0)))
    worst = max((float(np.nanmax(np.linalg.norm(r["poses"][:, :3, 3] - ref, axis=1))) for r in runs[1:]), default=0.0)
    return worst / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5], help="synthetic captures (besides the bundled example)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "poses_determinism.json")
    args = parser.parse_args()
    threads = sfm.thread_count(0)
    settings = {f"SfM on {threads} threads (before; poses.reproducible=false)": "false", "SfM on 1 thread (after; poses.reproducible=true)": "true"}
    load_before = os.getloadavg()
    captures = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # (video, overrides): the example's marker is 8 cm; synth's captures carry one of 8 cm too
        sources = {"bundled example": (REPO / "examples" / "tabletop" / "video.mp4", ["poses.marker_size=0.08"])}
        for seed in args.seeds:
            generate_capture(tmp / f"capture_{seed}", SynthConfig(seed=seed))
            sources[f"synthetic seed {seed}"] = (tmp / f"capture_{seed}" / "video.mp4", ["poses.marker_size=0.08"])
        for name, (video, extra) in sources.items():
            ws = tmp / f"ws_{len(captures)}"
            overrides = ["frames.target_count=20", *extra]
            api.build(video, ws, preset="cpu", until="frames", overrides=overrides)
            names = json.loads((ws / "frames" / "frames.json").read_text())["frames"]
            rows = {}
            for label, reproducible in settings.items():
                arm = [*overrides, f"poses.reproducible={reproducible}"]
                runs = [_pose(ws, tmp / f"run_{len(captures)}_{reproducible}_{k}", arm) for k in range(args.runs)]
                others = sorted({k for r in runs[1:] for k in r["doc"] if r["doc"][k] != runs[0]["doc"][k]})
                rows[label] = {
                    "fields_that_differ": others,
                    "distinct_results": len({r["hash"] for r in runs}),
                    "camera_spread_of_path": float(f"{_spread(runs):.3g}"),
                    "largest_difference": float(f"{max(np.nanmax(np.abs(r['poses'] - runs[0]['poses'])) for r in runs):.3g}"),
                    "features_seconds": [r["features_seconds"] for r in runs],
                    "stage_seconds": [r["seconds"] for r in runs],
                }
                print(name, label, {k: v for k, v in rows[label].items()}, flush=True)
            captures[name] = {"keyframes": len(names), "settings": rows}
    doc = {
        "benchmark": "the poses stage run to run: structure from motion on every core or on one thread (bench/bench_determinism.py)",
        "machine": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "runs_per_setting": args.runs,
        "cores": threads,
        "note": "SIFT extraction alone on one thread (matching and mapping on 2) fixed the example and seed 3 but not seed 5 (1.1 mm apart): the mapper's threads also vary",
        "captures": captures,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
