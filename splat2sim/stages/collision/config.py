from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class CollisionConfig:
    preset: Literal["mujoco", "physx", "bullet"] = field(
        default="mujoco", metadata={"help": "simulator limits on hull count and vertices per hull (see splat2sim.stages.collision.presets)"}
    )
    decompose: Literal["auto", "always", "never"] = field(
        default="auto",
        metadata={"help": "auto: CoACD only for objects whose convex hull strays more than convex_tolerance from the surface "
                          "(the rest get their hull at once); always: CoACD on every object; never: one hull each"},
    )  # fmt: skip
    convex_tolerance: float = field(
        default=0.006,
        metadata={"help": "decompose=auto: an object is near-convex when 95 % of its hull's surface is within this many metres "
                          "of its own, or within convex_tolerance_share of its diagonal if that is more (up to convex_tolerance_max)", "min": 0.0},
    )  # fmt: skip
    convex_tolerance_share: float = field(
        default=0.08,
        metadata={"help": "decompose=auto: the tolerance as a share of the mesh's bounding-box diagonal (a scan's surface is "
                          "bumpy at the scale of its Gaussians, and more so on a larger object)", "min": 0.0, "max": 1.0},
    )  # fmt: skip
    convex_tolerance_max: float = field(
        default=0.025,
        metadata={"help": "decompose=auto: the most the share of the diagonal may allow, in metres (5 % of a hull this far off "
                          "the surface is a cavity or a merge, not a scan's bumps)", "min": 0.0},
    )  # fmt: skip
    max_hulls: int = field(default=0, metadata={"help": "hulls per object (0 = the preset's)", "min": 0})
    max_vertices: int = field(default=0, metadata={"help": "vertices per hull (0 = the preset's)", "min": 0})
    concavity: float = field(
        default=0.004, metadata={"help": "allowed concavity in metres; CoACD's threshold = this / object diagonal, clamped", "min": 1e-5}
    )
    min_threshold: float = field(
        default=0.02, metadata={"help": "lowest CoACD threshold (large objects); with the proxy at least 2 / proxy_voxels", "min": 0.001, "max": 1.0}
    )
    max_threshold: float = field(default=0.1, metadata={"help": "highest CoACD threshold (small objects)", "min": 0.001, "max": 1.0})
    proxy_voxels: int = field(
        default=64,
        metadata={"help": "CoACD cuts a closed copy of the mesh at this many voxels across its diagonal, without the "
                          "reconstruction's small tunnels (see splat2sim.stages.collision.proxy); 0 = the visual mesh as it is",
                  "min": 0, "max": 512},
    )  # fmt: skip
    proxy_faces: int = field(default=2000, metadata={"help": "the proxy is decimated to this many faces", "min": 100})
    preprocess_mode: Literal["auto", "on", "off"] = field(default="auto", metadata={"help": "CoACD manifold pre-processing"})
    resolution: int = field(default=2000, metadata={"help": "CoACD sampling resolution", "min": 100})
    mcts_iterations: int = field(default=100, metadata={"help": "CoACD MCTS iterations (fewer = faster, coarser cuts)", "min": 10})
    mcts_depth: int = field(default=3, metadata={"help": "CoACD MCTS depth", "min": 1})
    mcts_nodes: int = field(default=20, metadata={"help": "CoACD MCTS nodes", "min": 1})
    bounds_tolerance: float = field(
        default=0.02, metadata={"help": "hulls may exceed the visual mesh bounds by this share of its diagonal (plus 1 mm)", "min": 0.0}
    )
    retries: int = field(default=1, metadata={"help": "decompositions tried with other settings before the single-hull fallback", "min": 0, "max": 3})

    def validate(self) -> None:
        if 0 < self.proxy_voxels < 16:
            raise ValueError(f"proxy_voxels must be 0 (off) or at least 16, got {self.proxy_voxels}")
        if self.min_threshold > self.max_threshold:
            raise ValueError("min_threshold must not exceed max_threshold")
