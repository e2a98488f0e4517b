"""MJCF exporter (MuJoCo Menagerie habits): ``scene.xml`` with options, default classes,
the support surface, lights and ``<include file="objects.xml"/>``; ``objects.xml`` with the
meshes, textures, materials and one freejoint body per object (explicit ``<inertial>``,
a visual geom in class ``visual`` (group 2, no contacts) and one collision geom per convex
hull in class ``collision`` (group 3), friction per geom). 2-space indent; ``meshdir``
points at the scene folder so asset paths stay those of scene.json. scene.xml also holds a
fixed ``<camera>`` per filmed keyframe of export/cameras.json (named as there, see
splat2sim.scene.keyframes), so MuJoCo renders the views the splat was filmed from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splat2sim.scene.common import attr, fmt, relpath, restitution_dampratio
from splat2sim.scene.keyframes import mjcf_camera_line, scene_keyframes
from splat2sim.scene.schema import SceneData

TIMESTEP = 0.002
TORSIONAL_FRICTION = 0.005
SOLREF_TIMECONST = 0.004
SUPPORT_THICKNESS = 0.04

DEFAULT_LIGHTS = [
    {"pos": [0.6, -0.6, 1.8], "dir": [-0.3, 0.3, -1.0], "diffuse": [0.6, 0.6, 0.6], "castshadow": True},
    {"pos": [-0.8, 0.5, 1.5], "dir": [0.4, -0.25, -1.0], "diffuse": [0.3, 0.3, 0.3], "castshadow": False},
]


def _header(scene: SceneData, meshdir: str, width: int = 640, height: int = 480) -> list[str]:
    g = scene.gravity
    return [
        f"<mujoco model={attr(scene.name)}>",
        f'  <compiler angle="radian" meshdir={attr(meshdir)} texturedir={attr(meshdir)} autolimits="true"/>',
        f'  <option timestep="{TIMESTEP}" gravity="{fmt(g)}" integrator="implicitfast" cone="elliptic" impratio="10"/>',
        '  <statistic center="0 0 0.1" extent="1"/>',
        "  <visual>",
        f'    <global offwidth="{max(width, 64)}" offheight="{max(height, 64)}"/>',
        '    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>',
        '    <quality shadowsize="2048" offsamples="4"/>',
        '    <map znear="0.002" zfar="20"/>',
        "  </visual>",
        "  <default>",
        '    <default class="visual">',
        '      <geom type="mesh" group="2" contype="0" conaffinity="0"/>',
        "    </default>",
        '    <default class="collision">',
        f'      <geom type="mesh" group="3" condim="6" solref="{SOLREF_TIMECONST} 1"/>',
        "    </default>",
        "  </default>",
    ]


def _support_lines(scene: SceneData, indent: str = "    ") -> list[str]:
    plane = scene.environment["support_plane"]
    sx, sy = plane["size"]
    cx, cy = plane.get("center", [0.0, 0.0, 0.0])[:2]
    yaw = float(plane.get("yaw", 0.0))  # radians about +z (splat2sim.geometry.rectangle)
    mu = float(plane.get("friction", 0.8))
    where = f'pos="{fmt([cx, cy, -SUPPORT_THICKNESS / 2])}" euler="{fmt([0.0, 0.0, yaw])}"'  # the compiler reads radians
    lines = [
        f'{indent}<geom name="support" class="collision" type="box" size="{fmt([sx / 2, sy / 2, SUPPORT_THICKNESS / 2])}" '
        f'{where} friction="{fmt([mu, TORSIONAL_FRICTION, 0.0001])}"/>',
        f'{indent}<geom name="support_visual" class="visual" type="box" size="{fmt([sx / 2, sy / 2, SUPPORT_THICKNESS / 2])}" '
        f'{where} material="support"/>',
    ]
    if scene.environment.get("background_visual"):
        lines.append(f'{indent}<geom name="background_visual" class="visual" mesh="background" material="background"/>')
    return lines


def _light_lines(scene: SceneData, indent: str = "    ") -> list[str]:
    out = []
    for i, li in enumerate(scene.environment.get("lights") or DEFAULT_LIGHTS):
        out.append(
            f'{indent}<light name="light_{i}" pos="{fmt(li["pos"])}" dir="{fmt(li["dir"])}" diffuse="{fmt(li["diffuse"])}" '
            f'specular="0.1 0.1 0.1" castshadow="{"true" if li.get("castshadow") else "false"}"/>'
        )
    return out


def _env_asset_lines(scene: SceneData, rel, indent: str = "    ") -> list[str]:
    """rel(asset path of scene.json) -> path relative to meshdir."""
    lines = [
        f'{indent}<texture name="support_grid" type="2d" builtin="checker" rgb1="0.55 0.45 0.35" rgb2="0.5 0.4 0.3" width="256" height="256"/>',
        f'{indent}<material name="support" texture="support_grid" texrepeat="4 4" texuniform="true" reflectance="0.05"/>',
    ]
    bg = scene.environment.get("background_visual")
    if bg:
        lines += [
            f'{indent}<mesh name="background" file={attr(rel(bg))} inertia="shell"/>',
            f'{indent}<material name="background" rgba="0.7 0.7 0.7 1"/>',
        ]
    return lines


def _body_asset_lines(scene: SceneData, rel, indent: str = "    ") -> list[str]:
    lines = []
    for b in scene.bodies:
        s = fmt([b.scale] * 3)
        rgba = (b.appearance or {}).get("rgba")
        if b.visual:
            lines.append(f'{indent}<mesh name={attr(b.name + "_visual")} file={attr(rel(b.visual))} scale="{s}" inertia="shell"/>')
        if b.texture:
            lines.append(f'{indent}<texture name={attr(b.name)} type="2d" file={attr(rel(b.texture))}/>')
            lines.append(f'{indent}<material name={attr(b.name)} texture={attr(b.name)} rgba="{fmt(rgba or [1, 1, 1, 1])}" specular="0.2"/>')
        else:
            lines.append(f'{indent}<material name={attr(b.name)} rgba="{fmt(rgba or [0.7, 0.7, 0.7, 1])}" specular="0.2"/>')
        for k, hull in enumerate(b.collision):
            lines.append(f'{indent}<mesh name={attr(f"{b.name}_hull_{k:03d}")} file={attr(rel(hull))} scale="{s}" inertia="convex"/>')
    return lines


def _body_lines(scene: SceneData, indent: str = "    ") -> list[str]:
    lines = []
    for b in scene.bodies:
        I = np.asarray(b.inertial["inertia"], np.float64)
        c = b.contact
        friction = fmt([c.get("friction", 0.5), TORSIONAL_FRICTION, c.get("rolling_friction", 0.0001)])
        solref = fmt([SOLREF_TIMECONST, restitution_dampratio(c.get("restitution", 0.0))])
        lines += [
            f'{indent}<body name={attr(b.name)} pos="{fmt(b.position)}" quat="{fmt(b.quaternion)}">',
            f"{indent}  <freejoint name={attr(b.name)}/>",
            f'{indent}  <inertial pos="{fmt(b.inertial["center_of_mass"])}" mass="{fmt(b.inertial["mass"])}" '
            f'fullinertia="{fmt([I[0, 0], I[1, 1], I[2, 2], I[0, 1], I[0, 2], I[1, 2]])}"/>',
        ]
        if b.visual:
            lines.append(f'{indent}  <geom name={attr(b.name + "_visual")} class="visual" mesh={attr(b.name + "_visual")} material={attr(b.name)}/>')
        for k in range(len(b.collision)):
            lines.append(
                f'{indent}  <geom name={attr(f"{b.name}_collision_{k:03d}")} class="collision" mesh={attr(f"{b.name}_hull_{k:03d}")} '
                f'friction="{friction}" solref="{solref}" rgba="{fmt(_hull_colour(k))}"/>'
            )
        lines.append(f"{indent}</body>")
    return lines


def _hull_colour(k: int) -> list[float]:
    palette = [(0.9, 0.3, 0.3), (0.3, 0.7, 0.3), (0.3, 0.4, 0.9), (0.9, 0.7, 0.2), (0.7, 0.3, 0.8), (0.2, 0.8, 0.8)]
    return [*palette[k % len(palette)], 0.6]


def _overview_camera(scene: SceneData, indent: str = "    ") -> str:
    return f'{indent}<camera name="overview" pos="0 -1.0 0.7" xyaxes="1 0 0 0 0.57 0.82" fovy="50"/>'


def _cameras(scene: SceneData) -> tuple[list[str], int, int]:
    """(the overview and keyframe ``<camera>`` lines, offscreen width, height): the
    offscreen buffer holds the largest keyframe."""
    frames = scene_keyframes(scene)
    width = max([640] + [f.width for f in frames])
    height = max([480] + [f.height for f in frames])
    return [_overview_camera(scene)] + [mjcf_camera_line(f) for f in frames], width, height


def mjcf_documents(scene: SceneData, out_dir: Path) -> dict[str, str]:
    """{"scene.xml": ..., "objects.xml": ...} for files written into ``out_dir``."""
    meshdir = relpath(scene.root, out_dir) if scene.root is not None else "."
    rel = lambda p: Path(p).as_posix()  # noqa: E731  (paths are relative to meshdir = scene root)
    cameras, width, height = _cameras(scene)
    main = _header(scene, meshdir, width, height)
    main += ["  <asset>", *_env_asset_lines(scene, rel), "  </asset>", ""]
    main += [
        '  <include file="objects.xml"/>',
        "",
        "  <worldbody>",
        *_light_lines(scene),
        *_support_lines(scene),
        *cameras,
        "  </worldbody>",
        "</mujoco>",
        "",
    ]
    objects = [
        f"<mujoco model={attr(scene.name + '_objects')}>",
        "  <asset>",
        *_body_asset_lines(scene, rel),
        "  </asset>",
        "",
        "  <worldbody>",
        *_body_lines(scene),
        "  </worldbody>",
        "</mujoco>",
        "",
    ]
    return {"scene.xml": "\n".join(main), "objects.xml": "\n".join(objects)}


def mjcf_string(scene: SceneData) -> str:
    """One self-contained MJCF document with absolute asset paths (for in-memory loading)."""
    root = scene.root.resolve() if scene.root is not None else Path(".").resolve()
    cameras, width, height = _cameras(scene)
    lines = _header(scene, str(root), width, height)
    rel = lambda p: Path(p).as_posix()  # noqa: E731
    lines += [
        "  <asset>",
        *_env_asset_lines(scene, rel),
        *_body_asset_lines(scene, rel),
        "  </asset>",
        "  <worldbody>",
        *_light_lines(scene),
        *_support_lines(scene),
        *cameras,
        *_body_lines(scene),
        "  </worldbody>",
        "</mujoco>",
        "",
    ]
    return "\n".join(lines)


def write_mjcf(scene: SceneData, out_dir) -> Path:
    """Write ``out_dir/scene.xml`` and ``out_dir/objects.xml``; returns scene.xml's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in mjcf_documents(scene, out_dir).items():
        (out_dir / name).write_text(text)
    return out_dir / "scene.xml"
