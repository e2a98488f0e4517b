"""Settings of the poses stage. Light: nothing heavy is imported here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")


@dataclass
class PosesConfig:
    # ------------------------------------------------------------------ SfM
    matching: Literal["auto", "sequential", "exhaustive"] = field(
        default="auto",
        metadata={
            "help": "auto: exhaustive for image folders and short videos (<= exhaustive_max_frames), "
            "otherwise sequential (overlap window + loop-closure pairs)"
        },
    )
    exhaustive_max_frames: int = field(
        default=40, metadata={"help": "auto matching uses exhaustive matching up to this many video keyframes", "min": 2}
    )
    sequential_overlap: int = field(default=10, metadata={"help": "sequential matching: match each frame with this many following frames", "min": 1})
    loop_closure_stride: int = field(
        default=5,
        metadata={
            "help": "sequential matching: every N-th frame is also matched with every other N-th frame "
            "(loop closure without a vocabulary tree); 0 turns it off",
            "min": 0,
        },
    )
    camera_model: Literal["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"] = field(
        default="SIMPLE_RADIAL", metadata={"help": "COLMAP camera model estimated by SfM"}
    )
    shared_camera: bool = field(default=True, metadata={"help": "one camera (intrinsics) for all frames; false: one per frame"})
    max_features: int = field(default=4096, metadata={"help": "SIFT features per image (before extra orientations)", "min": 256})
    # On 2 threads 3 runs on the same keyframes gave 2-3 sets of cameras, up to 1.9 % of the camera
    # path apart (bench/results/poses_determinism.json); one thread costs ~20 s on 40 keyframes
    reproducible: bool = field(
        default=True,
        metadata={"help": "structure from motion on one thread, so the same keyframes and seed give the same cameras (false: every "
                          "core, faster on many cores, but runs may give other cameras)"},
    )  # fmt: skip
    max_image_size: int = field(default=0, metadata={"help": "SIFT works on images at most this large (0 = the keyframes' size)", "min": 0})
    min_registered_fraction: float = field(
        default=0.5,
        metadata={"help": "fewer registered frames than this fraction is an error", "min": 0.0, "max": 1.0},
    )
    warn_registered_fraction: float = field(
        default=0.9, metadata={"help": "warn when fewer frames than this fraction register", "min": 0.0, "max": 1.0}
    )
    # ------------------------------------------------------------------ imports
    import_path: str | None = field(
        default=None,
        metadata={
            "help": "use existing poses instead of SfM: a COLMAP sparse model folder (cameras/images/points3D "
            ".bin or .txt) or a nerfstudio / instant-ngp transforms.json"
        },
    )
    import_metric: bool = field(
        default=False,
        metadata={"help": "the imported poses are in metres (e.g. from a phone AR capture): keep their scale"},
    )
    # ------------------------------------------------------------------ world frame
    plane_threshold: float = field(
        default=0.01,
        metadata={
            "help": "support-plane RANSAC inlier distance as a fraction of the median camera-to-scene distance",
            "min": 1e-4,
            "max": 0.2,
        },
    )
    max_plane_tilt_deg: float = field(
        default=45.0,
        metadata={"help": "a support plane may tilt at most this much from the cameras' mean up direction", "min": 1.0, "max": 90.0},
    )
    # ------------------------------------------------------------------ scale
    marker_size: float | None = field(
        default=None, metadata={"help": "side of the ArUco/AprilTag marker's black square in metres (enables marker scale)"}
    )
    marker_dictionary: str = field(
        default="DICT_4X4_50",
        metadata={"help": "OpenCV aruco dictionary name (e.g. DICT_4X4_50, DICT_APRILTAG_36h11) or 'auto' to try common ones"},
    )
    marker_id: int | None = field(default=None, metadata={"help": "use only this marker id (default: every id seen)"})
    known_length: float | None = field(
        default=None,
        metadata={"help": "a distance in metres, between the two things named by known_length_cameras or known_length_pixels"},
    )
    known_length_cameras: str | None = field(
        default=None,
        metadata={"help": "'FRAME_A,FRAME_B': known_length is the distance between these keyframes' camera centres"},
    )
    known_length_pixels: str | None = field(
        default=None,
        metadata={
            "help": "'FRAME:x1,y1:x2,y2': known_length is the distance between two pixels of one keyframe "
            "that both lie on the support surface (e.g. the ends of a table edge or of an A4 sheet)"
        },
    )

    def validate(self) -> None:
        if self.marker_size is not None and self.marker_size <= 0:
            raise ValueError(f"marker_size must be positive, got {self.marker_size}")
        if self.known_length is not None:
            if self.known_length <= 0:
                raise ValueError(f"known_length must be positive, got {self.known_length}")
            if (self.known_length_cameras is None) == (self.known_length_pixels is None):
                raise ValueError(
                    "known_length needs exactly one of known_length_cameras ('FRAME_A,FRAME_B') or known_length_pixels ('FRAME:x1,y1:x2,y2')"
                )
        elif self.known_length_cameras or self.known_length_pixels:
            raise ValueError("known_length_cameras / known_length_pixels need known_length (metres)")
        if self.known_length_pixels is not None:
            parse_known_pixels(self.known_length_pixels)
        if self.known_length_cameras is not None:
            parse_known_cameras(self.known_length_cameras)
        if self.warn_registered_fraction < self.min_registered_fraction:
            raise ValueError("warn_registered_fraction must be >= min_registered_fraction")


def parse_known_cameras(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if len(parts) != 2:
        raise ValueError(f"known_length_cameras must be 'FRAME_A,FRAME_B', got {text!r}")
    return parts[0], parts[1]


def parse_known_pixels(text: str) -> tuple[str, tuple[float, float], tuple[float, float]]:
    parts = str(text).split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        a = tuple(float(v) for v in parts[1].split(","))
        b = tuple(float(v) for v in parts[2].split(","))
        if len(a) != 2 or len(b) != 2:
            raise ValueError
    except ValueError:
        raise ValueError(f"known_length_pixels must be 'FRAME:x1,y1:x2,y2', got {text!r}") from None
    return parts[0].strip(), a, b  # type: ignore[return-value]
