from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExportConfig:
    mjcf: bool = field(default=True, metadata={"help": "write mjcf/scene.xml (+ objects.xml)"})
    urdf: bool = field(default=True, metadata={"help": "write urdf/ (one file per object, environment, pybullet loader)"})
    usd: bool = field(default=True, metadata={"help": "write usd/scene.usda (UsdPhysics)"})
    sdf: bool = field(default=True, metadata={"help": "write sdf/scene.sdf (SDFormat 1.9)"})
    splat: bool = field(default=True, metadata={"help": "copy gaussians.ply and write per-object subsets in object frames"})
    background: bool = field(default=True, metadata={"help": "include the background mesh as a visual (no collisions)"})
    support_friction: float = field(default=0.8, metadata={"help": "friction of the support surface", "min": 0.0})
    default_density: float = field(default=500.0, metadata={"help": "kg/m^3 when physics gives no mass", "min": 1.0})
    default_friction: float = field(default=0.6, metadata={"min": 0.0})
