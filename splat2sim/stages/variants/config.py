from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VariantsConfig:
    count: int = field(default=20, metadata={"help": "number of randomized scenes", "min": 0})
    seed: int = field(default=0, metadata={"help": "variant i depends only on (seed, i)"})
    resample_poses: bool = field(default=True, metadata={"help": "new positions and yaw on the support surface"})
    scale_jitter: float = field(default=0.05, metadata={"help": "uniform scale in [1-j, 1+j]", "min": 0.0, "max": 0.5})
    colour_jitter: float = field(default=0.2, metadata={"min": 0.0, "max": 1.0})
    light_jitter: float = field(default=0.3, metadata={"min": 0.0, "max": 1.0})
    brightness_jitter: float = field(default=0.2, metadata={"help": "splat render: brightness multiplier in [1-b, 1+b]", "min": 0.0, "max": 1.0})
    camera_jitter_m: float = field(default=0.01, metadata={"help": "splat render: camera shift N(0, m) per axis", "min": 0.0})
    camera_jitter_deg: float = field(default=1.0, metadata={"help": "splat render: camera rotation N(0, deg) per axis", "min": 0.0})
    settle_seconds: float = field(default=1.0, metadata={"help": "MuJoCo settling of each variant after placement", "min": 0.0})
    check: bool = field(default=True, metadata={"help": "load and settle every variant in MuJoCo and pybullet, validate USD"})
    check_seconds: float = field(default=2.0, metadata={"min": 0.1})
