from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from splat2sim.geometry.transforms import quat_angle_deg


@dataclass
class BodyResult:
    name: str
    start_position: list[float]
    start_quaternion: list[float]
    final_position: list[float]
    final_quaternion: list[float]
    drift_mm: float  # |final - start| of the body frame origin
    rotation_deg: float
    penetration_mm: float  # deepest contact of this body at the end (0 = none)
    kinetic_energy_j: float  # at the end
    max_speed_m_s: float  # over the whole run
    finite: bool = True

    def settled(self, drift_mm: float = 2.0, rotation_deg: float = 2.0, penetration_mm: float = 2.0) -> bool:
        return (
            self.finite
            and self.drift_mm <= drift_mm
            and self.rotation_deg <= rotation_deg
            and self.penetration_mm <= penetration_mm
            and self.max_speed_m_s < 5.0
        )


@dataclass
class SettleResult:
    simulator: str
    seconds: float
    timestep: float
    bodies: list[BodyResult]
    warnings: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def body(self, name: str) -> BodyResult:
        return next(b for b in self.bodies if b.name == name)

    def to_dict(self) -> dict:
        return asdict(self)

    def worst(self) -> dict:
        if not self.bodies:
            return {"drift_mm": 0.0, "rotation_deg": 0.0, "penetration_mm": 0.0}
        return {k: max(getattr(b, k) for b in self.bodies) for k in ("drift_mm", "rotation_deg", "penetration_mm")}


def body_result(name, p0, q0, p1, q1, penetration, ke, max_speed) -> BodyResult:
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    finite = bool(np.all(np.isfinite(p1)) and np.all(np.isfinite(q1)))
    return BodyResult(
        name=name, start_position=p0.tolist(), start_quaternion=[float(v) for v in q0],
        final_position=p1.tolist(), final_quaternion=[float(v) for v in q1],
        drift_mm=float(np.linalg.norm(p1 - p0) * 1000) if finite else float("inf"),
        rotation_deg=quat_angle_deg(q0, q1) if finite else float("inf"),
        penetration_mm=float(max(penetration, 0.0) * 1000), kinetic_energy_j=float(ke), max_speed_m_s=float(max_speed),
        finite=finite,
    )  # fmt: skip
