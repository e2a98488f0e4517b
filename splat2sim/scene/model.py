"""scene.json: the simulator-neutral scene, the single source of every exporter.

    scene = load_scene("ws/export/scene.json")   # -> Scene (validated)
    scene.bodies[0].inertial["mass"]
    save_scene(scene, "out/scene.json")

Asset paths inside a scene are relative to the folder that holds its scene.json
(``scene.root``). The fields are ``splat2sim.scene.schema`` (the bottom of this package,
which the exporters use); ``Scene`` here adds the simulator conveniences (``to_mujoco``,
``to_pybullet``, ``variants``). See docs/ARTIFACTS.md for the schema; extra fields written:
``bodies[].scale`` (uniform mesh scale, default 1; the inertial is already in scaled
units), ``bodies[].appearance`` (``rgba`` multiplier or null), ``bodies[].texture``,
``bodies[].splat`` (the object's Gaussians in its object frame), ``bodies[].physics_source``,
and ``environment.lights``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError
from splat2sim.geometry.transforms import matrix_to_quat, quat_angle_deg, quat_to_matrix
from splat2sim.scene.schema import SCHEMA_VERSION, Body, SceneData

__all__ = [
    "SCHEMA_VERSION",
    "Body",
    "Scene",
    "SceneData",
    "load_scene",
    "matrix_to_quat",
    "quat_angle_deg",
    "quat_to_matrix",
    "save_scene",
    "validate_scene",
]


class Scene(SceneData):
    """A scene.json in memory, with conveniences for the Python API. They import the
    simulators lazily (heavy); the scene package sits above splat2sim.sim, which never
    imports a Scene back."""

    def to_mujoco(self):
        """(MjModel, MjData) of this scene, built from the MJCF exporter's output in memory."""
        from splat2sim.scene.simulators import load_scene_model

        return load_scene_model(self)

    def to_pybullet(self, client: int | None = None) -> dict[str, int]:
        """Load the scene into a pybullet client (URDFs written to a temporary folder);
        returns {body name: pybullet body id} (plus "_environment")."""
        from splat2sim.scene.simulators import load_scene_into

        return load_scene_into(self, client)

    def camera(self, *, backend: str = "auto", fill_support: bool = True):
        """The splat as this scene's camera: ``SplatCamera.render(state, camera=...)`` gives
        RGB, depth and object ids of any simulated state (see splat2sim.scene.camera)."""
        from splat2sim.scene.camera import SplatCamera

        return SplatCamera(self, backend=backend, fill_support=fill_support)

    def variants(self, seed: int = 0, **kwargs):
        """An endless generator of domain-randomized Scene copies (see splat2sim.scene.randomize)."""
        from splat2sim.scene.randomize import generate

        return generate(self, seed=seed, **kwargs)


def validate_scene(scene: SceneData, *, check_files: bool = True) -> list[str]:
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
        raise InputError(
            f"{path}: schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}",
            hint="re-run the export stage with this version of splat2sim",
        )
    scene = Scene.from_dict(data, root=path.parent.resolve())
    if validate:
        problems = validate_scene(scene)
        if problems:
            raise InputError(f"{path} is invalid: " + "; ".join(problems[:5]), hint="re-run the export stage")
    return scene


def save_scene(scene: SceneData, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scene.to_dict(), indent=2) + "\n")
    return path
