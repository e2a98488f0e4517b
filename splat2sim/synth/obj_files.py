"""Wavefront OBJ files (with their MTL and diffuse texture) for ``Mesh``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splat2sim.errors import InputError
from splat2sim.synth.mesh_core import Mesh


def write_obj(path: Path, mesh: Mesh, material: str | None = None, texture_file: str | None = None) -> None:
    """Write an OBJ (and an MTL beside it when a texture is named). Fixed number format,
    so the bytes depend only on the mesh."""
    path = Path(path)
    lines = [f"# splat2sim synthetic object: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces"]
    if texture_file is not None:
        mtl = path.with_suffix(".mtl")
        mtl.write_text(f"newmtl {material}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nmap_Kd {texture_file}\n")
        lines.append(f"mtllib {mtl.name}")
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in mesh.vertices]
    if mesh.uvs is not None:
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in mesh.uvs]
        if texture_file is not None:
            lines.append(f"usemtl {material}")
        lines += [f"f {a + 1}/{ta + 1} {b + 1}/{tb + 1} {c + 1}/{tc + 1}" for (a, b, c), (ta, tb, tc) in zip(mesh.faces, mesh.face_uvs)]
    else:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    path.write_text("\n".join(lines) + "\n")


def read_obj(path: Path) -> tuple[Mesh, Path | None]:
    """Read positions, texture coordinates and faces (polygons fan-triangulated) of an OBJ;
    also return the diffuse texture its MTL names, if that file exists."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mesh file not found: {path}", hint="pass the path of an existing .obj file")
    verts, uvs, faces, fuv = [], [], [], []
    mtllib = None
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read mesh file {path}: {exc}", hint="check permissions") from exc
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif tag == "vt":
            uvs.append([float(x) for x in parts[1:3]])
        elif tag == "f":
            idx = [p.split("/") for p in parts[1:]]
            vi = [int(p[0]) for p in idx]
            ti = [int(p[1]) if len(p) > 1 and p[1] else 0 for p in idx]
            for k in range(1, len(vi) - 1):
                faces.append([vi[0], vi[k], vi[k + 1]])
                fuv.append([ti[0], ti[k], ti[k + 1]])
        elif tag == "mtllib" and len(parts) > 1:
            mtllib = path.parent / " ".join(parts[1:])
    if not verts or not faces:
        raise InputError(f"mesh file {path} has no vertices or faces", hint="is it a triangle-mesh OBJ?")
    v = np.array(verts, np.float64)
    f = np.array(faces, np.int64)
    f = np.where(f < 0, f + len(v), f - 1)  # OBJ indices are 1-based; negatives count from the end
    t = np.array(fuv, np.int64)
    mesh = Mesh(v, f)
    if uvs and np.all(t != 0):
        tv = np.array(uvs, np.float64)
        mesh.uvs, mesh.face_uvs = tv, np.where(t < 0, t + len(tv), t - 1)
    texture = None
    if mtllib is not None and mtllib.is_file():
        for line in mtllib.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) > 1 and parts[0] == "map_Kd":
                cand = mtllib.parent / parts[-1]
                texture = cand if cand.is_file() else None
    if texture is None and (path.parent / "texture_map.png").is_file():
        texture = path.parent / "texture_map.png"
    return mesh, texture
