import numpy as np
import pytest
import trimesh

from splat2sim.geometry.inertia import box_inertia, check_inertia, mass_properties, shell_mass_properties
from splat2sim.names import sanitize, unique


def test_box_matches_closed_form():
    box = trimesh.creation.box(extents=[0.2, 0.1, 0.05])
    box.apply_translation([1.0, -2.0, 0.3])
    props = mass_properties(box.vertices, box.faces, density=1000.0)
    assert props.volume == pytest.approx(0.001)
    assert props.mass == pytest.approx(1.0)
    np.testing.assert_allclose(props.center_of_mass, [1.0, -2.0, 0.3], atol=1e-12)
    np.testing.assert_allclose(props.inertia, box_inertia(1.0, [0.2, 0.1, 0.05]), atol=1e-12)
    assert check_inertia(props.inertia, props.mass) == []


def test_matches_trimesh_on_a_non_convex_mesh():
    mesh = trimesh.creation.annulus(r_min=0.03, r_max=0.05, height=0.08)
    mesh.apply_transform(trimesh.transformations.random_rotation_matrix(np.random.default_rng(0).random(3)))
    props = mass_properties(mesh.vertices, mesh.faces, density=800.0)
    mesh.density = 800.0
    reference = mesh.mass_properties
    assert props.mass == pytest.approx(reference.mass, rel=1e-9)
    np.testing.assert_allclose(props.center_of_mass, reference.center_mass, atol=1e-12)
    np.testing.assert_allclose(props.inertia, reference.inertia, rtol=1e-8, atol=1e-14)


def test_shell_of_a_sphere():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.1)
    props = shell_mass_properties(sphere.vertices, sphere.faces, thickness=0.001, density=1000.0)
    mass = 4 * np.pi * 0.01 * 0.001 * 1000
    assert props.mass == pytest.approx(mass, rel=1e-2)
    np.testing.assert_allclose(np.diag(props.inertia), [2 / 3 * mass * 0.01] * 3, rtol=2e-2)


def test_bad_inertias_are_named():
    assert any("positive definite" in p for p in check_inertia(np.diag([1.0, 1.0, -1.0]), 1.0))
    assert any("triangle inequality" in p for p in check_inertia(np.diag([1.0, 1.0, 3.0]), 1.0))
    assert any("mass" in p for p in check_inertia(np.eye(3), 0.0))
    with pytest.raises(ValueError, match="no volume"):
        mass_properties(np.zeros((3, 3)), np.array([[0, 1, 2]]))


@pytest.mark.parametrize(
    "label, name",
    [
        ("Coffee Mug #2!", "coffee_mug_2"),
        ("  ", "object"),
        ("3d printer", "object_3d_printer"),
        ("tasse à café", "tasse_caf"),
        ("<script>x</script>", "script_x_script"),
        ("a" * 80, "a" * 40),
    ],
)
def test_sanitize(label, name):
    assert sanitize(label) == name


def test_unique():
    assert unique(["mug", "mug", "box", "mug", "mug_2"]) == ["mug", "mug_2", "box", "mug_3", "mug_2_2"]
