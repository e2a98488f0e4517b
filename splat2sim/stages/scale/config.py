from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class ScaleConfig:
    from_sizes: Literal["auto", "never"] = field(
        default="auto",
        metadata={"help": "auto: when poses found no metric scale, take it from the objects' sizes against their label priors"},
    )
    value: float | None = field(
        default=None,
        metadata={"help": "metres per world unit, when you know it (overrides sizes; ignored when poses found a metric scale)", "min": 1e-9},
    )
