from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReportConfig:
    views: int = field(default=3, metadata={"help": "keyframe cameras shown (photo, splat, simulator, hulls)", "min": 1})
    max_side: int = field(default=480, metadata={"help": "longest side of the pictures", "min": 64})
    splat_backend: str = field(default="auto", metadata={"help": "rasterizer backend for the splat renders"})
