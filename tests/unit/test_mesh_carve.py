"""Space carving (stages/mesh/solid.carve): one view through a hole carves a tunnel through a
solid; asking for more views keeps it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from splat2sim.stages.mesh import solid
from splat2sim.stages.mesh.views import look_at


def _views(count: int) -> SimpleNamespace:
    """``count`` cameras 0.5 m above a 4 cm cube at the origin, 64x64, looking down."""
    poses = [look_at(np.array([0.02 * np.cos(k), 0.02 * np.sin(k), 0.5]), np.zeros(3)) for k in range(count)]
    return SimpleNamespace(world_from_camera=np.stack(poses), intrinsics=np.tile([400.0, 400.0, 32.0, 32.0], (count, 1)), width=64, height=64)


def test_a_hole_in_one_render_carves_only_when_one_view_is_enough():
    views = _views(4)
    alpha = np.zeros((4, 64, 64))
    alpha[:, 16:48, 16:48] = 1.0  # the cube's silhouette (4 cm at 0.5 m and f=400: 32 px)
    depth = np.full((4, 64, 64), 0.48)  # its top face
    alpha[0, 30:34, 30:34] = 0.0  # view 0 sees through a hole (a missing Gaussian)
    renders = [SimpleNamespace(alpha=alpha, depth=depth)]
    grid = solid.lattice_grid(np.array([-0.02, -0.02, -0.02]), np.array([0.02, 0.02, 0.02]), 0.002, 0.0)
    centre = tuple(int(v) for v in np.round((np.zeros(3) - grid.origin) / grid.voxel))
    classic = solid.carve(grid, [views], renders, 0.5, trunc=0.006)
    assert classic[centre]  # a tunnel through the middle of the cube
    forgiving = solid.carve(grid, [views], renders, 0.5, trunc=0.006, min_views=2)
    assert not forgiving[centre]
    corner = (0, 0, grid.shape[2] // 2)  # outside every silhouette: empty either way
    assert classic[corner] and forgiving[corner]


def _ring(centre, radius: float, count: int = 60) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)], 1)


def test_footprint_fills_a_ring_of_side_gaussians_and_stops_half_way_to_a_neighbour():
    # two 3 cm cans seen as rings of side Gaussians, 1 cm apart (centres 7 cm apart)
    own, other = _ring((0.0, 0.0), 0.03), _ring((0.07, 0.0), 0.03)
    grid = solid.lattice_grid(np.array([-0.05, -0.05, 0.0]), np.array([0.12, 0.05, 0.01]), 0.001, 0.0)
    xs = grid.origin[0] + grid.voxel * np.arange(grid.shape[0])
    ys = grid.origin[1] + grid.voxel * np.arange(grid.shape[1])

    def cell(x, y):
        return int(np.argmin(np.abs(xs - x))), int(np.argmin(np.abs(ys - y)))

    alone = solid.footprint(grid, own, None, radius=0.006)
    assert alone[cell(0.0, 0.0)]  # the ring's inside is the can's (filled)
    assert alone[cell(0.035, 0.0)]  # within the radius of the ring
    assert not alone[cell(-0.04, 0.0)]  # beyond it
    beside = solid.footprint(grid, own, other, radius=0.006)
    assert beside[cell(0.034, 0.0)] and not beside[cell(0.036, 0.0)]  # split half-way across the 1 cm gap
    assert not beside[cell(0.07, 0.0)]  # the neighbour's inside is not taken


def test_without_training_views_the_scene_solid_says_it_used_the_objects_own_renders():
    import torch

    from splat2sim.render import Gaussians
    from splat2sim.stages.mesh.config import MeshConfig
    from splat2sim.stages.mesh.objects import mesh_object

    # a 3 cm ball of 400 opaque Gaussians resting on z = 0
    rng = np.random.default_rng(0)
    d = rng.normal(size=(400, 3))
    means = 0.03 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0, 0, 0.03]
    n = len(means)
    ball = Gaussians(torch.tensor(means, dtype=torch.float32), torch.full((n, 3), np.log(0.004), dtype=torch.float32),
                     torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1), torch.full((n,), 4.0), torch.zeros(n, 1, 3))  # fmt: skip
    cfg = MeshConfig(use_training_views=False, extra_views=12, extra_view_size=64, voxels_per_diagonal=48)
    result = mesh_object(ball, None, None, cfg, 0.0, "auto")
    assert any("carve_with=scene needs the training views" in note for note in result.notes), result.notes
    assert result.method == "tsdf" and 0.5 < result.mesh.extents[2] / 0.06 < 1.5


def test_footprint_points_leave_out_the_blur_skirt_at_the_base():
    """A 7 cm ball's Gaussians plus a skirt of low ones spread 4 cm to one side (what the
    splat's blur and the segmentation leave at a base): the footprint comes from the ones
    above a quarter of the height, so the skirt is not in it; a flat object (all low) keeps all."""
    from splat2sim.stages.mesh.objects import footprint_points

    rng = np.random.default_rng(0)
    d = rng.normal(size=(400, 3))
    ball = 0.035 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0.0, 0.0, 0.035]
    skirt = np.c_[rng.uniform(-0.075, -0.035, 80), rng.uniform(-0.02, 0.02, 80), rng.uniform(0.0, 0.012, 80)]
    pts = footprint_points(np.concatenate([ball, skirt]), 0.0, 0.25)
    assert pts[:, 0].min() > -0.036  # nothing of the skirt (it reaches -7.5 cm)
    assert len(pts) > 0.7 * len(ball)  # the ball's upper three quarters
    everything = footprint_points(np.concatenate([ball, skirt]), 0.0, 0.0)
    assert len(everything) == len(ball) + len(skirt)
    flat = np.c_[rng.uniform(-0.1, 0.1, (300, 2)), rng.uniform(0.0, 0.004, 300)]  # a plate-like slab
    assert len(footprint_points(flat, 0.0, 0.25)) > 0.7 * len(flat)  # the cut is relative to its own height
