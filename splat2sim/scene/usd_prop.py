"""Per-object USD assets following NVIDIA's SimReady prop conventions (the ``Robotics-Prop``
profile of ``simready-foundation-tier-core``), one folder per object, in the Isaac Sim
"performance" layout::

    usd/props/<name>/usd/<name>.usda                  the interface (the component the scene references)
    usd/props/<name>/usd/payloads/base.usda           rigid body, colliders, bindings, labels, grasp line
    usd/props/<name>/usd/payloads/instances.usda      the prims that place the meshes (references)
    usd/props/<name>/usd/payloads/geometries.usda     the meshes (points, faces, normals, uv)
    usd/props/<name>/usd/payloads/materials.usda      preview + physics materials
    usd/props/<name>/usd/runnables/physics/{physx,newton,mujoco}.usda   runtime variant payloads
    usd/props/<name>/usd/textures/<file>              its texture, when it has one
    usd/props/<name>/usd/.thumbs/256x256/<name>.usda.png   its thumbnail

The default prim is a neutral ``Xform`` (kind ``component``) at the body frame, carrying
``UsdPhysics.RigidBodyAPI`` and ``MassAPI`` (mass, centre of mass, principal inertia);
``visual`` is the render mesh with normals and a ``UsdPreviewSurface`` material;
``collision/hull_NNN`` are the convex hulls (``CollisionAPI`` + ``MeshCollisionAPI``
``convexHull``, purpose ``guide``) bound to a ``UsdPhysics`` material. Semantic labels
(``SemanticsLabelsAPI``) name the object's class, its Wikidata Q-code and, on the materials,
the material class. Provenance goes into the interface's ``customLayerData.SimReady_Metadata``.

The scene (``usd/scene.usda``) references each prop and adds the pose.
"""

from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

import numpy as np

from splat2sim.geometry.transforms import matrix_to_quat
from splat2sim.scene.common import principal_inertia

PROFILE = "Robotics-Prop"
PROFILE_VERSION = "4.0.0"
PROPS_DIR = "props"
# Wikidata Q223557 is "physical object". A scan knows an object is a physical object; the finer
# class (open-clip's label, when the segment stage had its weights) has no vetted Q-code table
# here, so the generic class is the honest Q-code.
GENERIC_QCODE = "Q223557"
THUMB_SIZE = 256


def slug(name: str) -> str:
    """The lowercase file/folder name of a body (NP.002/NP.003: lowercase, ``_`` or ``-``)."""
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "object"


def prop_relpath(name: str) -> str:
    """Path of a body's prop file, relative to the usd/ folder."""
    s = slug(name)
    return f"{PROPS_DIR}/{s}/usd/{s}.usda"


def _vertex_normals(vertices, faces) -> np.ndarray:
    """Area-weighted vertex normals from the faces' winding (counter-clockwise = outward)."""
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    n = np.zeros_like(v)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-20, n / np.maximum(length, 1e-20), np.array([0.0, 0.0, 1.0]))
    return n.astype(np.float32)


def _drop_degenerate(vertices, faces):
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    area = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    distinct = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return f[distinct & (area > 1e-14)]


def _label(prim, instance: str, values: list[str]) -> None:
    from pxr import UsdSemantics

    UsdSemantics.LabelsAPI.Apply(prim, instance).CreateLabelsAttr().Set(values)


def material_class(body) -> str:
    """The material label: the physics stage's material class (its table), else ``unknown``."""
    return str((body.physics_source or {}).get("material") or "unknown").lower()


def _geometry(stage, prim_path: str, mesh_path: Path, scale: float, with_uv: bool):
    from pxr import UsdGeom, Vt

    from splat2sim.scene.usd_common import _mesh_prim, _read_mesh

    v, f, uv = _read_mesh(mesh_path)
    f = _drop_degenerate(v, f)  # VG.014: no degenerate faces
    mesh = _mesh_prim(stage, prim_path, v, f, scale, uv=uv if with_uv else None)
    mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(_vertex_normals(v, f)))
    mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    return mesh, v * scale


def _grasp_line(stage, prim_path: str, points, com) -> None:
    """GSP.001's grasp vector: a two-point line through the centre of mass along the narrowest
    horizontal direction of the object (where a top-down parallel gripper closes), spanning the
    geometry plus 5 mm each side. A geometric candidate from the shape, not a tested grasp."""
    from pxr import Gf, Usd, UsdGeom

    p = np.asarray(points, np.float64)
    c = np.asarray(com, np.float64)
    xy = p[:, :2] - p[:, :2].mean(0)
    _, vecs = np.linalg.eigh(xy.T @ xy + 1e-12 * np.eye(2))
    axis = np.array([vecs[0, 0], vecs[1, 0], 0.0])  # smallest spread
    s = (p - c) @ axis
    a, b = c + (s.min() - 0.005) * axis, c + (s.max() + 0.005) * axis
    curve = UsdGeom.BasisCurves.Define(stage, prim_path)
    curve.CreateTypeAttr(UsdGeom.Tokens.linear)
    curve.CreateCurveVertexCountsAttr([2])
    curve.CreatePointsAttr([Gf.Vec3f(*a.tolist()), Gf.Vec3f(*b.tolist())])
    curve.CreateWidthsAttr([0.002])
    curve.CreatePurposeAttr(UsdGeom.Tokens.guide)
    curve.CreateExtentAttr(UsdGeom.Boundable.ComputeExtentFromPlugins(curve, Usd.TimeCode.Default()))


# The physics stage's material classes (assets/materials.yaml) in the SimReady non-visual
# (lidar/radar) base-material vocabulary; ceramic and organic have no counterpart there.
NONVISUAL_BASE = {
    "plastic": "plastic", "rubber": "rubber", "steel": "steel", "aluminium": "aluminum", "wood": "wood",
    "cardboard": "cardboard", "paper": "paper", "fabric": "fabric", "stone": "stone", "glass": "clear_glass",
}  # fmt: skip


def _nonvisual(material_prim, body) -> str | None:
    """FET_007's non-visual base material on the visual material, from the physics stage's
    material class (an estimate: physics_source says from what), and no special attributes.
    The coating (none, paint, clearcoat) cannot be seen in a video and the vocabulary has no
    "unknown", so it is not authored: NVM.003 stays a known failure rather than a guess."""
    from pxr import Sdf

    base = NONVISUAL_BASE.get(material_class(body))
    if base is None:
        return None
    material_prim.CreateAttribute("omni:simready:nonvisual:base", Sdf.ValueTypeNames.Token).Set(base)
    material_prim.CreateAttribute("omni:simready:nonvisual:attributes", Sdf.ValueTypeNames.TokenArray).Set([])
    return base


# Runtime variants (FET_000_<RUNTIME>, RV.001-RV.011): each payload holds only that runtime's
# collider schema on the hulls; the neutral UsdPhysics base is what every runtime reads.
RUNTIMES = {
    "PhysX": ("physx", ["PhysxCollisionAPI", "PhysxConvexHullCollisionAPI"]),
    "Newton": ("newton", ["NewtonMeshCollisionAPI"]),
    "MuJoCo": ("mujoco", ["MjcCollisionAPI"]),
}
PHYSX_HULL_VERTEX_LIMIT = 255  # PhysX's cap on a convex hull's vertices (its default, 64, would re-simplify our hulls)


def _runtime_variants(stage, prim, hulls: list[str], asset_root: Path) -> dict:
    """Variant sets PhysX / Newton / MuJoCo (Disabled by default) on the default prim, each
    Enabled option a payload ``./runnables/physics/<runtime>.usda`` (inside the folder of the
    prop's file: AA.001 takes that folder as the asset root); returns the metadata."""
    from pxr import Sdf

    folder = asset_root / "runnables" / "physics"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {}
    for set_name, (stem, schemas) in RUNTIMES.items():
        layer = Sdf.Layer.CreateNew(str(folder / f"{stem}.usda"))
        root = Sdf.PrimSpec(layer, prim.GetName(), Sdf.SpecifierOver)
        layer.defaultPrim = prim.GetName()
        collision = Sdf.PrimSpec(root, "collision", Sdf.SpecifierOver)
        for hull in hulls:
            spec = Sdf.PrimSpec(collision, hull, Sdf.SpecifierOver)
            spec.SetInfo("apiSchemas", Sdf.TokenListOp.Create(prependedItems=schemas))
            if stem == "physx":
                attr = Sdf.AttributeSpec(spec, "physxConvexHullCollision:hullVertexLimit", Sdf.ValueTypeNames.Int)
                attr.default = PHYSX_HULL_VERTEX_LIMIT
        layer.Save()
        vset = prim.GetVariantSets().AddVariantSet(set_name)
        vset.AddVariant("Disabled")
        vset.AddVariant("Enabled")
        vset.SetVariantSelection("Enabled")
        with vset.GetVariantEditContext():
            prim.GetPayloads().AddPayload(f"./runnables/physics/{stem}.usda")
        vset.SetVariantSelection("Disabled")
        meta[set_name] = {"prim": str(prim.GetPath()), "variantSetName": set_name, "activateOption": "Enabled"}
    return meta


def _rigid_body(prim, body) -> None:
    """RigidBodyAPI and MassAPI (mass, centre of mass, principal moments and axes) on ``prim``."""
    from pxr import Gf, UsdPhysics

    UsdPhysics.RigidBodyAPI.Apply(prim)
    mass_api = UsdPhysics.MassAPI.Apply(prim)
    moments, axes = principal_inertia(body.inertial["inertia"])
    w, *xyz = matrix_to_quat(axes)
    mass_api.CreateMassAttr(float(body.inertial["mass"]))
    mass_api.CreateCenterOfMassAttr(Gf.Vec3f(*[float(v) for v in body.inertial["center_of_mass"]]))
    mass_api.CreateDiagonalInertiaAttr(Gf.Vec3f(*[float(v) for v in moments]))
    mass_api.CreatePrincipalAxesAttr(Gf.Quatf(float(w), Gf.Vec3f(*[float(v) for v in xyz])))


def _metadata(body, scene, extents, when: str) -> dict:
    source = str((scene.provenance or {}).get("input") or "unknown capture")
    return {
        "author": "splat2sim",
        "asset_name": slug(body.name),
        "asset_type": "Prop",
        "asset_license": "same terms as the source capture (scanned by its owner)",
        "category": body.label or "object",
        "source_file": Path(source).name,
        "usd_date_generated": when,
        "qcode": GENERIC_QCODE,
        "rigid_body_count": 1,
        "asset_extents": [float(x) for x in extents],
        "mass": float(body.inertial["mass"]),
        "validation": {"profile": PROFILE, "profile_version": PROFILE_VERSION},
    }


def _new_stage(path: Path, sublayers: list[str] | None = None):
    from pxr import Usd, UsdGeom, UsdPhysics

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    if sublayers:
        stage.GetRootLayer().subLayerPaths = sublayers
    return stage


def _write_geometries(scene, body, payloads: Path, with_uv: bool) -> tuple[dict, np.ndarray]:
    """payloads/geometries.usda: the meshes (points, faces, normals, uv) under /Geometries.
    Returns {part: prim path} and every point (for the extents and the grasp line)."""
    from pxr import UsdGeom

    stage = _new_stage(payloads / "geometries.usda")
    stage.SetDefaultPrim(UsdGeom.Scope.Define(stage, "/Geometries").GetPrim())
    parts, points = {}, []
    if body.visual:
        _, pts = _geometry(stage, "/Geometries/visual", scene.asset(body.visual), body.scale, with_uv=with_uv)
        parts["visual"] = "/Geometries/visual"
        points.append(pts)
    for k, hull in enumerate(body.collision):
        _, pts = _geometry(stage, f"/Geometries/hull_{k:03d}", scene.asset(hull), body.scale, with_uv=False)
        parts[f"collision/hull_{k:03d}"] = f"/Geometries/hull_{k:03d}"
        points.append(pts)
    stage.GetRootLayer().Save()
    return parts, (np.concatenate(points) if points else np.zeros((1, 3)))


def _write_materials(stage, root_path: str, body, rgba, texture: str | None):
    """Into the current edit target (payloads/materials.usda): the visual and physics materials."""
    from pxr import UsdGeom

    from splat2sim.scene.usd_common import _physics_material, _preview_material

    UsdGeom.Scope.Define(stage, root_path + "/Looks")
    mat_class = material_class(body)
    look = None
    if body.visual:
        look = _preview_material(stage, root_path + "/Looks/visual", rgba, texture)
        _label(look.GetPrim(), "material", [mat_class])
        _nonvisual(look.GetPrim(), body)
    c = body.contact
    phys = _physics_material(
        stage, root_path + "/Looks/physics", c.get("static_friction", c.get("friction", 0.5)),
        c.get("dynamic_friction", c.get("friction", 0.5)), c.get("restitution", 0.0),
    )  # fmt: skip
    _label(phys.GetPrim(), "material", [mat_class])
    return look, phys


def _write_base(scene, body, payloads: Path, root_name: str, rgba, texture: str | None) -> np.ndarray:
    """payloads/base.usda (sublayers materials.usda and instances.usda): the rigid body, its
    colliders and bindings; instances.usda places the meshes of geometries.usda. Returns the points."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics

    from splat2sim.scene.usd_common import _bind

    parts, points = _write_geometries(scene, body, payloads, with_uv=bool(texture))
    for name in ("materials.usda", "instances.usda"):
        empty = _new_stage(payloads / name)
        empty.GetRootLayer().Save()
    stage = _new_stage(payloads / "base.usda", ["./materials.usda", "./instances.usda"])
    base_layer = stage.GetRootLayer()
    root_path = "/" + root_name
    stage.SetEditTarget(Usd.EditTarget(Sdf.Layer.Find(str(payloads / "instances.usda"))))
    root = UsdGeom.Xform.Define(stage, root_path)
    UsdGeom.Scope.Define(stage, root_path + "/collision")
    meshes = {}
    for part, geometry in parts.items():
        mesh = UsdGeom.Mesh.Define(stage, f"{root_path}/{part}")
        mesh.GetPrim().GetReferences().AddReference("./geometries.usda", geometry)
        if part.startswith("collision/"):
            mesh.CreatePurposeAttr(UsdGeom.Tokens.guide)
        meshes[part] = mesh
    stage.SetEditTarget(Usd.EditTarget(Sdf.Layer.Find(str(payloads / "materials.usda"))))
    look, phys = _write_materials(stage, root_path, body, rgba, texture)
    stage.SetEditTarget(Usd.EditTarget(base_layer))
    stage.SetDefaultPrim(root.GetPrim())
    prim = root.GetPrim()
    _rigid_body(prim, body)
    _label(prim, "class", [body.label or "object"])
    _label(prim, "wikidata_qcode", [GENERIC_QCODE])
    for part, mesh in meshes.items():
        if part == "visual":
            UsdGeom.PrimvarsAPI(mesh).CreatePrimvar("displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.constant).Set(
                [Gf.Vec3f(*[float(c) for c in rgba[:3]])]
            )
            _bind(mesh.GetPrim(), look)
        else:
            UsdPhysics.CollisionAPI.Apply(mesh.GetPrim())
            UsdPhysics.MeshCollisionAPI.Apply(mesh.GetPrim()).CreateApproximationAttr(UsdPhysics.Tokens.convexHull)
            _bind(mesh.GetPrim(), phys, "physics")
    _grasp_line(stage, root_path + "/grasp_identifier_0", points, body.inertial["center_of_mass"])
    stage.Save()
    return points


def write_prop(scene, body, usd_dir: Path, when: str | None = None) -> Path:
    """Write ``body``'s prop folder under ``usd_dir`` (see the module doc); returns the .usda path."""
    from pxr import Gf, Kind, Usd, UsdGeom

    path = Path(usd_dir) / prop_relpath(body.name)
    if path.parent.exists():
        shutil.rmtree(path.parent)
    (path.parent / "payloads").mkdir(parents=True)
    rgba = (body.appearance or {}).get("rgba") or [0.8, 0.8, 0.8, 1.0]
    texture = None
    if body.visual and body.texture:
        src = scene.asset(body.texture)
        (path.parent / "textures").mkdir()
        dst = path.parent / "textures" / (slug(src.stem) + src.suffix.lower())
        shutil.copy2(src, dst)
        texture = "../textures/" + dst.name  # from payloads/materials.usda
    root_name = re.sub(r"[^A-Za-z0-9_]", "_", body.name)
    points = _write_base(scene, body, path.parent / "payloads", root_name, rgba, texture)
    # the interface: the component the scene references; the Isaac layout's base layer, runtime variants, metadata
    stage = _new_stage(path)
    root = UsdGeom.Xform.Define(stage, "/" + root_name)
    stage.SetDefaultPrim(root.GetPrim())
    Usd.ModelAPI(root.GetPrim()).SetKind(Kind.Tokens.component)
    root.GetPrim().GetReferences().AddReference("./payloads/base.usda")
    extents = points.max(0) - points.min(0)
    meta = _metadata(body, scene, extents, when or datetime.date.today().isoformat())
    hulls = [f"hull_{k:03d}" for k in range(len(body.collision))]
    meta["Variants"] = {"Physics": _runtime_variants(stage, root.GetPrim(), hulls, path.parent)}
    meta["asset_extents"] = Gf.Vec3f(*meta["asset_extents"])  # float3 in the layer
    # SR.001 (FET_000_STANDARD 0.1.0, still pulled in as a dependency) reads these four at the top level
    top = {k: meta[k] for k in ("asset_name", "asset_type", "source_file", "usd_date_generated")}
    stage.GetRootLayer().customLayerData = {"SimReady_Metadata": meta, **top}
    stage.GetRootLayer().Save()
    if body.visual:
        from splat2sim.scene.usd_common import _read_mesh

        v, f, _ = _read_mesh(scene.asset(body.visual))
        write_thumbnail(v * body.scale, f, rgba, path.parent / ".thumbs" / f"{THUMB_SIZE}x{THUMB_SIZE}" / f"{path.name}.png")
    return path


def write_thumbnail(vertices, faces, rgba, out: Path, size: int = THUMB_SIZE) -> Path:
    """A shaded view of the mesh (3/4 view from above, painter's algorithm, Lambert shading),
    the SimReady thumbnail (SR.002)."""
    from PIL import Image, ImageDraw

    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    v = v - 0.5 * (v.min(0) + v.max(0))
    az, el = np.radians(35.0), np.radians(30.0)
    # camera looking at the origin from (azimuth az, elevation el); z up
    fwd = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    xy = np.stack([v @ right, v @ up], 1)
    depth = v @ fwd
    span = max(float(np.ptp(xy, 0).max()), 1e-9)
    px = (xy - xy.min(0) - 0.5 * (np.ptp(xy, 0) - span)) / span * (size * 0.84) + size * 0.08
    px[:, 1] = size - px[:, 1]
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20)
    facing = fn @ -fwd > 0
    light = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    shade = 0.35 + 0.65 * np.clip(fn @ light, 0, 1)
    order = np.argsort(-depth[f].mean(1))
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    base = np.asarray(rgba[:3], np.float64)
    for i in order:
        if not facing[i]:
            continue
        col = tuple(int(c) for c in np.clip(base * shade[i] * 255, 0, 255)) + (255,)
        draw.polygon([tuple(p) for p in px[f[i]]], fill=col)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out
