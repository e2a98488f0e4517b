"""Frames stage benchmark: throughput and keyframe quality, ours vs uniform sampling.

Both run in one process on the same videos: splat2sim's frames stage (motion-spaced,
sharpest-per-segment selection) against the common baseline of taking every n-th frame.
Reported per video: source frames per second of wall time, mean keyframe sharpness
relative to the video's median, the share of blurry keyframes, and the spread of motion
between consecutive keyframes (coefficient of variation: lower = more even baselines).

    .venv/bin/python bench/bench_frames.py [--out bench/results/frames_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from splat2sim import api  # noqa: E402
from splat2sim.stages.frames import selection  # noqa: E402
from tests.conftest import SHARED_DATA, panning_frames, write_video  # noqa: E402


def make_videos(folder: Path) -> dict[str, Path]:
    videos = {}
    rng = np.random.default_rng(0)
    # a pan with random motion blur on a third of the frames and a pause in the middle
    frames = []
    for i, rgb in enumerate(panning_frames(600, size=(640, 480), speed=1.5, seed=1)):
        if rng.random() < 0.33:
            rgb = cv2.GaussianBlur(rgb, (0, 0), 2.5)
        frames.append(rgb)
    frames = frames[:250] + [frames[250]] * 100 + frames[250:]
    videos["synthetic_pan_blur_640x480"] = write_video(folder / "pan.mp4", frames)
    real = SHARED_DATA / "real" / "videos" / "apple_handheld.mp4"
    if real.is_file():
        videos["real_apple_handheld_1296x720"] = real
    return videos


def score_all(video: Path, rotation: int = 0):
    """Sharpness and motion of every frame (the reference both methods are judged by)."""
    from splat2sim.stages.frames import video as vid

    info = vid.probe(video)
    s = min(1.0, 320 / max(info.width, info.height))
    w, h = round(info.width * s), round(info.height * s)
    sharp, steps, prev = [], [], None
    for item in vid.iter_frames(video, []):
        gray = vid.to_gray(item.frame, w, h, info.rotation_deg)
        sharp.append(selection.sharpness(gray))
        steps.append(0.0 if prev is None else selection.motion(prev, gray))
        prev = gray
    return np.array(sharp), np.cumsum(steps)


def quality(indices, sharp, cumulative) -> dict:
    indices = np.asarray(sorted(indices))
    median = np.median(sharp)
    gaps = np.diff(cumulative[indices])
    return {
        "keyframes": int(len(indices)),
        "mean_sharpness_vs_median": round(float(sharp[indices].mean() / median), 3),
        "blurry_share": round(float((sharp[indices] < 0.6 * median).mean()), 3),
        "motion_gap_cv": round(float(gaps.std() / max(gaps.mean(), 1e-9)), 3),
    }


def uniform(video: Path, target: int, out: Path) -> tuple[list[int], float]:
    """The baseline: decode with OpenCV, keep every n-th frame, write JPEGs."""
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(video))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    keep = set(np.linspace(0, total - 1, target).round().astype(int).tolist())
    index, kept = 0, []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index in keep:
            cv2.imwrite(str(out / f"{index:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            kept.append(index)
        index += 1
    cap.release()
    return kept, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "frames_cpu.json")
    parser.add_argument("--target", type=int, default=40)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, video in make_videos(tmp).items():
            sharp, cumulative = score_all(video)
            ws = tmp / f"ws_{name}"
            t0 = time.perf_counter()
            api.build(video, ws, until="frames", overrides=[f"frames.target_count={args.target}", "frames.max_side=960"])
            ours_s = time.perf_counter() - t0
            ours_idx = [f["source_index"] for f in json.loads((ws / "frames" / "frames.json").read_text())["frames"]]
            base_dir = tmp / f"uniform_{name}"
            base_dir.mkdir()
            base_idx, base_s = uniform(video, args.target, base_dir)
            n = len(sharp)
            results.append(
                {
                    "video": name,
                    "source_frames": n,
                    "splat2sim_frames": {"seconds": round(ours_s, 3), "source_fps": round(n / ours_s, 1), **quality(ours_idx, sharp, cumulative)},
                    "uniform_every_nth": {"seconds": round(base_s, 3), "source_fps": round(n / base_s, 1), **quality(base_idx, sharp, cumulative)},
                }
            )
    payload = {
        "benchmark": "frames stage: splat2sim selection vs uniform every-n-th frame",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "target_keyframes": args.target,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
