"""The handheld phone path: an orbit around the scene centre with smooth hand shake, as
per-frame ``world_from_camera`` 4x4 matrices in OpenCV camera axes.

Camera conventions (and the OpenCV <-> MuJoCo conversion) live in
``splat2sim.geometry.transforms``.
"""

from __future__ import annotations

import math

import numpy as np


def look_at(position: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """world_from_camera (4, 4), OpenCV axes, at position (3,) looking at target (3,), with
    +z world as up and an extra roll (radians) about the viewing axis."""
    z = target - position
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # points down in the image
    c, s = math.cos(roll), math.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2], out[:3, 3] = x, y, z, position
    return out


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, dims: int, freqs: tuple[float, float]) -> np.ndarray:
    """Sum of four sinusoids per dimension with random frequencies and phases, unit RMS-ish;
    t (N,) seconds -> (N, dims). Low frequencies only, like a hand drifting and wobbling."""
    out = np.zeros((len(t), dims))
    for d in range(dims):
        for k in range(4):
            f = rng.uniform(*freqs) * (1.6**k)
            out[:, d] += math.sqrt(2) / (1.5**k) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out / math.sqrt(sum(1 / 2.25**k for k in range(4)))


def orbit(
    rng: np.random.Generator, center: np.ndarray, num_frames: int, fps: float, radius: float, height: float, arc_deg: float, shake: float
) -> np.ndarray:
    """(num_frames, 4, 4) world_from_camera matrices (OpenCV axes) for a handheld orbit of
    ``arc_deg`` around ``center`` (3,), ``height`` above the table top (z = 0)."""
    t = np.arange(num_frames) / fps
    u = t / max(t[-1], 1e-9) if num_frames > 1 else np.zeros(1)
    # Start and end a little slower, as a person does.
    prog = 0.8 * u + 0.2 * (1 - np.cos(np.pi * u)) / 2
    a0 = rng.uniform(0, 2 * np.pi)
    ang = a0 + math.radians(arc_deg) * prog * rng.choice([-1.0, 1.0])
    slow = _smooth_noise(rng, t, 2, (0.08, 0.2))
    r = radius * (1 + 0.06 * slow[:, 0])
    z = height * (1 + 0.08 * slow[:, 1])
    pos = np.stack([center[0] + r * np.cos(ang), center[1] + r * np.sin(ang), z], -1)
    # Hand shake: ~3 mm of position wobble, ~6 mm of aim wobble at the scene, ~0.7 deg roll.
    pos += shake * 0.003 * _smooth_noise(rng, t, 3, (0.5, 1.5))
    aim = center + shake * 0.006 * _smooth_noise(rng, t, 3, (0.4, 1.2))
    roll = shake * math.radians(0.7) * _smooth_noise(rng, t, 1, (0.3, 1.0))[:, 0]
    return np.stack([look_at(p, a, r_) for p, a, r_ in zip(pos, aim, roll)])
