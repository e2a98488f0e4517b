"""scene.json: the simulator-neutral scene, the single source of every exporter.

    scene = load_scene("ws/export/scene.json")   # -> Scene (validated)
    scene.bodies[0].inertial["mass"]
    save_scene(scene, "out/scene.json")

Asset paths inside a scene are relative to the folder that holds its scene.json
(``scene.root``). See docs/ARTIFACTS.md for the schema; extra fields written here:
``bodies[].scale`` (uniform mesh scale, default 1; the inertial is already in scaled
units), ``bodies[].appearance`` (``rgba`` multiplier or null), ``bodies[].texture``,
``bodies[].splat`` (the object's Gaussians in its object frame), ``bodies[].physics_source``,
and ``environment.lights``.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError

SCHEMA_VERSION = 1


@dataclass
class Body:
    name: str
    id: str
    label: str
    position: list[float]
    quaternion: list[float]  # (w, x, y, z)
    visual: str | None
    collision: list[str]
    inertial: dict  # mass, center_of_mass [3], inertia [3][3] (about the CoM, body axes)
    contact: dict  # friction, rolling_friction, restitution
    ranges: dict = field(default_factory=dict)  # mass/friction/restitution: [lo, hi]
    scale: float = 1.0
    texture: str | None = None
    appearance: dict | None = None  # {"rgba": [r, g, b, a]} multiplier
    splat: str | None = None
    physics_source: dict = field(default_factory=dict)  # source, confidence, material

    def world_from_body(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = quat_to_matrix(self.quaternion)
        T[:3, 3] = self.position
        return T

    def to_dict(self) -> dict:
        return {
            "name": self.name, "id": self.id, "label": self.label,
            "pose": {"position": [float(x) for x in self.position], "quaternion": [float(x) for x in self.quaternion]},
            "visual": self.visual, "texture": self.texture, "collision": list(self.collision),
            "scale": float(self.scale),
            "inertial": {"mass": float(self.inertial["mass"]),
                         "center_of_mass": [float(x) for x in self.inertial["center_of_mass"]],
                         "inertia": [[float(x) for x in row] for row in np.asarray(self.inertial["inertia"])]},
            "contact": {k: float(v) for k, v in self.contact.items()},
            "ranges": {k: [float(v[0]), float(v[1])] for k, v in self.ranges.items()},
            "appearance": self.appearance, "splat": self.splat, "physics_source": self.physics_source,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> "Body":
        pose = d.get("pose", {})
        return cls(
            name=d["name"], id=d.get("id", d["name"]), label=d.get("label", d["name"]),
            position=list(pose.get("position", [0.0, 0.0, 0.0])), quaternion=list(pose.get("quaternion", [1.0, 0.0, 0.0, 0.0])),
            visual=d.get("visual"), collision=list(d.get("collision", [])), inertial=dict(d["inertial"]),
            contact=dict(d.get("contact", {})), ranges=dict(d.get("ranges", {})), scale=float(d.get("scale", 1.0)),
            texture=d.get("texture"), appearance=d.get("appearance"), splat=d.get("splat"),
            physics_source=dict(d.get("physics_source", {})),
        )  # fmt: skip


@dataclass
class Scene:
    name: str
    bodies: list[Body]
    environment: dict
    gravity: list[float] = field(default_factory=lambda: [0.0, 0.0, -9.81])
    splat: dict | None = None
    provenance: dict = field(default_factory=dict)
    root: Path | None = None  # folder of scene.json: asset paths are relative to it

    def body(self, name: str) -> Body:
        for b in self.bodies:
            if b.name == name:
                return b
        raise KeyError(name)

    def asset(self, relative: str) -> Path:
        if self.root is None:
            raise InputError("this scene has no root folder, so its asset paths cannot be resolved",
                             hint="load it with load_scene(path) or set scene.root")
        return (self.root / relative).resolve()

    def copy(self) -> "Scene":
        return copy.deepcopy(self)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION, "name": self.name, "units": "metres", "up": "+z",
            "gravity": [float(g) for g in self.gravity], "environment": self.environment,
            "bodies": [b.to_dict() for b in self.bodies], "splat": self.splat, "provenance": self.provenance,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict, root: Path | None = None) -> "Scene":
        return cls(name=d.get("name", "scene"), bodies=[Body.from_dict(b) for b in d.get("bodies", [])],
                   environment=d.get("environment", {}), gravity=list(d.get("gravity", [0, 0, -9.81])),
                   splat=d.get("splat"), provenance=d.get("provenance", {}), root=root)

    # --- conveniences for the Python API (imported lazily: heavy simulators)
    def to_mujoco(self):
        """(MjModel, MjData) of this scene, built from the MJCF exporter's output in memory."""
        from splat2sim.sim.mujoco_sim import load_scene_model

        return load_scene_model(self)

    def to_pybullet(self, client: int | None = None) -> dict[str, int]:
        """Load the scene into a pybullet client (URDFs written to a temporary folder);
        returns {body name: pybullet body id} (plus "_environment")."""
        from splat2sim.sim.pybullet_sim import load_scene_into

        return load_scene_into(self, client)

    def variants(self, seed: int = 0, **kwargs):
        """An endless generator of domain-randomized Scene copies (see splat2sim.scene.randomize)."""
        from splat2sim.scene.randomize import generate

        return generate(self, seed=seed, **kwargs)


def quat_to_matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def matrix_to_quat(R) -> list[float]:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(np.asarray(R, np.float64)).as_quat()
    q = np.array([w, x, y, z])
    return (q if q[0] >= 0 else -q).tolist()


def quat_angle_deg(q1, q2) -> float:
    """The angle (degrees) of the rotation between two (w, x, y, z) quaternions."""
    a = np.asarray(q1, np.float64) / np.linalg.norm(q1)
    b = np.asarray(q2, np.float64) / np.linalg.norm(q2)
    return math.degrees(2 * math.acos(min(1.0, abs(float(a @ b)))))


def validate_scene(scene: Scene, *, check_files: bool = True) -> list[str]:
    """Problems that make the scene unusable (empty = fine)."""
    from splat2sim.geometry.inertia import check_inertia
    from splat2sim.names import sanitize

    problems = []
    names = [b.name for b in scene.bodies]
    if len(set(names)) != len(names):
        problems.append(f"body names are not unique: {names}")
    for b in scene.bodies:
        where = f"body '{b.name}'"
        if sanitize(b.name) != b.name:
            problems.append(f"{where}: the name is not sanitized (expected '{sanitize(b.name)}')")
        if len(b.position) != 3 or not np.all(np.isfinite(b.position)):
            problems.append(f"{where}: position {b.position} is not 3 finite numbers")
        if len(b.quaternion) != 4 or not abs(np.linalg.norm(b.quaternion) - 1) < 1e-3:
            problems.append(f"{where}: quaternion {b.quaternion} is not a unit (w, x, y, z)")
        if not b.collision:
            problems.append(f"{where}: no collision geometry")
        if not b.scale > 0:
            problems.append(f"{where}: scale {b.scale} is not positive")
        try:
            for p in check_inertia(np.asarray(b.inertial["inertia"], np.float64), float(b.inertial["mass"])):
                problems.append(f"{where}: {p}")
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{where}: inertial is malformed ({exc})")
        for key in ("friction", "restitution"):
            if key not in b.contact or not b.contact[key] >= 0:
                problems.append(f"{where}: contact.{key} missing or negative")
        if check_files and scene.root is not None:
            for rel in [b.visual, b.texture, *b.collision]:
                if rel and not scene.asset(rel).is_file():
                    problems.append(f"{where}: asset {rel} does not exist")
    plane = scene.environment.get("support_plane")
    if not plane or len(plane.get("size", [])) != 2:
        problems.append("environment.support_plane with a size [sx, sy] is missing")
    return problems


def load_scene(path, *, validate: bool = True) -> Scene:
    """Read and (by default) validate scene.json; ``path`` may be the file or its folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "scene.json"
    if not path.is_file():
        raise InputError(f"scene file {path} does not exist", hint="run the export stage (`splat2sim export WS`) first")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}",
                         hint="re-run the export stage with this version of splat2sim")
    scene = Scene.from_dict(data, root=path.parent.resolve())
    if validate:
        problems = validate_scene(scene)
        if problems:
            raise InputError(f"{path} is invalid: " + "; ".join(problems[:5]), hint="re-run the export stage")
    return scene


def save_scene(scene: Scene, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scene.to_dict(), indent=2) + "\n")
    return path
