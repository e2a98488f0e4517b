"""USD exporter (usd-core): ``scene.usda`` composes one SimReady prop per object
(``props/<name>/usd/<name>.usda``, see usd_prop.py: UsdPhysics rigid body with mass, centre
of mass and principal inertia, convex-hull colliders, physics and preview materials, semantic
labels, metadata) by reference, posed, with the support (a static collider), the background
mesh and lights. Z up, metres, kilograms.

``validate_usd(path)`` runs every validator that usd-core registers (UsdValidation).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from splat2sim.errors import missing_package
from splat2sim.scene.schema import SceneData
from splat2sim.scene.usd_common import _bind, _mesh_prim, _physics_material, _preview_material, _pxr, _read_mesh
from splat2sim.scene.usd_prop import PROPS_DIR, prop_relpath, write_prop

SUPPORT_THICKNESS = 0.04


def build_stage(scene: SceneData, path: Path):
    """Create the USD stage for ``scene`` at ``path`` (not saved)."""
    Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt = _pxr()
    path = Path(path)
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, "/World")
    stage.SetDefaultPrim(world.GetPrim())
    g = np.asarray(scene.gravity, np.float64)
    physics_scene = UsdPhysics.Scene.Define(stage, "/World/PhysicsScene")
    physics_scene.CreateGravityDirectionAttr(Gf.Vec3f(*(g / max(np.linalg.norm(g), 1e-12)).tolist()))
    physics_scene.CreateGravityMagnitudeAttr(float(np.linalg.norm(g)))
    UsdGeom.Scope.Define(stage, "/World/Looks")
    # lights
    for i, li in enumerate(scene.environment.get("lights") or []):
        light = UsdLux.SphereLight.Define(stage, f"/World/Light_{i}")
        light.CreateIntensityAttr(float(3000 * max(li["diffuse"])))
        light.CreateColorAttr(Gf.Vec3f(*[float(c) / max(max(li["diffuse"]), 1e-6) for c in li["diffuse"]]))
        light.CreateRadiusAttr(0.1)
        UsdGeom.Xformable(light).AddTranslateOp().Set(Gf.Vec3d(*[float(v) for v in li["pos"]]))
    if not scene.environment.get("lights"):
        UsdLux.DomeLight.Define(stage, "/World/DomeLight").CreateIntensityAttr(800.0)
    # support surface: a static collider
    plane = scene.environment["support_plane"]
    sx, sy = plane["size"]
    cx, cy = plane.get("center", [0.0, 0.0, 0.0])[:2]
    support = UsdGeom.Cube.Define(stage, "/World/Support")
    support.CreateSizeAttr(1.0)
    support.CreateDisplayColorAttr([Gf.Vec3f(0.55, 0.45, 0.35)])
    xf = UsdGeom.Xformable(support)
    xf.AddTranslateOp().Set(Gf.Vec3d(float(cx), float(cy), -SUPPORT_THICKNESS / 2))
    xf.AddRotateZOp().Set(math.degrees(float(plane.get("yaw", 0.0))))  # USD rotations are in degrees
    xf.AddScaleOp().Set(Gf.Vec3f(float(sx), float(sy), SUPPORT_THICKNESS))
    UsdPhysics.CollisionAPI.Apply(support.GetPrim())
    mu = float(plane.get("friction", 0.8))
    _bind(support.GetPrim(), _physics_material(stage, "/World/Looks/support_physics", mu, mu, 0.0), "physics")
    _bind(support.GetPrim(), _preview_material(stage, "/World/Looks/support_visual", [0.55, 0.45, 0.35, 1.0], None))
    background = scene.environment.get("background_visual")
    if background and scene.asset(background).is_file():
        v, f, _ = _read_mesh(scene.asset(background))
        mesh = _mesh_prim(stage, "/World/Background", v, f, 1.0, colour=[0.6, 0.6, 0.6])
        _bind(mesh.GetPrim(), _preview_material(stage, "/World/Looks/background_visual", [0.6, 0.6, 0.6, 1.0], None))
    UsdGeom.Scope.Define(stage, "/World/Objects")
    for b in scene.bodies:
        # each object is its own SimReady prop (usd_prop.py); the scene adds the pose
        xform = UsdGeom.Xform.Define(stage, f"/World/Objects/{b.name}")
        xform.GetPrim().GetReferences().AddReference("./" + prop_relpath(b.name))
        q = np.asarray(b.quaternion, np.float64)
        x = UsdGeom.Xformable(xform)
        x.AddTranslateOp().Set(Gf.Vec3d(*[float(v) for v in b.position]))
        x.AddOrientOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Quatd(float(q[0]), Gf.Vec3d(*[float(v) for v in q[1:]])))
    return stage


def write_usd(scene: SceneData, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "scene.usda"
    if path.exists():
        path.unlink()
    props = out_dir / PROPS_DIR
    if props.exists():
        shutil.rmtree(props)
    for b in scene.bodies:
        write_prop(scene, b, out_dir)
    stage = build_stage(scene, path)
    stage.GetRootLayer().Save()
    return path


def validate_usd(path) -> dict:
    """Run every UsdValidation validator usd-core registers on the stage at ``path``.
    Returns {"validators": n, "errors": [...], "warnings": [...], "ok": bool}."""
    try:
        from pxr import Usd, UsdValidation
    except ImportError as exc:
        raise missing_package("usd-core", "USD validation") from exc
    stage = Usd.Stage.Open(str(path))
    registry = UsdValidation.ValidationRegistry()
    validators = registry.GetOrLoadAllValidators()
    found = UsdValidation.ValidationContext(validators).Validate(stage)
    errors, warnings = [], []
    for e in found:
        if e.HasNoError():
            continue
        text = f"{e.GetName()}: {e.GetMessage()}"
        (errors if e.GetType() == UsdValidation.ValidationErrorType.Error else warnings).append(text)
    return {"validators": len(validators), "errors": errors, "warnings": warnings, "ok": not errors}
