"""Whole builds on the CPU: the bundled example and synthetic table-top captures with 4-5
objects (640x480, 6 s; the frames stage keeps the preset's keyframes), each built from
nothing into simulator scenes, timed per stage, and scored: held-out PSNR of the splat,
object recall / precision, 3D IoU and F-score at 10 mm against the ground truth
(splat2sim.synth.evaluate; the bundled example ships its ground truth).

    .venv/bin/python bench/bench_e2e.py --label "before (abc123)" --preset cpu
    .venv/bin/python bench/bench_e2e.py --label "after (def456)"            # build's own choice

Without ``--preset`` the build chooses for the machine, as a user's first build does.
``--repo DIR`` builds with the splat2sim of another checkout (e.g. ``git archive`` of the
commit before a change, in a fresh interpreter) so that before and after run on the same
machine in one session; both are scored by this checkout's evaluation. The machine's load
average is recorded before and after every capture.
Writes bench/results/e2e_cpu.json (one key per label).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Seeds of the synthetic captures and their object counts (4-5 objects, a marker each).
SYNTH = {300: 4, 301: 5, 302: 5}
MARKER = ["poses.marker_size=0.08"]
GOAL_SECONDS = 300  # the goal: a capture in under 5 minutes on 2 cores


def captures(work: Path) -> dict[str, tuple[Path, Path]]:
    """name -> (video, folder with ground_truth.json)."""
    from splat2sim.synth import SynthConfig, generate_capture

    out = {"example": (REPO / "examples" / "tabletop" / "video.mp4", REPO / "examples" / "tabletop")}
    for seed, n in SYNTH.items():
        folder = work / f"capture_{seed}"
        if not (folder / "ground_truth.json").is_file():
            generate_capture(folder, SynthConfig(seed=seed, num_objects=n, width=640, height=480, marker=True))
        out[f"synth_{seed}"] = (folder / "video.mp4", folder)
    return out


BUILD = """
import json, sys
from splat2sim import api
video, ws, preset, sets = sys.argv[1], sys.argv[2], sys.argv[3] or None, json.loads(sys.argv[4])
api.build(video, ws, preset=preset, overrides=sets)
"""


def build_one(name: str, video: Path, truth: Path, ws: Path, preset: str | None, repo: Path) -> dict:
    """Build in a fresh interpreter running ``repo``'s splat2sim; score with this one's
    evaluation, so before and after are measured by the same yardstick."""
    from machine import checkout_env

    from splat2sim.synth.evaluate import evaluate_workspace

    env = checkout_env(repo, ws.parent.parent / "ext" / "".join(c if c.isalnum() else "_" for c in str(repo)))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", BUILD, str(video), str(ws), preset or "", json.dumps(MARKER)],
                          cwd=repo, env=env, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        return {"capture": name, "error": done.stderr[-2000:], "seconds": round(seconds, 1)}
    meta = json.loads((ws / "workspace.json").read_text())
    stage_seconds = {}
    for record in sorted(ws.glob("*/_stage.json")):
        stage_seconds[record.parent.name] = round(json.loads(record.read_text())["timings"]["seconds"], 1)
    splat = json.loads((ws / "splat" / "metrics.json").read_text()) if (ws / "splat" / "metrics.json").is_file() else {}
    scores = evaluate_workspace(truth, ws)
    found = [o for o in scores["objects"] if o["found"]]
    collision = json.loads((ws / "collision" / "collision.json").read_text()) if (ws / "collision" / "collision.json").is_file() else {}
    methods = [o.get("method") for o in collision.get("objects", [])]
    return {
        "capture": name,
        "seconds": round(seconds, 1),
        "within_goal": seconds <= GOAL_SECONDS,
        "preset": meta.get("preset"),
        "stage_seconds": stage_seconds,
        "psnr_held_out": (splat.get("held_out") or {}).get("psnr"),
        "gaussians": splat.get("gaussians"),
        "objects_true": scores["objects_true"],
        "objects_predicted": scores["objects_predicted"],
        "recall": scores["recall"],
        "precision": scores["precision"],
        "mean_iou": scores["mean_iou"],
        "mean_fscore_10mm": (sum(o["fscore_10mm"] for o in found) / len(found)) if found else None,
        "collision_methods": {m: methods.count(m) for m in sorted(set(methods), key=str)},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def _commit(repo: Path) -> str | None:
    marker = repo / ".commit"  # an exported tree (git archive) records its commit here
    if marker.is_file():
        return marker.read_text().strip()
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() + ("+changes" if dirty else "")) if done.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True, help="the key of this run in the JSON, e.g. 'before (abc123)'")
    parser.add_argument("--preset", default=None, help="a preset for every build (default: the build's own choice)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose splat2sim is measured")
    parser.add_argument("--only", nargs="+", default=None, help="capture names (example, synth_300, ...)")
    parser.add_argument("--work", type=Path, default=REPO / "workspaces" / "bench_e2e")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "e2e_cpu.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    args.work.mkdir(parents=True, exist_ok=True)
    todo = captures(args.work)
    rows = []
    safe = "".join(c if c.isalnum() else "_" for c in args.label)
    for name, (video, truth) in todo.items():
        if args.only and name not in args.only:
            continue
        ws = args.work / safe / name
        if ws.exists():
            raise SystemExit(f"{ws} exists: a whole build is measured from nothing; delete it or use another --label")
        rows.append(build_one(name, video, truth, ws, args.preset, args.repo.resolve()))
        print(json.dumps({k: rows[-1].get(k) for k in ("capture", "seconds", "psnr_held_out", "recall", "mean_fscore_10mm", "error")}), flush=True)
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    previous = doc.get(args.label, {}).get("captures", [])
    rows = [r for r in previous if r["capture"] not in {x["capture"] for x in rows}] + rows
    ok = [r for r in rows if "error" not in r]
    doc[args.label] = {
        "splat2sim": {"repo": str(args.repo.resolve()), "commit": _commit(args.repo)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "preset_asked": args.preset,
        "captures": rows,
        "summary": {
            "median_seconds": sorted(r["seconds"] for r in ok)[len(ok) // 2] if ok else None,
            "max_seconds": max((r["seconds"] for r in ok), default=None),
            "within_goal": sum(r["within_goal"] for r in ok),
            "failed": len(rows) - len(ok),
        },
        "goal_seconds": GOAL_SECONDS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
