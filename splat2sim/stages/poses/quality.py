"""How good the poses are, and when they are unusable, why (likely causes and fixes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from splat2sim.stages.poses.solved import Solved

# Evidence thresholds. They are scale-free (fractions, pixels relative to the image,
# keypoint counts of a SIFT run) so that they carry over between captures.
LOW_TEXTURE_KEYPOINTS = 300  # median SIFT keypoints per frame below this: little texture
NO_PARALLAX_FLOW = 0.01  # median match displacement below 1 % of the image diagonal
STATIC_MOTION = 0.02  # frames.json total_motion (image diagonals) below this: camera static
ROTATION_ONLY_SHARE = 0.6  # share of verified pairs explained by a homography
BLURRY_SHARE = 0.3  # share of keyframes far less sharp than the capture's median
MIN_BASELINE_RATIO = 0.02  # camera path extent / scene distance below this: weak parallax


@dataclass
class Diagnosis:
    causes: list[str] = field(default_factory=list)  # short names: no_parallax, low_texture, ...
    messages: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, cause: str, message: str, fix: str) -> None:
        if cause not in self.causes:
            self.causes.append(cause)
            self.messages.append(message)
            self.fixes.append(fix)


def metrics(solved: Solved) -> dict:
    reg = solved.registered_count
    out = {
        "frames": solved.count,
        "registered": reg,
        "registered_fraction": round(reg / solved.count, 4) if solved.count else 0.0,
        "points3d": int(len(solved.points)),
    }
    errors = solved.point_errors[np.isfinite(solved.point_errors)] if len(solved.point_errors) else np.zeros(0)
    if len(errors) and solved.track_lengths.sum() > 0:
        weights = solved.track_lengths.astype(float)
        out["reprojection_error_px"] = round(float(np.average(errors, weights=weights)), 4)
        out["median_point_error_px"] = round(float(np.median(errors)), 4)
        out["mean_track_length"] = round(float(solved.track_lengths.mean()), 3)
        out["median_track_length"] = float(np.median(solved.track_lengths))
        out["observations_per_frame"] = round(float(solved.track_lengths.sum() / max(1, reg)), 1)
    return out


def baseline_ratio(solved: Solved, scene_distance: float) -> float:
    centers = solved.centers()
    if len(centers) < 2 or scene_distance <= 0:
        return 0.0
    extent = float(np.linalg.norm(centers.max(axis=0) - centers.min(axis=0)))
    return extent / scene_distance


def diagnose(frames_json: dict, stats=None, solved: Solved | None = None) -> Diagnosis:
    """Likely causes of a poor or failed reconstruction, from the evidence at hand:
    frames.json (camera motion, sharpness), match statistics, the model itself."""
    d = Diagnosis()
    frames = frames_json.get("frames", [])
    n = len(frames)
    if n < 8:
        d.add(
            "too_few_frames",
            f"only {n} keyframes",
            "use a longer capture or raise frames.target_count (20-100 views work best)",
        )
    motion = frames_json.get("selection", {}).get("total_motion")
    if (stats is not None and stats.verified_pairs > 0 and stats.flow_fraction < NO_PARALLAX_FLOW) or (
        motion is not None and motion < STATIC_MOTION and frames_json.get("source", {}).get("kind") == "video"
    ):
        what = []
        if motion is not None:
            what.append(f"the image content moves {motion:.3f} image diagonals over the whole capture")
        if stats is not None and stats.verified_pairs:
            what.append(f"matched features move only {100 * stats.flow_fraction:.2f} % of the image diagonal between views")
        d.add(
            "no_parallax",
            "no parallax: the camera does not move (" + "; ".join(what) + ")",
            "walk the camera around the scene (an arc of 90 degrees or more); a tripod or a camera that only turns gives no depth",
        )
    if stats is not None and stats.verified_pairs:
        planar = sum(v for k, v in stats.pair_configs.items() if k in ("PLANAR_OR_PANORAMIC", "PANORAMIC"))
        if planar / stats.verified_pairs > ROTATION_ONLY_SHARE and "no_parallax" not in d.causes:
            d.add(
                "rotation_only",
                f"{planar} of {stats.verified_pairs} matched frame pairs are explained by a pure rotation or a single plane (little parallax)",
                "move the camera sideways around the scene instead of turning it on the spot; include objects at different depths",
            )
    if stats is not None and len(stats.keypoints_per_image):
        median_kp = float(np.median(stats.keypoints_per_image))
        if median_kp < LOW_TEXTURE_KEYPOINTS:
            d.add(
                "low_texture",
                f"little texture: a median of {median_kp:.0f} SIFT features per frame",
                "add texture to the scene (a patterned tablecloth, newspaper), light it better, avoid plain walls and glossy surfaces",
            )
        if stats.matched_pairs and stats.verified_pairs < max(1, 0.1 * stats.matched_pairs) and "no_parallax" not in d.causes:
            d.add(
                "few_matches",
                f"only {stats.verified_pairs} of {stats.matched_pairs} frame pairs share enough matching features",
                "move more slowly so that consecutive views overlap; avoid repetitive patterns",
            )
    sharp = np.array([f.get("sharpness", np.nan) for f in frames], float)
    sharp = sharp[np.isfinite(sharp)]
    if len(sharp) >= 4:
        median = np.median(sharp)
        blurry = float(np.mean(sharp < 0.35 * median)) if median > 0 else 0.0
        if blurry > BLURRY_SHARE:
            d.add(
                "motion_blur",
                f"{100 * blurry:.0f} % of keyframes are blurry",
                "move the camera more slowly, add light, or use a faster shutter",
            )
    return d


def failure_text(diagnosis: Diagnosis) -> tuple[str, str]:
    """(cause text, hint text) for an error message."""
    if not diagnosis.causes:
        return (
            "no clear cause was found",
            "check the keyframes (frames/contact_sheet.jpg): the scene must be static, textured and seen from many positions",
        )
    return "; ".join(diagnosis.messages), "; ".join(diagnosis.fixes)
