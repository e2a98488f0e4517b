"""The data of scene.json: ``Body`` and ``SceneData`` (the fields, to_dict / from_dict).

The bottom of the scene package: the exporters (mjcf, urdf, usd, sdf) and randomization
work on these; ``splat2sim.scene.model.Scene`` adds the conveniences that load a scene into
a simulator, which import those modules, so they live one level up.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError
from splat2sim.geometry.transforms import quat_to_matrix

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
class SceneData:
    """The fields of scene.json and their (de)serialisation; ``Scene`` adds the simulator
    conveniences. Exporters take any SceneData."""

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
            raise InputError(
                "this scene has no root folder, so its asset paths cannot be resolved", hint="load it with load_scene(path) or set scene.root"
            )
        return (self.root / relative).resolve()

    def copy(self) -> "SceneData":
        return copy.deepcopy(self)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION, "name": self.name, "units": "metres", "up": "+z",
            "gravity": [float(g) for g in self.gravity], "environment": self.environment,
            "bodies": [b.to_dict() for b in self.bodies], "splat": self.splat, "provenance": self.provenance,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict, root: Path | None = None) -> "SceneData":
        return cls(
            name=d.get("name", "scene"),
            bodies=[Body.from_dict(b) for b in d.get("bodies", [])],
            environment=d.get("environment", {}),
            gravity=list(d.get("gravity", [0, 0, -9.81])),
            splat=d.get("splat"),
            provenance=d.get("provenance", {}),
            root=root,
        )
