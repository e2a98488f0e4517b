"""pybullet: load an exported URDF folder (always with ``URDF_USE_INERTIA_FROM_FILE``,
without which pybullet recomputes the inertia from the collision shapes) and settle it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError, missing_package
from splat2sim.sim.results import SettleResult, body_result

TIMESTEP = 1.0 / 240.0


def pybullet_module():
    try:
        import pybullet
    except ImportError as exc:
        raise missing_package("pybullet", "loading scenes in pybullet") from exc
    return pybullet


def load_urdf_dir(urdf_dir, client: int) -> dict[str, int]:
    """Load environment.urdf and every object of ``urdf_dir/scene_poses.json`` into ``client``.
    Returns {body name: id} (the environment as "_environment")."""
    p = pybullet_module()
    urdf_dir = Path(urdf_dir)
    poses_path = urdf_dir / "scene_poses.json"
    if not poses_path.is_file():
        raise InputError(f"{poses_path} is missing", hint="re-run the export stage with urdf enabled")
    poses = json.loads(poses_path.read_text())
    p.setGravity(*poses["gravity"], physicsClientId=client)
    ids = {"_environment": p.loadURDF(str(urdf_dir / poses["environment"]), useFixedBase=True, physicsClientId=client)}
    for body in poses["bodies"]:
        w, x, y, z = body["quaternion"]
        ids[body["name"]] = p.loadURDF(
            str(urdf_dir / body["urdf"]),
            basePosition=body["position"],
            baseOrientation=[x, y, z, w],
            flags=p.URDF_USE_INERTIA_FROM_FILE,
            physicsClientId=client,
        )
    return ids


def link_pose(client: int, body: int) -> tuple[np.ndarray, np.ndarray]:
    """World pose of the URDF base link frame (pybullet reports the inertial frame):
    position [3], quaternion (w, x, y, z)."""
    p = pybullet_module()
    pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=client)
    info = p.getDynamicsInfo(body, -1, physicsClientId=client)
    inv_pos, inv_orn = p.invertTransform(info[3], info[4])
    lp, lo = p.multiplyTransforms(pos, orn, inv_pos, inv_orn)
    return np.asarray(lp), np.asarray([lo[3], lo[0], lo[1], lo[2]])


def settle_pybullet(urdf_dir, seconds: float = 2.0) -> SettleResult:
    """Load ``urdf_dir`` into a fresh DIRECT client and step ``seconds`` at 240 Hz."""
    p = pybullet_module()
    t0 = time.perf_counter()
    client = p.connect(p.DIRECT)
    try:
        p.setTimeStep(TIMESTEP, physicsClientId=client)
        ids = load_urdf_dir(urdf_dir, client)
        names = [n for n in ids if n != "_environment"]
        start = {n: link_pose(client, ids[n]) for n in names}
        max_speed = dict.fromkeys(names, 0.0)
        for _ in range(int(round(seconds / TIMESTEP))):
            p.stepSimulation(physicsClientId=client)
            for n in names:
                v, _ = p.getBaseVelocity(ids[n], physicsClientId=client)
                max_speed[n] = max(max_speed[n], float(np.linalg.norm(v)))
        bodies = []
        for n in names:
            b = ids[n]
            deepest = 0.0
            for c in p.getContactPoints(bodyA=b, physicsClientId=client):
                deepest = max(deepest, -float(c[8]))
            v, w = p.getBaseVelocity(b, physicsClientId=client)
            info = p.getDynamicsInfo(b, -1, physicsClientId=client)
            mass, inertia_diag = info[0], np.asarray(info[2])
            _, orn = p.getBasePositionAndOrientation(b, physicsClientId=client)
            R = np.asarray(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
            w_local = R.T @ np.asarray(w)
            ke = 0.5 * mass * float(np.dot(v, v)) + 0.5 * float(np.sum(inertia_diag * w_local**2))
            p1, q1 = link_pose(client, b)
            bodies.append(body_result(n, *start[n], p1, q1, deepest, ke, max_speed[n]))
    finally:
        p.disconnect(client)
    return SettleResult("pybullet", seconds, TIMESTEP, bodies, [], round(time.perf_counter() - t0, 3))


def initial_contacts(urdf_dir) -> list[dict]:
    """Closest points between every pair at the exported poses (negative distance = overlap)."""
    p = pybullet_module()
    client = p.connect(p.DIRECT)
    try:
        ids = load_urdf_dir(urdf_dir, client)
        p.performCollisionDetection(physicsClientId=client)
        names = {v: k for k, v in ids.items()}
        out = []
        for c in p.getContactPoints(physicsClientId=client):
            if c[8] < 0:
                out.append({"body1": names[c[1]], "body2": names[c[2]], "depth_m": -float(c[8])})
        return out
    finally:
        p.disconnect(client)
