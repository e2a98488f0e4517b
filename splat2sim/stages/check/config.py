from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckConfig:
    seconds: float = field(default=2.0, metadata={"help": "simulated time to settle", "min": 0.1})
    drift_mm: float = field(default=2.0, metadata={"help": "largest allowed movement from the filmed pose", "min": 0.0})
    rotation_deg: float = field(default=2.0, metadata={"help": "largest allowed rotation from the filmed pose", "min": 0.0})
    penetration_mm: float = field(default=2.0, metadata={"help": "deepest allowed contact penetration", "min": 0.0})
    repair: bool = field(default=True, metadata={"help": "repair what is repairable (support contact, inertia, overlapping objects)"})
    support_tolerance_mm: float = field(default=0.3, metadata={"help": "objects farther than this from their support are moved onto it", "min": 0.0})
    overlap_tolerance_mm: float = field(default=1.0, metadata={"help": "objects whose hulls overlap deeper than this are separated", "min": 0.0})
    mujoco: bool = True
    pybullet: bool = True
    usd: bool = True
    simready: bool = field(
        default=True,
        metadata={"help": "also run NVIDIA's SimReady validator (Robotics-Prop) on the per-object USD props, when simready-validate is installed"},
    )
    sdf: bool = True
