"""What a synthetic scene holds: room, table, marker and objects (``Scene``), and how the
objects and the marker image are made.

Placement without overlap (optionally touching) is in ``placement``; the MuJoCo model
(assets, MJCF, settling under physics) in ``mujoco_model``.

World frame: right-handed, +z up, metres, origin at the centre of the table top (so the
table top is z = 0 and the floor is at z = -table_height).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import DependencyError, InputError
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


def quat_yaw(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


# --------------------------------------------------------------------------- content


def marker_image(dictionary: str, marker_id: int, cell_px: int = 32) -> np.ndarray:
    """The ArUco marker with a one-cell white border, RGB (H, W, 3) uint8."""
    try:
        import cv2

        aruco = cv2.aruco
    except (ImportError, AttributeError) as exc:
        raise DependencyError("ArUco markers need OpenCV with the aruco module", hint="pip install opencv-python-headless") from exc
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
        n = config.num_objects if config.num_objects is not None else (int(rng.integers(2, 6)) if not files else int(rng.integers(0, 3)))
        pool = tuple(config.kind_pool) if config.kind_pool is not None else OBJECT_KINDS
        kinds = [pool[int(i)] for i in rng.integers(0, len(pool), n)]
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
        size = max(128, config.texture_size // 2)
        tex = T.plain_texture(rng, size) if config.low_texture else T.object_texture(rng, size)
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
