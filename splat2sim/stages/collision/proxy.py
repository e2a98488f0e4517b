"""The mesh CoACD cuts: a closed, coarser copy of the visual mesh, without its tunnels.

A reconstructed surface (fused depth, carved, a level set) is closed but riddled with small
tunnels and pockets where the carving saw through a sparse patch: on the bench meshes a ball
had genus 4 and a bowl 45 (Euler numbers -6 and -88; a sphere's is 2). CoACD cuts until no
part is concave past its threshold, and every tunnel is a concavity, so it spent its whole
hull budget (32) on them, for 40-220 s per object, on balls and boxes as much as on bowls.

The proxy fills the visual mesh's voxels (``voxels_per_diagonal`` across its bounding-box
diagonal), closes gaps up to ``closing`` voxels (a tunnel; a mug's handle or a bowl's hollow
is many voxels across and stays), and takes the level set through the boundary voxels'
centres (so its surface sits on the visual one, to about half a voxel), decimated to
``faces``. A concavity under about two voxels is not resolved, so the stage asks CoACD for
no finer (``run.PROXY_RESOLVES_VOXELS``). On the 13 reconstructed objects CoACD decomposed in
7 benchmark captures: 1060 s on the visual meshes, 462 s on the proxies at the same threshold,
249 s with the threshold floor; the same hull count, the share of the true solid the
hulls cover the same (median 0.775 -> 0.762; bowls 2-5 points less), bowls' cavities open
(bench/results/collision.json, ``per_object_decision``, the ``proxy`` keys).
"""

from __future__ import annotations

import time

import numpy as np

#: Tunnels up to this many voxels across are closed (a 3-D cross, iterated).
CLOSING = 1


def closed_proxy(vertices: np.ndarray, faces: np.ndarray, voxels_per_diagonal: int, faces_target: int,
                 closing: int = CLOSING) -> tuple[np.ndarray, np.ndarray, dict]:  # fmt: skip
    """(vertices [N,3], faces [M,3], info) of the proxy of the mesh (vertices [N,3], faces
    [M,3], the object's frame). info: the voxel size (m), the Euler numbers before and after,
    faces and seconds."""
    import trimesh
    from scipy import ndimage

    from splat2sim.stages.mesh.solid import Grid, extract_level_set

    t0 = time.perf_counter()
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    diag = float(np.linalg.norm(np.ptp(mesh.vertices, axis=0)))
    if not diag > 0:
        raise ValueError("the mesh has no extent")
    voxel = diag / voxels_per_diagonal
    grid = mesh.voxelized(voxel).fill()
    pad = closing + 2  # room for the closing's dilation and an empty border for the level set
    occupied = np.pad(np.asarray(grid.matrix, bool), pad)
    if closing:
        cross = ndimage.generate_binary_structure(3, 1)
        occupied = ndimage.binary_closing(occupied, structure=cross, iterations=closing, border_value=0)
    occupied = ndimage.binary_fill_holes(occupied)
    # signed distance in voxels, 0 at the boundary voxels' centres (positive outside)
    field = ndimage.distance_transform_edt(~occupied) - ndimage.distance_transform_edt(occupied) + 1.0
    origin = np.asarray(grid.transform)[:3, 3] - pad * voxel  # centre of voxel (0, 0, 0)
    solid = extract_level_set((field * voxel).astype(np.float32), Grid(origin, voxel, occupied.shape))
    if len(solid.faces) == 0:
        raise ValueError("the filled voxels gave no surface")
    v, f = _decimate(solid.vertices, solid.faces, faces_target)
    info = {"voxel": voxel, "voxels_per_diagonal": voxels_per_diagonal, "closing": closing, "faces": int(len(f)),
            "euler_before": int(mesh.euler_number), "euler_after": int(trimesh.Trimesh(v, f, process=False).euler_number),
            "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
    return v, f, info


def _decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    if len(faces) <= target:
        return np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces))
    mesh = mesh.simplify_quadric_decimation(int(target))
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64)
