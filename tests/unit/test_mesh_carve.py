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
