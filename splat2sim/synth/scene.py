"""Scene layout and the MuJoCo model: room, table, marker and objects; placement without
overlap (optionally touching); settling under physics.

World frame: right-handed, +z up, metres, origin at the centre of the table top (so the
table top is z = 0 and the floor is at z = -table_height).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from splat2sim.errors import DependencyError, InputError, StageError
from splat2sim.synth import meshes as M
from splat2sim.synth import textures as T
from splat2sim.synth.config import OBJECT_KINDS, SynthConfig

DROP_HEIGHT = 0.004  # metres: objects start this far above the table and fall onto it
MARKER_THICKNESS = 0.001  # metres: the printed marker is a thin card


@dataclass
class SceneObject:
    name: str
    kind: str  # procedural kind, or "mesh_file"
    mesh: M.Mesh  # in the object's own frame
    mass: float
    dimensions: dict
    texture: np.ndarray | Path | None  # generated image (H, W, 3) or a file to copy
    source: str | None = None  # original mesh file for "mesh_file" objects
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) world
    quat: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0, 0]))  # (4,) w, x, y, z
    props: dict = field(default_factory=dict)  # volume, centre of mass, inertia
    inertia_source: str = "mesh"


@dataclass
class Marker:
    dictionary: str
    marker_id: int
    size: float  # side of the black square, metres
    border: float  # white border width, metres
    center: np.ndarray  # (3,) world, on the marker's top surface
    yaw: float  # radians about +z
    image: np.ndarray  # (H, W, 3) uint8, the printed card (marker + white border)

    def corners_world(self) -> np.ndarray:
        """(4, 3) black-square corners in OpenCV ArUco order: top-left, top-right,
        bottom-right, bottom-left of the marker image. Image right is the card's +x and
        image up is its +y, so seen from above the marker reads the right way round."""
        h = self.size / 2
        local = np.array([[-h, h], [h, h], [h, -h], [-h, -h]])
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        xy = local @ np.array([[c, s], [-s, c]]) + self.center[:2]
        return np.concatenate([xy, np.full((4, 1), self.center[2])], 1)


@dataclass
class Scene:
    objects: list[SceneObject]
    marker: Marker | None
    table_size: tuple[float, float]  # metres, x and y
    table_height: float  # metres, floor to table top
    room_half: float  # metres, half side of the square room
    room_height: float
    lights: list[dict]
    center: np.ndarray  # (3,) world point the phone looks at


def sanitize_name(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return s or "object"


def _quat_yaw(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """(4,) w, x, y, z -> (3, 3) rotation."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


# --------------------------------------------------------------------------- content


def marker_image(dictionary: str, marker_id: int, cell_px: int = 32) -> np.ndarray:
    """The ArUco marker with a one-cell white border, RGB (H, W, 3) uint8."""
    try:
        import cv2
        aruco = cv2.aruco
    except (ImportError, AttributeError) as exc:
        raise DependencyError("ArUco markers need OpenCV with the aruco module",
                              hint="pip install opencv-python-headless") from exc
    if not hasattr(aruco, dictionary):
        raise InputError(f"unknown ArUco dictionary {dictionary!r}", hint="e.g. DICT_4X4_50")
    d = aruco.getPredefinedDictionary(getattr(aruco, dictionary))
    cells = d.markerSize + 2  # bits plus the black frame
    if not 0 <= marker_id < len(d.bytesList):
        raise InputError(f"marker id {marker_id} is not in {dictionary}", hint=f"use 0-{len(d.bytesList) - 1}")
    img = aruco.generateImageMarker(d, marker_id, cells * cell_px)
    img = np.pad(img, cell_px, constant_values=255)
    return np.repeat(img[..., None], 3, axis=2)


def build_objects(config: SynthConfig, rng: np.random.Generator) -> list[SceneObject]:
    """Procedural objects chosen by the seed (or listed) plus the given mesh files."""
    files = config.resolved_mesh_files()
    if config.object_kinds is not None:
        kinds = list(config.object_kinds)
    else:
        n = config.num_objects if config.num_objects is not None else (
            int(rng.integers(2, 6)) if not files else int(rng.integers(0, 3)))
        kinds = [OBJECT_KINDS[int(i)] for i in rng.integers(0, len(OBJECT_KINDS), n)]
    objs: list[SceneObject] = []
    used: set[str] = set()

    def unique(base: str) -> str:
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    for i, kind in enumerate(kinds):
        mesh, dims, mass = M.make_object(kind, rng)
        tex = T.object_texture(rng, max(128, config.texture_size // 2))
        objs.append(SceneObject(unique(f"{kind}_{i}"), kind, mesh, mass, dims, tex))
    for mf in files:
        path = Path(mf.path)
        if mf.mass <= 0:
            raise InputError(f"mass of {mf.name!r} must be positive, got {mf.mass}", hint="give the mass in kg")
        mesh, tex = M.read_obj(path)
        objs.append(SceneObject(unique(sanitize_name(mf.name)), "mesh_file", mesh, float(mf.mass), {}, tex, source=str(path)))
    for o in objs:
        closed = M.is_closed(o.mesh) and M.signed_volume(o.mesh) > 0
        # Open scans (holes) have no well-defined volume: fall back to the convex hull.
        solid = o.mesh if closed else M.convex_hull(o.mesh)
        o.inertia_source = "mesh" if closed else "convex_hull"
        o.props = M.mass_properties(solid, o.mass)
        o.props["watertight"] = bool(closed)
    return objs


# --------------------------------------------------------------------------- placement


def _footprint(mesh: M.Mesh, yaw: float) -> np.ndarray:
    """(K, 2) convex polygon (counter-clockwise) of the mesh seen from above after a yaw."""
    from scipy.spatial import ConvexHull

    c, s = math.cos(yaw), math.sin(yaw)
    xy = mesh.vertices[:, :2] @ np.array([[c, s], [-s, c]])
    hull = ConvexHull(xy)
    return xy[hull.vertices]


def _separation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest gap between two convex polygons (K, 2) along any edge normal (SAT): > 0 means
    apart by at least that much, <= 0 means they overlap."""
    best = -np.inf
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], 1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        pa, pb = a @ normals.T, b @ normals.T
        gap = np.maximum(pb.min(0) - pa.max(0), pa.min(0) - pb.max(0))
        best = max(best, float(gap.max()))
    return best


def place(objects: list[SceneObject], marker_half: float, config: SynthConfig, rng: np.random.Generator,
          table_size: tuple[float, float]) -> np.ndarray | None:
    """Choose yaw and xy for every object so that footprints do not overlap each other or
    the marker card; with ``touching``, some objects are slid against a neighbour until
    1 mm apart. Returns the marker centre (2,) (or None). Raises if it cannot fit them."""
    placed: list[np.ndarray] = []  # world footprints
    limit = np.array(table_size) / 2 - 0.08
    marker_xy = None
    if config.marker:
        ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.14, 0.2)
        marker_xy = np.array([math.cos(ang), math.sin(ang)]) * dist
        yaw = rng.uniform(-np.pi, np.pi)
        c, s = math.cos(yaw), math.sin(yaw)
        sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * marker_half
        placed.append(sq @ np.array([[c, s], [-s, c]]) + marker_xy)
        marker_yaw = yaw
    gap_free, gap_touch = 0.02, 0.001
    for i, obj in enumerate(objects):
        yaw = float(rng.uniform(-np.pi, np.pi)) if obj.kind != "mesh_file" else float(rng.uniform(-np.pi, np.pi))
        fp = _footprint(obj.mesh, yaw)
        fp_centre = fp.mean(0)
        ok = None
        n_obj = len(placed) - (1 if config.marker else 0)
        want_touch = config.touching and n_obj > 0 and (n_obj == 1 or rng.random() < 0.5)
        if want_touch:
            for _ in range(60):
                j = int(rng.integers(1 if config.marker else 0, len(placed)))
                d = rng.uniform(0, 2 * np.pi)
                u = np.array([math.cos(d), math.sin(d)])
                # Slide along u from far away towards the neighbour until 1 mm apart.
                lo, hi = 0.0, 0.5
                base = placed[j].mean(0) - fp_centre
                if _separation(placed[j], fp + base + u * hi) <= gap_touch:
                    continue
                for _ in range(30):
                    mid = (lo + hi) / 2
                    if _separation(placed[j], fp + base + u * mid) > gap_touch:
                        hi = mid
                    else:
                        lo = mid
                off = base + u * hi
                cand = fp + off
                if np.all(np.abs(cand) < limit) and all(_separation(p, cand) >= gap_touch * 0.99 for p in placed):
                    ok = off
                    break
        if ok is None:
            radius = 0.12
            for attempt in range(400):
                off = rng.uniform(-radius, radius, 2) - fp_centre
                cand = fp + off
                if np.all(np.abs(cand) < limit) and all(_separation(p, cand) >= gap_free for p in placed):
                    ok = off
                    break
                radius = min(radius * 1.01, float(limit.min()))
        if ok is None:
            raise StageError(f"could not place object {obj.name!r} on the table without overlap",
                             hint="use fewer objects or a different seed")
        placed.append(fp + ok)
        # Lift so the lowest point of the mesh is DROP_HEIGHT above the surface it starts on.
        obj.position = np.array([ok[0], ok[1], DROP_HEIGHT - obj.mesh.vertices[:, 2].min()])
        obj.quat = _quat_yaw(yaw)
    if marker_xy is None:
        return None
    return np.array([marker_xy[0], marker_xy[1], marker_yaw])


# --------------------------------------------------------------------------- MJCF


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
        M.write_obj(objects / f"{o.name}.obj", o.mesh, o.name if has_tex else None,
                    f"{o.name}.png" if has_tex else None)


def mjcf(scene: Scene, config: SynthConfig) -> str:
    """The MuJoCo model (Menagerie habits: visual/collision classes, explicit inertials)."""
    w, h = config.width, config.height
    tx, ty = scene.table_size
    th = scene.table_height
    rh, rz = scene.room_half, scene.room_height
    lines = [
        '<mujoco model="splat2sim_synthetic_capture">',
        '  <compiler angle="radian" autolimits="true"/>',
        '  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>',
        f'  <statistic center="0 0 0" extent="{2 * rh}"/>',
        '  <visual>',
        f'    <global offwidth="{max(w, 64)}" offheight="{max(h, 64)}" fovy="{config.fovy_deg}"/>',
        '    <headlight ambient="0.25 0.25 0.25" diffuse="0.15 0.15 0.15" specular="0 0 0"/>',
        f'    <quality shadowsize="{4096 if config.shadows else 0}" offsamples="4"/>',
        '    <map znear="0.002" zfar="5" shadowclip="0.5"/>',
        '  </visual>',
        '  <default>',
        '    <default class="visual">',
        '      <geom group="2" contype="0" conaffinity="0"/>',
        '    </default>',
        '    <default class="collision">',
        '      <geom group="3" condim="6" friction="0.8 0.02 0.002" solref="0.004 1"/>',
        '    </default>',
        '  </default>',
        '  <asset>',
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
        lines += [f'    <texture name="wall_{k}" type="2d" file="assets/wall_{k}.png"/>',
                  f'    <material name="wall_{k}" texture="wall_{k}" specular="0.02"/>']
    if scene.marker is not None:
        lines += ['    <mesh name="marker" file="assets/marker.obj" inertia="convex"/>',
                  '    <texture name="marker" type="2d" file="assets/marker.png"/>',
                  '    <material name="marker" texture="marker" specular="0.05"/>']
    for o in scene.objects:
        lines.append(f'    <mesh name="{o.name}" file="objects/{o.name}.obj" inertia="convex"/>')
        if o.texture is not None and o.mesh.uvs is not None:
            lines += [f'    <texture name="{o.name}" type="2d" file="objects/{o.name}.png"/>',
                      f'    <material name="{o.name}" texture="{o.name}" specular="0.2" shininess="0.3"/>']
        else:
            lines.append(f'    <material name="{o.name}" rgba="0.6 0.6 0.6 1"/>')
    lines += ['  </asset>', '  <worldbody>']
    for i, li in enumerate(scene.lights):
        lines.append(
            f'    <light name="light_{i}" pos="{_f(li["pos"])}" dir="{_f(li["dir"])}" diffuse="{_f(li["diffuse"])}" '
            f'specular="0.2 0.2 0.2" cutoff="{li["cutoff"]}" castshadow="{"true" if li["shadow"] and config.shadows else "false"}" '
            f'bulbradius="{li["bulbradius"]}"/>')
    lines += [
        f'    <geom name="floor" class="visual" type="mesh" mesh="floor" material="floor" pos="0 0 {_f(-th)}"/>',
        f'    <geom name="floor_collision" class="collision" type="plane" size="{rh} {rh} 0.1" pos="0 0 {_f(-th)}"/>',
    ]
    # Walls: slabs whose textured face points into the room.
    wall_rot = [(0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    for k in range(4):
        yaw = k * np.pi / 2
        c, s = math.cos(yaw), math.sin(yaw)
        # Local frame: slab +z (textured face) points to the room centre, slab +y is world up.
        normal = np.array([-c, -s, 0.0])
        up = np.array([0.0, 0.0, 1.0])
        xaxis = np.cross(up, normal)
        pos = np.array([c * rh, s * rh, -th + rz / 2])
        lines.append(f'    <geom name="wall_{k}" class="visual" type="mesh" mesh="wall" material="wall_{k}" pos="{_f(pos)}" '
                     f'xyaxes="{_f(xaxis)} {_f(up)}"/>')
    del wall_rot
    lines += [
        '    <body name="table">',
        '      <geom name="table_top" class="visual" type="mesh" mesh="table_top" material="table_top"/>',
        f'      <geom name="table_collision" class="collision" type="box" size="{_f(tx / 2)} {_f(ty / 2)} 0.015" pos="0 0 -0.015"/>',
    ]
    for k, (sx, sy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        lx, ly = sx * (tx / 2 - 0.06), sy * (ty / 2 - 0.06)
        lines.append(f'      <geom name="table_leg_{k}" class="visual" type="box" size="0.025 0.025 {_f((th - 0.03) / 2)}" '
                     f'pos="{_f(lx)} {_f(ly)} {_f(-(th + 0.03) / 2)}" material="leg"/>')
    lines.append('    </body>')
    if scene.marker is not None:
        mk = scene.marker
        lines.append(f'    <geom name="marker" class="visual" type="mesh" mesh="marker" material="marker" '
                     f'pos="{_f(mk.center[0])} {_f(mk.center[1])} {_f(mk.center[2])}" quat="{_f(_quat_yaw(mk.yaw))}"/>')
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
            '    </body>',
        ]
    lines += [f'    <camera name="phone" pos="0 0 1" fovy="{config.fovy_deg}"/>', '  </worldbody>', '</mujoco>', '']
    return "\n".join(lines)


def load_model(xml_path: Path):
    from splat2sim.synth.render import mujoco_module

    mujoco = mujoco_module()
    try:
        return mujoco.MjModel.from_xml_path(str(xml_path))
    except Exception as exc:  # mujoco raises ValueError with the compiler's message
        raise InputError(f"MuJoCo could not load {xml_path}: {exc}",
                         hint="a mesh file may be broken (e.g. degenerate or empty)") from exc


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
