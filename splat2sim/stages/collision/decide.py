"""Whether an object needs a convex decomposition at all.

CoACD cuts an object until every piece is within its concavity threshold of the surface;
for a box, a can or a ball the answer is one piece, found after seconds to minutes of
search. So each object is measured first: how far its convex hull strays from its surface.
The hull's surface is sampled (area-uniform, seeded) and each sample's distance to the
mesh surface taken (open3d's raycasting scene). Where 95 % of the hull's area lies within
the tolerance of the surface, the hull is the collider; otherwise CoACD runs. The 95th
percentile (not the maximum) because a reconstructed surface has dents and spikes a
collider need not follow; a bowl's hollow puts a whole cap of the hull centimetres away,
far past that percentile.

The tolerance is ``convex_tolerance`` metres, or ``convex_tolerance_share`` of the mesh's
bounding-box diagonal if that is more and the surface is rough, but never more than
``convex_tolerance_max``. A reconstruction from a CPU-sized splat is bumpy at the scale of
its Gaussians and of its TSDF voxels (a fixed share of the object's diagonal), so the hull
rides on bumps: on the bench meshes 95 % of a can's, bottle's, box's or ball's hull lay
within 4-8 % of the diagonal (5-20 mm), a bowl's 7-11 %. "Rough" is the median hull
sample lying over ``ROUGH_P50`` from the surface: an exact mesh (a CAD model, the
procedural test shapes) touches its hull almost everywhere, so only the metres apply and
an exact mug's cavity (p50 0, p95 13 mm) is decomposed. The cap is what no bumpiness
excuses: 5 % of the hull more than 2.5 cm off the surface is a bowl's hollow or two objects
merged, whatever the object's size (a 41 cm bowl's hollow is within 8 % of its diagonal).

An earlier rule applied the share only while p95 <= 4 x p50 (noise spreads distances
half-normally, p95 = 2.9 x p50); on reconstructions balls and boxes spread wider (p95 4-6 x
p50: the hull spans the flattened base and the dents), so one in four convex objects went
to CoACD for nothing (bench/results/collision_rules.json).
"""

from __future__ import annotations

import numpy as np

#: Median hull-to-surface distance (metres) above which the surface counts as rough: above an
#: exact mesh's tessellation error (< 1 mm on the procedural shapes), below any splat
#: reconstruction's (1.3-8 mm on the bench meshes).
ROUGH_P50 = 0.001

#: Hull surface samples per object: enough that the 95th percentile moves < 0.5 mm between
#: seeds on the bench meshes, and fast (a few ms) next to CoACD.
SAMPLES = 3000


def hull_distances(vertices: np.ndarray, faces: np.ndarray, seed: int = 0, samples: int = SAMPLES) -> tuple[np.ndarray, float, float]:
    """Distances (metres) from ``samples`` points on the convex hull of the mesh (vertices
    [N,3], faces [M,3]) to the mesh surface, the hull's volume and the mesh's (0 if open)."""
    import open3d as o3d
    import trimesh

    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    hull = mesh.convex_hull
    points, _ = trimesh.sample.sample_surface(hull, samples, seed=seed)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)), o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
    dist = scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy().astype(np.float64)
    mesh_volume = abs(float(mesh.volume)) if mesh.is_watertight else 0.0
    return dist, float(hull.volume), mesh_volume


def measure(vertices: np.ndarray, faces: np.ndarray, seed: int = 0) -> dict:
    """How convex the object is: hull-to-surface distance (p50, p95, max, in metres), the
    mesh's bounding-box diagonal, and solidity (mesh volume / hull volume; None if open)."""
    dist, hull_volume, mesh_volume = hull_distances(vertices, faces, seed)
    return {
        "diagonal": float(np.linalg.norm(np.ptp(np.asarray(vertices, np.float64), axis=0))),
        "hull_to_surface_p50": float(np.percentile(dist, 50)),
        "hull_to_surface_p95": float(np.percentile(dist, 95)),
        "hull_to_surface_max": float(dist.max()),
        "solidity": (mesh_volume / hull_volume) if mesh_volume > 0 and hull_volume > 0 else None,
    }


def tolerance(concavity: dict, metres: float, share: float, cap: float) -> float:
    """The tolerance (metres) for this object: ``metres``, or ``share`` of its diagonal if
    that is more and its surface is rough (median hull distance over ROUGH_P50), at most
    ``cap`` (but never below ``metres``)."""
    rough = concavity["hull_to_surface_p50"] > ROUGH_P50
    scaled = max(metres, share * concavity["diagonal"]) if rough else metres
    return max(metres, min(cap, scaled))


def choose(concavity: dict, mode: str, tolerance: float) -> tuple[str, str]:
    """("hull" | "coacd", why) for ``mode`` auto | always | never; ``tolerance`` in metres."""
    p95 = concavity["hull_to_surface_p95"]
    if mode == "always":
        return "coacd", "collision.decompose=always"
    if mode == "never":
        return "hull", "collision.decompose=never"
    if p95 <= tolerance:
        return "hull", f"near-convex: 95 % of its hull is within {p95 * 1000:.1f} mm of the surface (tolerance {tolerance * 1000:.1f} mm)"
    return "coacd", f"concave: 5 % of its hull is more than {p95 * 1000:.1f} mm from the surface (tolerance {tolerance * 1000:.1f} mm)"
