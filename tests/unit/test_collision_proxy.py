"""The collision proxy (splat2sim.stages.collision.proxy): tunnels a voxel wide are closed, a
hole many voxels wide stays, and the surface stays on the visual one."""

from __future__ import annotations

import numpy as np
import pytest

from splat2sim.stages.collision.proxy import closed_proxy

VOXELS = 64  # the stage's default (CollisionConfig.proxy_voxels)


def drilled_ball(tunnels: list[tuple[float, float]]):
    """A 5 cm ball with straight vertical tunnels through it: (x offset, diameter) each."""
    import manifold3d

    solid = manifold3d.Manifold.sphere(0.05, 96)
    for x, d in tunnels:
        solid = solid - manifold3d.Manifold.cylinder(0.2, d / 2, d / 2, 32, True).translate([x, 0.0, 0.0])
    mesh = solid.to_mesh()
    return np.asarray(mesh.vert_properties, np.float64)[:, :3], np.asarray(mesh.tri_verts, np.int64)


def euler(v, f) -> int:
    import trimesh

    return int(trimesh.Trimesh(v, f, process=False).euler_number)


def test_voxel_wide_tunnels_close_and_a_wide_hole_stays():
    # diagonal of the ball's box: 0.1 * sqrt(3) = 0.173 m -> voxel 2.7 mm at 64 per diagonal
    voxel = 0.1 * np.sqrt(3) / VOXELS
    v, f = drilled_ball([(-0.03, 1.5 * voxel), (0.0, 8 * voxel), (0.03, 1.5 * voxel)])
    assert euler(v, f) == 2 - 2 * 3  # three tunnels: genus 3
    pv, pf, info = closed_proxy(v, f, VOXELS, faces_target=4000)
    assert info["euler_before"] == -4
    assert euler(pv, pf) == 0 == info["euler_after"]  # the two thin tunnels closed, the 2 cm hole open
    assert len(pf) <= 4000 and info["voxel"] == pytest.approx(voxel, rel=0.01)  # the 96-gon sphere is a little under 10 cm across


def test_the_surface_stays_on_the_visual_one():
    import open3d as o3d
    import trimesh

    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    v, f = ball.vertices, ball.faces
    pv, pf, info = closed_proxy(v, f, VOXELS, faces_target=2000)
    assert euler(pv, pf) == 2
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(f.astype(np.uint32)))
    dist = scene.compute_distance(o3d.core.Tensor(pv.astype(np.float32))).numpy()
    # the level set runs through the boundary voxels' centres, which lie within half a voxel
    # diagonal (0.87 voxel) of the surface; decimation moves vertices by a fraction of that
    assert dist.max() < 0.9 * info["voxel"], (dist.max(), info["voxel"])
    volume = trimesh.Trimesh(pv, pf, process=False).volume
    assert volume == pytest.approx(ball.volume, rel=0.05)  # 0.5 voxel on a 18-voxel radius is 8 % of the volume at most
