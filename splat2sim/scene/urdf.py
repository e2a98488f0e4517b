"""URDF exporter: one file per object (a single free link) plus ``environment.urdf`` (the
static support surface), ``scene_poses.json`` and ``load_pybullet.py`` (a stand-alone
example that loads everything into pybullet with ``URDF_USE_INERTIA_FROM_FILE``).

URDF has no world pose for a free body: the loader places each object at its scene.json
pose. The inertia is written in its principal frame (``<inertial><origin rpy>``, diagonal
moments) because pybullet reads only ixx, iyy and izz.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from splat2sim.scene.common import attr, fmt, principal_inertia, relpath, rpy_from_matrix
from splat2sim.scene.schema import SceneData

SUPPORT_THICKNESS = 0.04


def object_urdf(scene: SceneData, body, out_dir: Path) -> str:
    rel = lambda p: relpath(scene.asset(p), out_dir)  # noqa: E731
    moments, axes = principal_inertia(body.inertial["inertia"])
    c = body.contact
    s = fmt([body.scale] * 3)
    rgba = (body.appearance or {}).get("rgba") or [0.8, 0.8, 0.8, 1.0]
    lines = [
        '<?xml version="1.0"?>',
        f"<!-- {body.name}: exported by splat2sim; load with URDF_USE_INERTIA_FROM_FILE -->",
        f"<robot name={attr(body.name)}>",
        f"  <link name={attr(body.name)}>",
        "    <contact>",
        f'      <lateral_friction value="{fmt(c.get("friction", 0.5))}"/>',
        f'      <rolling_friction value="{fmt(c.get("rolling_friction", 0.0))}"/>',
        '      <spinning_friction value="0.001"/>',
        f'      <restitution value="{fmt(c.get("restitution", 0.0))}"/>',
        "    </contact>",
        "    <inertial>",
        f'      <origin xyz="{fmt(body.inertial["center_of_mass"])}" rpy="{fmt(rpy_from_matrix(axes))}"/>',
        f'      <mass value="{fmt(body.inertial["mass"])}"/>',
        f'      <inertia ixx="{fmt(moments[0])}" ixy="0" ixz="0" iyy="{fmt(moments[1])}" iyz="0" izz="{fmt(moments[2])}"/>',
        "    </inertial>",
    ]
    if body.visual:
        lines += [
            "    <visual>",
            f'      <geometry><mesh filename={attr(rel(body.visual))} scale="{s}"/></geometry>',
            f'      <material name={attr(body.name + "_material")}><color rgba="{fmt(rgba)}"/></material>',
            "    </visual>",
        ]
    for hull in body.collision:
        lines += ["    <collision>", f'      <geometry><mesh filename={attr(rel(hull))} scale="{s}"/></geometry>', "    </collision>"]
    lines += ["  </link>", "</robot>", ""]
    return "\n".join(lines)


def environment_urdf(scene: SceneData) -> str:
    plane = scene.environment["support_plane"]
    sx, sy = plane["size"]
    cx, cy = plane.get("center", [0.0, 0.0, 0.0])[:2]
    origin = f'<origin xyz="{fmt([cx, cy, -SUPPORT_THICKNESS / 2])}" rpy="{fmt([0.0, 0.0, float(plane.get("yaw", 0.0))])}"/>'
    return "\n".join([
        '<?xml version="1.0"?>',
        '<robot name="environment">',
        '  <link name="support">',
        "    <contact>",
        f'      <lateral_friction value="{fmt(plane.get("friction", 0.8))}"/>',
        '      <restitution value="0"/>',
        "    </contact>",
        '    <inertial><mass value="0"/><inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>',
        "    <visual>",
        f"      {origin}",
        f'      <geometry><box size="{fmt([sx, sy, SUPPORT_THICKNESS])}"/></geometry>',
        '      <material name="support"><color rgba="0.55 0.45 0.35 1"/></material>',
        "    </visual>",
        "    <collision>",
        f"      {origin}",
        f'      <geometry><box size="{fmt([sx, sy, SUPPORT_THICKNESS])}"/></geometry>',
        "    </collision>",
        "  </link>",
        "</robot>",
        "",
    ])  # fmt: skip


EXAMPLE = '''"""Load this splat2sim export into pybullet and let it settle (generated; needs only pybullet).

    python load_pybullet.py            # headless, prints the final poses
    python load_pybullet.py --gui      # opens the pybullet viewer
"""
import json
import os
import sys

import pybullet as p

HERE = os.path.dirname(os.path.abspath(__file__))


def load(client):
    """Load the environment and every object; returns {name: body id}."""
    poses = json.load(open(os.path.join(HERE, "scene_poses.json")))
    p.setGravity(*poses["gravity"], physicsClientId=client)
    ids = {"_environment": p.loadURDF(os.path.join(HERE, "environment.urdf"), useFixedBase=True, physicsClientId=client)}
    for body in poses["bodies"]:
        w, x, y, z = body["quaternion"]
        ids[body["name"]] = p.loadURDF(
            os.path.join(HERE, body["urdf"]), basePosition=body["position"], baseOrientation=[x, y, z, w],
            flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
    return ids


if __name__ == "__main__":
    client = p.connect(p.GUI if "--gui" in sys.argv else p.DIRECT)
    ids = load(client)
    p.setTimeStep(1 / 240, physicsClientId=client)
    for _ in range(480):  # 2 s
        p.stepSimulation(physicsClientId=client)
    for name, body in ids.items():
        if name != "_environment":
            # pybullet reports the centre-of-mass frame; undo the inertial offset for the link frame
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=client)
            info = p.getDynamicsInfo(body, -1, physicsClientId=client)
            pos, orn = p.multiplyTransforms(pos, orn, *p.invertTransform(info[3], info[4]))
            print(name, [round(v, 4) for v in pos])
    if "--gui" in sys.argv:
        input("press Enter to quit")
'''


def write_urdf(scene: SceneData, out_dir) -> Path:
    """Write the URDFs, scene_poses.json and load_pybullet.py; returns scene_poses.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "environment.urdf").write_text(environment_urdf(scene))
    poses = {"schema_version": 1, "gravity": [float(g) for g in scene.gravity], "environment": "environment.urdf", "bodies": []}
    for body in scene.bodies:
        (out_dir / f"{body.name}.urdf").write_text(object_urdf(scene, body, out_dir))
        poses["bodies"].append(
            {
                "name": body.name,
                "urdf": f"{body.name}.urdf",
                "position": [float(v) for v in body.position],
                "quaternion": [float(v) for v in body.quaternion],
            }
        )
    (out_dir / "scene_poses.json").write_text(json.dumps(poses, indent=2) + "\n")
    (out_dir / "load_pybullet.py").write_text(EXAMPLE)
    return out_dir / "scene_poses.json"


def principal_check(inertia) -> float:
    """Largest relative error of reconstructing the inertia from its principal form (tests)."""
    moments, axes = principal_inertia(inertia)
    I = np.asarray(inertia, np.float64)
    return float(np.abs(axes @ np.diag(moments) @ axes.T - I).max() / max(np.abs(I).max(), 1e-30))
