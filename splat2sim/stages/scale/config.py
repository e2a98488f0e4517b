from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class ScaleConfig:
    from_sizes: Literal["auto", "never"] = field(
        default="auto",
        metadata={"help": "auto: when poses found no metric scale, take it from the objects' sizes against their label priors"},
    )
    camera_distance: Literal["auto", "never"] = field(
        default="auto",
        metadata={"help": "auto: when poses found no metric scale, also use how far the phone was from the scene it framed (a handheld prior)"},
    )
    # Seated at a desk or standing at a table, a phone framing table-top objects is about
    # arm's length from them: 0.35-1.4 m. A prior from how people hold phones, not fitted to a
    # capture (synth's orbit is 0.87 m from its scene; the benchmark's varied orbit 0.5-1.2 m).
    camera_distance_m: float = field(
        default=0.7,
        metadata={"help": "typical distance (m) from the phone to the scene it films; set it when you know how far you held it", "min": 0.01},
    )
    camera_distance_spread: float = field(
        default=2.0,
        metadata={"help": "the distance is within this factor of camera_distance_m, about 95 % of the time (2 = 0.35-1.4 m)", "min": 1.01},
    )
    value: float | None = field(
        default=None,
        metadata={"help": "metres per world unit, when you know it (overrides sizes; ignored when poses found a metric scale)", "min": 1e-9},
    )
