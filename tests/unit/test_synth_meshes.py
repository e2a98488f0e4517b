"""Procedural meshes of the synthetic capture generator: closed, positive volume, cavities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splat2sim.errors import ConfigError, InputError
from splat2sim.synth import SynthConfig
from splat2sim.synth import meshes as M

trimesh = pytest.importorskip("trimesh")


@pytest.mark.parametrize("kind", sorted(M.BUILDERS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_procedural_meshes_are_watertight_with_positive_volume(kind, seed):
    mesh, dims, mass = M.make_object(kind, np.random.default_rng(seed))
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent
    assert M.is_closed(mesh)
    assert tm.volume > 0
    assert M.signed_volume(mesh) == pytest.approx(tm.volume, rel=1e-9)
    # Resting frame: base at z = 0, sizes of table-top things (metres).
    assert mesh.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-12)
    # 5 mm: a spatula lying flat is 8-15 mm high; 5 g: a ping-pong-sized ball.
    assert 0.005 < mesh.vertices[:, 2].max() < 0.3
    assert 0.005 < mass < 1.5
    # UVs index every face corner.
    assert mesh.face_uvs.shape == mesh.faces.shape and mesh.face_uvs.max() < len(mesh.uvs)


@pytest.mark.parametrize("kind", ["mug", "bowl"])
def test_cavity_objects_are_much_lighter_than_their_bounding_cylinder(kind):
    for seed in range(3):
        mesh, dims, _ = M.make_object(kind, np.random.default_rng(seed))
        cylinder = math.pi * dims["radius"] ** 2 * dims["height"]
        assert M.signed_volume(mesh) < 0.5 * cylinder


@pytest.mark.parametrize("seed", range(6))
def test_hard_kinds_have_the_sizes_that_make_them_hard(seed):
    """The issue's hard cases: a slab at most 2 cm thick, a plate, a ball at most 4.5 cm
    across, and a bottle lying on its side (long axis horizontal, round section)."""
    rng = np.random.default_rng(seed)
    ext = {k: np.ptp(M.make_object(k, rng)[0].vertices, axis=0) for k in ("spatula", "plate", "small_ball", "bottle_lying")}
    assert ext["spatula"][2] <= 0.02 and ext["spatula"][0] > 0.15  # thin and long
    assert ext["plate"][2] <= 0.02 and ext["plate"][0] > 0.14
    assert ext["small_ball"].max() <= 0.045
    lying = ext["bottle_lying"]
    assert lying[0] > 0.17 and lying[1] == pytest.approx(lying[2], rel=0.02)


def test_mug_has_a_handle_and_realistic_mass():
    mesh, dims, mass = M.make_object("mug", np.random.default_rng(5))
    assert mesh.vertices[:, 0].max() > dims["radius"] + 0.015  # the handle sticks out along +x
    assert 0.3 <= mass <= 0.4


def test_mass_properties_match_trimesh():
    mesh, _, mass = M.make_object("mug", np.random.default_rng(0))
    props = M.mass_properties(mesh, mass)
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    tm.density = mass / tm.volume
    np.testing.assert_allclose(props["center_of_mass"], tm.center_mass, atol=1e-9)
    np.testing.assert_allclose(props["inertia"], tm.moment_inertia, atol=1e-12)


def test_obj_round_trip_keeps_positions_faces_and_uvs(tmp_path):
    mesh, _, _ = M.make_object("can", np.random.default_rng(0))
    M.write_obj(tmp_path / "can.obj", mesh, "can", "can.png")
    (tmp_path / "can.png").write_bytes(b"")
    back, texture = M.read_obj(tmp_path / "can.obj")
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_array_equal(back.face_uvs, mesh.face_uvs)
    assert texture == tmp_path / "can.png"


def test_missing_mesh_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        M.read_obj(tmp_path / "nope.obj")
    assert err.value.hint


def test_config_rejects_unknown_kinds_and_odd_sizes():
    with pytest.raises(ConfigError):
        SynthConfig(object_kinds=["teapot"])
    with pytest.raises(ConfigError):
        SynthConfig(width=321)
    with pytest.raises(ConfigError):
        SynthConfig(kind_pool=["spatula", "teapot"])
    with pytest.raises(ConfigError):
        SynthConfig(touch_gap_range=(0.03, 0.01))
