"""Appearance randomization of the splat render (domain randomization of what the camera
sees, beside splat2sim.scene.randomize's physics and mesh colours).

A variant's appearance record (``scene.provenance["variant"]["appearance"]``, also in
variants/variants.json) holds:

    brightness   one multiplier of the whole image
    gain         [3] per-channel multiplier of the whole image (white balance)
    tints        {body name: [3] per-channel multiplier of that object's colours} (the
                 same draw that tints the body's mesh material in the variant)
    camera       {"translation_m": [3], "rotation_deg": [3]}: a perturbation of the camera
                 in its own frame (OpenCV axes), rotation as a rotation vector in degrees

``SplatCamera.render(..., appearance=record)`` applies it: object tints on the Gaussians'
colours (every SH coefficient scaled, so the colour before clamping is multiplied
exactly), the camera moved by the perturbation, then brightness * gain on the image.
"""

from __future__ import annotations

import numpy as np

from splat2sim.render.conventions import SH_C0


def sample_appearance(rng: np.random.Generator, tints: dict[str, list[float]], *, brightness_jitter: float, colour_jitter: float,
                      camera_jitter_m: float, camera_jitter_deg: float) -> dict:  # fmt: skip
    """An appearance record: brightness uniform in [1 - b, 1 + b], gain per channel in
    [1 - c/2, 1 + c/2], camera translation N(0, camera_jitter_m) and rotation vector
    N(0, camera_jitter_deg) per axis; ``tints`` as drawn for the bodies."""
    brightness = float(rng.uniform(1 - brightness_jitter, 1 + brightness_jitter)) if brightness_jitter > 0 else 1.0
    gain = rng.uniform(1 - colour_jitter / 2, 1 + colour_jitter / 2, 3) if colour_jitter > 0 else np.ones(3)
    shift = rng.normal(0.0, camera_jitter_m, 3) if camera_jitter_m > 0 else np.zeros(3)
    turn = rng.normal(0.0, camera_jitter_deg, 3) if camera_jitter_deg > 0 else np.zeros(3)
    return {
        "brightness": round(brightness, 5),
        "gain": np.round(gain, 5).tolist(),
        "tints": {name: [round(float(v), 5) for v in t] for name, t in tints.items()},
        "camera": {"translation_m": np.round(shift, 6).tolist(), "rotation_deg": np.round(turn, 5).tolist()},
    }


def tint_gaussians(part: dict, tint) -> dict:
    """A copy of ``part`` whose colours (before clamping) are multiplied by ``tint`` [3]:
    colour = SH_C0 * dc + 0.5 + rest, so dc' = t dc + (t - 1) 0.5 / SH_C0 and rest' = t rest."""
    t = np.asarray(tint, np.float32)  # [3]
    sh = part["sh"] * t  # [N,K,3]
    sh[:, 0, :] += (t - 1) * 0.5 / SH_C0
    return {**part, "sh": sh.astype(np.float32)}


def jitter_camera(world_from_camera: np.ndarray, appearance: dict) -> np.ndarray:
    """[4,4] the camera moved by the record's perturbation, in its own frame."""
    from scipy.spatial.transform import Rotation

    cam = appearance.get("camera") or {}
    delta = np.eye(4)
    delta[:3, :3] = Rotation.from_rotvec(np.radians(cam.get("rotation_deg", [0, 0, 0]))).as_matrix()
    delta[:3, 3] = cam.get("translation_m", [0, 0, 0])
    return np.asarray(world_from_camera, np.float64) @ delta


def apply_image(rgb: np.ndarray, appearance: dict) -> np.ndarray:
    """[H,W,3] float in [0, 1] times brightness and the per-channel gain, clipped."""
    g = float(appearance.get("brightness", 1.0)) * np.asarray(appearance.get("gain", [1, 1, 1]), np.float32)
    return np.clip(rgb * g, 0.0, 1.0).astype(np.float32)
