"""Loading and settling exported scenes in real simulators (MuJoCo, pybullet).

``settle_mujoco`` / ``settle_pybullet`` return one ``BodyResult`` per object: how far it moved
and turned from its exported pose in ``seconds`` of simulated time, how deep its hulls
penetrate anything at the end, its kinetic energy and whether it ever went wild.
"""

from __future__ import annotations

from splat2sim.sim.results import BodyResult, SettleResult

__all__ = ["BodyResult", "SettleResult"]
