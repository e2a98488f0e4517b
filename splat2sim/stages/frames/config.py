from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FramesConfig:
    target_count: int = field(default=60, metadata={"help": "keyframes to keep (fewer if the input has fewer)", "min": 2})
    max_side: int = field(default=960, metadata={"help": "working resolution: longest image side in pixels", "min": 64})
    min_frames: int = field(default=3, metadata={"help": "fewer usable frames than this is an error", "min": 2})
    blur_threshold: float = field(
        default=0.35,
        metadata={
            "help": "a frame whose sharpness is below this fraction of the local median is only kept when its motion segment has nothing sharper",
            "min": 0.0,
            "max": 1.0,
        },
    )
    analysis_side: int = field(default=320, metadata={"help": "resolution used to score sharpness and motion", "min": 64})
    max_candidates: int = field(
        default=1500,
        metadata={"help": "long videos are scored on at most this many evenly spaced frames", "min": 2},
    )
    start_s: float = field(default=0.0, metadata={"help": "skip the video before this time", "min": 0.0})
    end_s: float | None = field(default=None, metadata={"help": "ignore the video after this time"})
    jpeg_quality: int = field(default=95, metadata={"min": 50, "max": 100})

    def validate(self) -> None:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if self.min_frames > self.target_count:
            raise ValueError(f"min_frames ({self.min_frames}) exceeds target_count ({self.target_count})")
