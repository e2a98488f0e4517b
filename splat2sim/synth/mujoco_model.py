"""The MuJoCo model of a synthetic scene: its mesh and texture files, its MJCF (Menagerie
habits: visual/collision classes, explicit inertials), loading it, and settling the objects."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError
from splat2sim.synth import meshes as M
from splat2sim.synth import textures as T
from splat2sim.synth.config import SynthConfig
from splat2sim.synth.scene import MARKER_THICKNESS, Scene, quat_yaw


def _f(x) -> str:
    return " ".join(repr(float(v)) for v in np.atleast_1d(x))


def write_scene_assets(scene: Scene, out_dir: Path, rng: np.random.Generator, config: SynthConfig) -> None:
    """Write room, table and marker meshes and textures under ``assets/`` and each
    object's OBJ and texture under ``objects/``."""
    assets = out_dir / "assets"
    objects = out_dir / "objects"
    assets.mkdir(parents=True, exist_ok=True)
    objects.mkdir(parents=True, exist_ok=True)
    ts = config.texture_size
    tx, ty = scene.table_size
    rh, rz = scene.room_half, scene.room_height
    M.write_obj(assets / "table_top.obj", M.slab(tx, ty, 0.03))
    T.write_png(assets / "table_top.png", T.wood_texture(rng, ts, int(ts * tx / ty) // 2 * 2))
    M.write_obj(assets / "floor.obj", M.slab(2 * rh, 2 * rh, 0.05))
    T.write_png(assets / "floor.png", T.rich_texture(rng, 2 * ts, 2 * ts))
    M.write_obj(assets / "wall.obj", M.slab(2 * rh, rz, 0.05))
    for k in range(4):
        T.write_png(assets / f"wall_{k}.png", T.rich_texture(rng, ts, int(ts * 2 * rh / rz) // 2 * 2))
    if scene.marker is not None:
        side = scene.marker.size + 2 * scene.marker.border
        M.write_obj(assets / "marker.obj", M.slab(side, side, MARKER_THICKNESS))
        T.write_png(assets / "marker.png", scene.marker.image)
    for o in scene.objects:
        if isinstance(o.texture, np.ndarray):
            T.write_png(objects / f"{o.name}.png", o.texture)
        elif o.texture is not None:
            (objects / f"{o.name}.png").write_bytes(Path(o.texture).read_bytes())
        has_tex = o.texture is not None and o.mesh.uvs is not None
        M.write_obj(objects / f"{o.name}.obj", o.mesh, o.name if has_tex else None, f"{o.name}.png" if has_tex else None)


def mjcf(scene: Scene, config: SynthConfig) -> str:
    """The MuJoCo model (Menagerie habits: visual/collision classes, explicit inertials)."""
    lines = [
        *_header(scene, config),
        *_assets(scene),
        "  <worldbody>",
        *_lights(scene, config),
        *_room(scene),
        *_table(scene),
        *_bodies(scene),
        f'    <camera name="phone" pos="0 0 1" fovy="{config.fovy_deg}"/>',
        "  </worldbody>",
        "</mujoco>",
        "",
    ]
    return "\n".join(lines)


def _header(scene: Scene, config: SynthConfig) -> list[str]:
    """Compiler, physics options, rendering settings and the visual / collision classes."""
    w, h = config.width, config.height
    return [
        '<mujoco model="splat2sim_synthetic_capture">',
        '  <compiler angle="radian" autolimits="true"/>',
        '  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>',
        f'  <statistic center="0 0 0" extent="{2 * scene.room_half}"/>',
        "  <visual>",
        f'    <global offwidth="{max(w, 64)}" offheight="{max(h, 64)}" fovy="{config.fovy_deg}"/>',
        '    <headlight ambient="0.25 0.25 0.25" diffuse="0.15 0.15 0.15" specular="0 0 0"/>',
        f'    <quality shadowsize="{4096 if config.shadows else 0}" offsamples="4"/>',
        '    <map znear="0.002" zfar="5" shadowclip="0.5"/>',
        "  </visual>",
        "  <default>",
        '    <default class="visual">',
        '      <geom group="2" contype="0" conaffinity="0"/>',
        "    </default>",
        '    <default class="collision">',
        '      <geom group="3" condim="6" friction="0.8 0.02 0.002" solref="0.004 1"/>',
        "    </default>",
        "  </default>",
    ]


def _assets(scene: Scene) -> list[str]:
    """Meshes, textures and materials: the files ``write_scene_assets`` wrote."""
    lines = [
        "  <asset>",
        '    <mesh name="table_top" file="assets/table_top.obj" inertia="convex"/>',
        '    <texture name="table_top" type="2d" file="assets/table_top.png"/>',
        '    <material name="table_top" texture="table_top" specular="0.15" shininess="0.2"/>',
        '    <mesh name="floor" file="assets/floor.obj" inertia="convex"/>',
        '    <texture name="floor" type="2d" file="assets/floor.png"/>',
        '    <material name="floor" texture="floor" specular="0.05"/>',
        '    <mesh name="wall" file="assets/wall.obj" inertia="convex"/>',
        '    <material name="leg" rgba="0.35 0.25 0.17 1" specular="0.1"/>',
    ]
    for k in range(4):
        lines += [
            f'    <texture name="wall_{k}" type="2d" file="assets/wall_{k}.png"/>',
            f'    <material name="wall_{k}" texture="wall_{k}" specular="0.02"/>',
        ]
    if scene.marker is not None:
        lines += [
            '    <mesh name="marker" file="assets/marker.obj" inertia="convex"/>',
            '    <texture name="marker" type="2d" file="assets/marker.png"/>',
            '    <material name="marker" texture="marker" specular="0.05"/>',
        ]
    for o in scene.objects:
        lines.append(f'    <mesh name="{o.name}" file="objects/{o.name}.obj" inertia="convex"/>')
        if o.texture is not None and o.mesh.uvs is not None:
            lines += [
                f'    <texture name="{o.name}" type="2d" file="objects/{o.name}.png"/>',
                f'    <material name="{o.name}" texture="{o.name}" specular="0.2" shininess="0.3"/>',
            ]
        else:
            lines.append(f'    <material name="{o.name}" rgba="0.6 0.6 0.6 1"/>')
    lines.append("  </asset>")
    return lines


def _lights(scene: Scene, config: SynthConfig) -> list[str]:
    return [
        f'    <light name="light_{i}" pos="{_f(li["pos"])}" dir="{_f(li["dir"])}" diffuse="{_f(li["diffuse"])}" '
        f'specular="0.2 0.2 0.2" cutoff="{li["cutoff"]}" castshadow="{"true" if li["shadow"] and config.shadows else "false"}" '
        f'bulbradius="{li["bulbradius"]}"/>'
        for i, li in enumerate(scene.lights)
    ]


def _room(scene: Scene) -> list[str]:
    """The floor (a visual slab and a collision plane) and four visual walls."""
    th = scene.table_height
    rh, rz = scene.room_half, scene.room_height
    lines = [
        f'    <geom name="floor" class="visual" type="mesh" mesh="floor" material="floor" pos="0 0 {_f(-th)}"/>',
        f'    <geom name="floor_collision" class="collision" type="plane" size="{rh} {rh} 0.1" pos="0 0 {_f(-th)}"/>',
    ]
    # Walls: slabs whose textured face points into the room.
    for k in range(4):
        yaw = k * np.pi / 2
        c, s = math.cos(yaw), math.sin(yaw)
        # Local frame: slab +z (textured face) points to the room centre, slab +y is world up.
        normal = np.array([-c, -s, 0.0])
        up = np.array([0.0, 0.0, 1.0])
        xaxis = np.cross(up, normal)
        pos = np.array([c * rh, s * rh, -th + rz / 2])
        lines.append(
            f'    <geom name="wall_{k}" class="visual" type="mesh" mesh="wall" material="wall_{k}" pos="{_f(pos)}" xyaxes="{_f(xaxis)} {_f(up)}"/>'
        )
    return lines


def _table(scene: Scene) -> list[str]:
    """The table body: a textured top with a box collider, and four visual legs."""
    tx, ty = scene.table_size
    th = scene.table_height
    lines = [
        '    <body name="table">',
        '      <geom name="table_top" class="visual" type="mesh" mesh="table_top" material="table_top"/>',
        f'      <geom name="table_collision" class="collision" type="box" size="{_f(tx / 2)} {_f(ty / 2)} 0.015" pos="0 0 -0.015"/>',
    ]
    for k, (sx, sy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        lx, ly = sx * (tx / 2 - 0.06), sy * (ty / 2 - 0.06)
        lines.append(
            f'      <geom name="table_leg_{k}" class="visual" type="box" size="0.025 0.025 {_f((th - 0.03) / 2)}" '
            f'pos="{_f(lx)} {_f(ly)} {_f(-(th + 0.03) / 2)}" material="leg"/>'
        )
    lines.append("    </body>")
    return lines


def _bodies(scene: Scene) -> list[str]:
    """The marker card (visual only) and one free body per object with its inertial."""
    lines = []
    if scene.marker is not None:
        mk = scene.marker
        lines.append(
            f'    <geom name="marker" class="visual" type="mesh" mesh="marker" material="marker" '
            f'pos="{_f(mk.center[0])} {_f(mk.center[1])} {_f(mk.center[2])}" quat="{_f(quat_yaw(mk.yaw))}"/>'
        )
    for o in scene.objects:
        p = o.props
        I = p["inertia"]
        lines += [
            f'    <body name="{o.name}" pos="{_f(o.position)}" quat="{_f(o.quat)}">',
            f'      <freejoint name="{o.name}"/>',
            f'      <inertial pos="{_f(p["center_of_mass"])}" mass="{_f(o.mass)}" '
            f'fullinertia="{_f([I[0, 0], I[1, 1], I[2, 2], I[0, 1], I[0, 2], I[1, 2]])}"/>',
            f'      <geom name="{o.name}_visual" class="visual" type="mesh" mesh="{o.name}" material="{o.name}"/>',
            f'      <geom name="{o.name}_collision" class="collision" type="mesh" mesh="{o.name}"/>',
            "    </body>",
        ]
    return lines


def load_model(xml_path: Path):
    from splat2sim.synth.render import mujoco_module

    mujoco = mujoco_module()
    try:
        return mujoco.MjModel.from_xml_path(str(xml_path))
    except Exception as exc:  # mujoco raises ValueError with the compiler's message
        raise InputError(f"MuJoCo could not load {xml_path}: {exc}", hint="a mesh file may be broken (e.g. degenerate or empty)") from exc


def settle(xml_path: Path, scene: Scene, seconds: float) -> None:
    """Drop the objects onto the table and let them come to rest; write their final world
    poses back into ``scene.objects``."""
    from splat2sim.synth.render import mujoco_module

    mujoco = mujoco_module()
    model = load_model(xml_path)
    data = mujoco.MjData(model)
    model.dof_damping[:] = 0.05  # bleeds off the small bounces; only while settling
    steps = int(round(seconds / model.opt.timestep))
    for k in range(steps):
        mujoco.mj_step(model, data)
        if k > 100 and k % 50 == 0 and np.abs(data.qvel).max(initial=0.0) < 1e-4:
            break
    for o in scene.objects:
        bid = model.body(o.name).id
        q = data.xquat[bid].copy()
        o.position = data.xpos[bid].copy()
        o.quat = q / np.linalg.norm(q)
