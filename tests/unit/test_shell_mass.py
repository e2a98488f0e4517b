"""Shell-aware mass of a thin-walled cup does not depend on whether its mesh models the
cavity: a scan with both faces of the wall, the same scan with holes, and the cavity filled
in all give about density x wall thickness x the wall's outer area."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splat2sim.stages.physics import reconcile as R

RADIUS, HEIGHT, WALL, DENSITY = 0.04, 0.10, 0.005, 2400.0
THICKNESS = {"value": WALL, "range": [0.003, 0.008]}


def _cup():
    """A closed thin-walled cup (outer wall, rim, inner wall, inner and outer bottom)."""
    import trimesh

    r, h, t = RADIUS, HEIGHT, WALL
    # profile in (radius, z), revolved about z: closed, so the mesh is watertight
    profile = np.array([[0, 0], [r, 0], [r, h], [r - t, h], [r - t, t], [0, t]])
    return trimesh.creation.revolve(profile, sections=64)


def _mass(mesh, watertight) -> tuple[float, str]:
    g = R.geometry_from_mesh(mesh.vertices, mesh.faces, watertight=watertight)
    mv = R.material_volume(g, "shell", THICKNESS)
    return DENSITY * mv.volume, mv.mode


def test_cup_mass_is_the_same_with_or_without_its_cavity():
    cup = _cup()
    assert cup.is_watertight
    # the wall itself: outer side and bottom, where the material is
    expected = DENSITY * WALL * (2 * math.pi * RADIUS * HEIGHT + math.pi * RADIUS**2)
    walls, mode = _mass(cup, True)
    assert mode == "walls_in_mesh" and walls == pytest.approx(DENSITY * cup.volume)
    # a scan: both faces of the wall, with holes, so its volume cannot be trusted
    rng = np.random.default_rng(0)
    scan = cup.copy()
    scan.update_faces(rng.random(len(scan.faces)) > 0.02)
    assert not scan.is_watertight and scan.area > 1.8 * expected / (DENSITY * WALL)
    scanned, mode = _mass(scan, False)
    assert mode == "shell"
    # the cavity filled in, as reconstructions often are
    filled, mode = _mass(cup.convex_hull, True)
    assert mode == "shell"
    for m in (walls, scanned, filled):
        assert 0.8 * expected < m < 1.4 * expected, (m, expected)
    assert abs(math.log(scanned / filled)) < 0.1  # the same shell either way
