"""USD building blocks shared by the scene (usd.py) and the per-object props (usd_prop.py):
meshes, preview and physics materials, bindings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from splat2sim.errors import missing_package


def _pxr():
    try:
        from pxr import Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt
    except ImportError as exc:
        raise missing_package("usd-core", "USD export") from exc
    return Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt


def _read_mesh(path: Path):
    """(vertices, faces, uv or None) of a mesh file. Parsed once per file version: the
    variants write the same assets' meshes into every variant's USD."""
    stat = Path(path).stat()
    cached = _parsed_mesh(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    return tuple(None if a is None else a.copy() for a in cached)


@lru_cache(maxsize=64)
def _parsed_mesh(path: str, mtime_ns: int, size: int):
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    uv = getattr(mesh.visual, "uv", None)
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64), (None if uv is None else np.asarray(uv))


def _mesh_prim(stage, path: str, vertices, faces, scale: float, uv=None, colour=None):
    Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt = _pxr()
    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(vertices, np.float32)))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.asarray(faces, np.int32).ravel()))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    lo, hi = np.asarray(vertices).min(0), np.asarray(vertices).max(0)
    mesh.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*lo.tolist()), Gf.Vec3f(*hi.tolist())]))
    if uv is not None and len(uv) == len(vertices):
        st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
        st.Set(Vt.Vec2fArray.FromNumpy(np.asarray(uv, np.float32)))
    if colour is not None:
        mesh.CreateDisplayColorAttr([Gf.Vec3f(*[float(c) for c in colour[:3]])])
    if scale != 1.0:
        UsdGeom.Xformable(mesh).AddScaleOp().Set(Gf.Vec3f(scale, scale, scale))
    return mesh


def _preview_material(stage, path: str, rgba, texture: str | None):
    Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt = _pxr()
    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, path + "/PreviewSurface")
    shader.CreateIdAttr("UsdPreviewSurface")
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.6)
    if texture:
        reader = UsdShade.Shader.Define(stage, path + "/StReader")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        tex = UsdShade.Shader.Define(stage, path + "/Texture")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(texture)
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
        tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*[float(c) for c in rgba]))
        tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(tex.ConnectableAPI(), "rgb")
    else:
        shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*[float(c) for c in rgba[:3]]))
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    return material


def _physics_material(stage, path: str, static: float, dynamic: float, restitution: float):
    Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt = _pxr()
    material = UsdShade.Material.Define(stage, path)
    api = UsdPhysics.MaterialAPI.Apply(material.GetPrim())
    api.CreateStaticFrictionAttr(float(static))
    api.CreateDynamicFrictionAttr(float(dynamic))
    api.CreateRestitutionAttr(float(restitution))
    return material


def _bind(prim, material, purpose=None):
    Gf, Sdf, Usd, UsdGeom, UsdLux, UsdPhysics, UsdShade, Vt = _pxr()
    api = UsdShade.MaterialBindingAPI.Apply(prim)
    if purpose:
        api.Bind(material, UsdShade.Tokens.weakerThanDescendants, purpose)
    else:
        api.Bind(material)
