"""Collision hulls (real CoACD) on meshes from files: procedural mug and bowl, YCB objects;
mass properties of the watertight mesh; bad geometry; hulls resting on a plane in MuJoCo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splat2sim.geometry.inertia import check_inertia, robust_mass_properties
from splat2sim.stages.collision.coacd_runner import decompose
from splat2sim.stages.collision.config import CollisionConfig
from splat2sim.stages.collision.presets import PRESETS
from splat2sim.stages.collision.run import make_job
from tests.conftest import SHARED_DATA

FAST = dict(mcts_iterations=30, mcts_depth=2, mcts_nodes=10, resolution=1000)


def procedural(kind: str, seed: int = 1):
    from splat2sim.synth.meshes import make_object

    mesh, dims, _mass = make_object(kind, np.random.default_rng(seed))
    return mesh.vertices, mesh.faces, dims


def inside_any(hulls, point) -> bool:
    import trimesh

    return any(trimesh.Trimesh(v, f, process=False).contains([point])[0] for v, f in hulls)


@pytest.fixture(scope="module")
def mug_result():
    v, f, dims = procedural("mug")
    job = make_job("mug", v, f, CollisionConfig(preset="mujoco", **FAST), seed=0)
    return v, f, dims, decompose(job)


@pytest.mark.slow
def test_mug_hulls_within_limits_and_bounds(mug_result):
    v, _f, _dims, res = mug_result
    assert res["method"] == "coacd", res["attempts"]
    cap = PRESETS["mujoco"]
    assert 2 <= len(res["hulls"]) <= cap["max_hulls"]
    lo, hi = v.min(0), v.max(0)
    tol = 0.02 * np.linalg.norm(hi - lo) + 0.001
    for hv, hf in res["hulls"]:
        assert len(hv) <= cap["max_vertices"]
        assert np.all(hv.min(0) >= lo - tol) and np.all(hv.max(0) <= hi + tol)


@pytest.mark.slow
def test_mug_cavity_stays_open(mug_result):
    _v, _f, dims, res = mug_result
    centre = np.array([0.0, 0.0, 0.6 * dims["height"]])  # the cavity's middle (object frame: base centre at the origin)
    assert not inside_any(res["hulls"], centre)
    assert inside_any(res["hulls"], np.array([0.0, 0.0, 0.003]))  # the base is solid


def test_bowl_and_volume_ratio():
    import trimesh

    v, f, dims = procedural("bowl")
    res = decompose(make_job("bowl", v, f, CollisionConfig(preset="bullet", **FAST), seed=0))
    assert res["method"] == "coacd" and len(res["hulls"]) <= PRESETS["bullet"]["max_hulls"]
    hull_volume = sum(trimesh.Trimesh(hv, hf, process=False).volume for hv, hf in res["hulls"])
    mesh_volume = trimesh.Trimesh(v, f, process=False).volume
    ratio = hull_volume / mesh_volume
    assert 0.8 < ratio < 4.0, ratio
    assert not inside_any(res["hulls"], np.array([0.0, 0.0, 0.8 * dims["height"]]))  # the bowl stays a bowl


def test_single_hull_fallback_is_recorded():
    import trimesh

    plate = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    job = make_job("box", plate.vertices, plate.faces, CollisionConfig(**FAST, max_vertices=4), seed=0)
    job["max_hulls"] = 0  # no decomposition can satisfy a zero hull cap -> fallback
    job["retries"] = 1
    res = decompose(job)
    assert res["method"] == "convex_hull" and len(res["hulls"]) == 1
    assert len(res["attempts"]) == 2 and all(a["problems"] for a in res["attempts"])
    assert len(res["hulls"][0][0]) <= 4


@pytest.mark.parametrize("name", ["mug", "bowl", "tomato_soup_can"])
def test_ycb_mass(name):
    import trimesh

    folder = SHARED_DATA / "ycb" / name
    if not folder.is_dir():
        pytest.skip("YCB data not present")
    masses = json.loads((SHARED_DATA / "ycb" / "masses.json").read_text())
    mesh = trimesh.load(folder / "textured.obj", process=False, force="mesh")
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    density = masses[name] / abs(mesh.volume) if mesh.is_watertight else 1000.0
    props, method, _warn = robust_mass_properties(mesh.vertices, mesh.faces, density)
    if mesh.is_watertight:
        assert method == "mesh"
        assert props.mass == pytest.approx(mesh.mass_properties.volume * density, rel=0.01)
        assert np.allclose(props.center_of_mass, mesh.center_mass, atol=1e-4)
    assert not check_inertia(props.inertia, props.mass)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mug", "bowl", "tomato_soup_can"])
def test_ycb_hulls(name):
    import trimesh

    folder = SHARED_DATA / "ycb" / name
    if not folder.is_dir():
        pytest.skip("YCB data not present")
    mesh = trimesh.load(folder / "textured.obj", process=False, force="mesh")
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    from splat2sim.stages.mesh.cleanup import simplify

    small, _ = simplify(mesh, 1500, tolerance=0.0005)
    res = decompose(make_job(name, small.vertices, small.faces, CollisionConfig(**FAST), seed=0))
    assert 1 <= len(res["hulls"]) <= PRESETS["mujoco"]["max_hulls"]


def test_bad_geometry_gives_warnings_not_zero():
    import trimesh

    box = trimesh.creation.box(extents=[0.1, 0.05, 0.02])
    open_mesh = (box.vertices, box.faces[:-1])
    props, method, warnings = robust_mass_properties(*open_mesh)
    assert method == "convex_hull" and warnings and props.mass > 0
    # non-manifold: two boxes sharing an edge listed three times
    doubled = np.concatenate([box.faces, box.faces[:2]])
    props, method, warnings = robust_mass_properties(box.vertices, doubled)
    assert method != "mesh" and any("non-manifold" in w for w in warnings) and props.mass > 0
    flat = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0.1, 0.1, 0.0]])
    props, method, warnings = robust_mass_properties(flat, np.array([[0, 1, 2], [1, 3, 2]]), min_thickness=0.002)
    assert method == "box" and props.mass > 0 and not check_inertia(props.inertia, props.mass)


@pytest.mark.slow
def test_hulls_rest_on_a_plane_in_mujoco(mug_result, tmp_path):
    import mujoco
    import trimesh

    v, f, _dims, res = mug_result
    props, _m, _w = robust_mass_properties(v, f, 1000.0)
    assets = []
    for i, (hv, hf) in enumerate(res["hulls"]):
        trimesh.Trimesh(hv, hf, process=False).export(tmp_path / f"hull_{i:03d}.obj")
        assets.append(f'<mesh name="h{i}" file="hull_{i:03d}.obj"/>')
    geoms = "".join(f'<geom type="mesh" mesh="h{i}"/>' for i in range(len(res["hulls"])))
    I = props.inertia
    xml = f"""<mujoco><compiler meshdir="{tmp_path}"/><asset>{"".join(assets)}</asset><worldbody>
      <geom type="plane" size="1 1 0.1"/>
      <body name="mug" pos="0 0 0.01"><freejoint/>
        <inertial pos="{" ".join(map(str, props.center_of_mass))}" mass="{props.mass}"
          fullinertia="{I[0, 0]} {I[1, 1]} {I[2, 2]} {I[0, 1]} {I[0, 2]} {I[1, 2]}"/>{geoms}</body>
    </worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    for _ in range(int(1.5 / model.opt.timestep)):
        mujoco.mj_step(model, data)
    assert abs(data.qpos[2]) < 0.003  # rests on the plane, not through it
    assert np.linalg.norm(data.qvel) < 0.05  # and has settled


def auto_tolerance(measured: dict, cfg: CollisionConfig) -> float:
    from splat2sim.stages.collision import decide

    return decide.tolerance(measured, cfg.convex_tolerance, cfg.convex_tolerance_share, cfg.convex_tolerance_max)


def test_tolerance_scales_with_a_rough_object_up_to_the_cap():
    """The share of the diagonal applies to a rough surface (median hull distance over 1 mm),
    whatever the spread of its distances; an exact mesh gets the metres; nothing gets more
    than the cap. Numbers: the defaults, 6 mm / 8 % / 25 mm."""
    cfg = CollisionConfig()
    rough_ball = {"diagonal": 0.2, "hull_to_surface_p50": 0.002, "hull_to_surface_p95": 0.012}  # p95 6 x p50
    assert auto_tolerance(rough_ball, cfg) == pytest.approx(0.016)
    exact_mug = {"diagonal": 0.2, "hull_to_surface_p50": 0.0, "hull_to_surface_p95": 0.013}
    assert auto_tolerance(exact_mug, cfg) == pytest.approx(0.006)
    large_bowl = {"diagonal": 0.41, "hull_to_surface_p50": 0.004, "hull_to_surface_p95": 0.030}  # 8 % would be 33 mm
    assert auto_tolerance(large_bowl, cfg) == pytest.approx(0.025)
    small = {"diagonal": 0.05, "hull_to_surface_p50": 0.002, "hull_to_surface_p95": 0.005}  # 8 % = 4 mm < 6 mm
    assert auto_tolerance(small, cfg) == pytest.approx(0.006)


@pytest.mark.parametrize(("kind", "expected"), [("box", "hull"), ("can", "hull"), ("ball", "hull"), ("small_ball", "hull"),
                                                ("mug", "coacd"), ("bowl", "coacd"), ("spatula", "coacd")])  # fmt: skip
def test_decision_gives_convex_objects_their_hull_and_decomposes_hollow_ones(kind, expected):
    from splat2sim.stages.collision import decide

    cfg = CollisionConfig()
    for seed in range(3):
        v, f, _ = procedural(kind, seed)
        measured = decide.measure(v, f)
        tol = auto_tolerance(measured, cfg)
        method, why = decide.choose(measured, "auto", tol)
        assert method == expected, (kind, seed, measured)
        assert why.startswith("near-convex" if expected == "hull" else "concave")
        if expected == "hull":  # exact convex meshes (the can's bevel, the ball's facets): under 1 mm
            assert measured["hull_to_surface_p95"] < 0.001 and measured["solidity"] > 0.97
    # A mug's cavity: the hull's cap over it lies a third of the radius (~13 mm) from the rim on average.
    v, f, dims = procedural("mug")
    assert decide.measure(v, f)["hull_to_surface_p95"] > 0.01
    assert decide.choose(decide.measure(v, f), "always", 0.006)[0] == "coacd"
    assert decide.choose(decide.measure(v, f), "never", 0.006)[0] == "hull"


def test_decision_tolerates_reconstruction_noise_on_a_box():
    """A reconstructed box is bumpy: 1 mm noise on a finely tessellated box keeps it near-convex
    (the hull rides on the bumps: p95 about 2-3x the noise), 0-12 mm dents do not (at 6 mm)."""
    import trimesh

    from splat2sim.stages.collision import decide

    box = trimesh.creation.box((0.1, 0.07, 0.12)).subdivide().subdivide().subdivide()
    rng = np.random.default_rng(0)
    noisy = box.vertices + rng.normal(0, 0.001, box.vertices.shape)
    measured = decide.measure(noisy, box.faces)
    assert decide.choose(measured, "auto", 0.006)[0] == "hull", measured
    dented = box.vertices - box.vertex_normals * rng.uniform(0, 0.012, (len(box.vertices), 1))
    assert decide.choose(decide.measure(dented, box.faces), "auto", 0.006)[0] == "coacd"
    # 4 mm noise (a coarse splat's surface): p95 ~ 10 mm is past 6 mm, but spread like noise,
    # so the share of the diagonal (8 % of 17 cm) applies and the box keeps one hull.
    cfg = CollisionConfig()
    rough = decide.measure(box.vertices + rng.normal(0, 0.004, box.vertices.shape), box.faces)
    assert rough["hull_to_surface_p95"] > cfg.convex_tolerance
    assert decide.choose(rough, "auto", auto_tolerance(rough, cfg))[0] == "hull", rough
    # The same noise on a bowl: its hollow is far past the noise, so it is decomposed.
    v, f, _ = procedural("bowl")
    noisy_bowl = trimesh.Trimesh(v, f, process=False).subdivide().subdivide()
    noisy = decide.measure(noisy_bowl.vertices + rng.normal(0, 0.004, noisy_bowl.vertices.shape), noisy_bowl.faces)
    assert decide.choose(noisy, "auto", auto_tolerance(noisy, cfg))[0] == "coacd", noisy


def test_coacd_is_not_asked_for_finer_than_the_proxy_resolves():
    import trimesh

    box = trimesh.creation.box(extents=[0.4, 0.3, 0.2])  # diagonal 0.54 m: 4 mm / 0.54 m = 0.0074 -> clamped up
    with_proxy = make_job("box", box.vertices, box.faces, CollisionConfig(), seed=0)
    assert with_proxy["settings"]["threshold"] == pytest.approx(2 / CollisionConfig().proxy_voxels)  # 2 voxels of 64
    assert with_proxy["proxy"] == {"voxels_per_diagonal": 64, "faces": 2000}
    without = make_job("box", box.vertices, box.faces, CollisionConfig(proxy_voxels=0), seed=0)
    assert without["settings"]["threshold"] == pytest.approx(CollisionConfig().min_threshold) and without["proxy"] is None
