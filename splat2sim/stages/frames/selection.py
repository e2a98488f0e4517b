"""Keyframe scoring and selection: sharpness per frame, camera motion between frames.

Selection splits the capture into ``target`` segments of equal camera motion (blended with
a little time, so a pause still gets a frame) and keeps the sharpest frame of each. Equal
motion spacing gives structure-from-motion evenly spaced baselines; the sharpest frame per
segment avoids motion blur without leaving gaps.
"""

from __future__ import annotations

import cv2
import numpy as np

# Fraction of the blend given to time, so that motion-free stretches still get frames.
_TIME_WEIGHT = 0.1
# Below this much total motion (in image diagonals) the camera is considered static.
STATIC_MOTION = 0.02


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image [H, W] (higher = sharper)."""
    return float(cv2.Laplacian(gray, cv2.CV_32F, ksize=3).var())


def motion(previous: np.ndarray, current: np.ndarray) -> float:
    """Median feature displacement between two grey images [H, W], in image diagonals.

    Tracks corners with pyramidal Lucas-Kanade; falls back to phase correlation where
    there is too little texture to track.
    """
    diagonal = float(np.hypot(*previous.shape[:2]))
    corners = cv2.goodFeaturesToTrack(previous, maxCorners=300, qualityLevel=0.01, minDistance=5)
    if corners is not None and len(corners) >= 12:
        moved, status, _err = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, winSize=(21, 21), maxLevel=3)
        ok = status.reshape(-1) == 1
        if ok.sum() >= 8:
            shift = np.linalg.norm((moved - corners).reshape(-1, 2)[ok], axis=1)
            return float(np.median(shift)) / diagonal
    (dx, dy), _response = cv2.phaseCorrelate(previous.astype(np.float32), current.astype(np.float32))
    return float(np.hypot(dx, dy)) / diagonal


def select_keyframes(sharp: np.ndarray, steps: np.ndarray, target: int) -> np.ndarray:
    """Indices of the keyframes, ascending.

    sharp: [N] sharpness per candidate frame.
    steps: [N] motion from the previous candidate (steps[0] = 0), in image diagonals.
    """
    n = len(sharp)
    if n <= target:
        return np.arange(n)
    cumulative = np.cumsum(steps)
    total = cumulative[-1]
    by_time = np.arange(n) / (n - 1)
    if total < STATIC_MOTION:
        progress = by_time
    else:
        progress = (1 - _TIME_WEIGHT) * cumulative / total + _TIME_WEIGHT * by_time
    edges = np.linspace(0.0, 1.0, target + 1)
    segment = np.clip(np.searchsorted(edges, progress, side="right") - 1, 0, target - 1)
    chosen = []
    for k in range(target):
        members = np.flatnonzero(segment == k)
        if len(members):
            chosen.append(members[np.argmax(sharp[members])])
    chosen = np.array(sorted(set(chosen)), dtype=int)
    if len(chosen) < target:
        # A fast sweep can leave segments empty: fill with the sharpest unused frames
        # from the largest gaps, so the count is met when the video has enough frames.
        remaining = target - len(chosen)
        extra = []
        taken = set(chosen.tolist())
        for _ in range(remaining):
            bounds = np.concatenate([[-1], sorted(taken | set(extra)), [n]])
            gaps = np.diff(bounds)
            g = int(np.argmax(gaps))
            lo, hi = bounds[g] + 1, bounds[g + 1]
            if hi <= lo:
                break
            pick = lo + int(np.argmax(sharp[lo:hi]))
            extra.append(pick)
        chosen = np.array(sorted(taken | set(extra)), dtype=int)
    return chosen
