"""The variants stage: 20 randomized scenes load and settle in MuJoCo and pybullet; the same
seed gives the same variants; the Python generator draws exactly what the stage wrote."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from tests.stages.export_fixtures import gt_workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "variants_gt", until="variants")


def test_twenty_variants_load_and_settle_in_both_simulators(ws):
    record = json.loads((ws / "variants" / "variants.json").read_text())
    assert record["count"] == 20 and len(record["variants"]) == 20 and record["failures"] == []
    for v in record["variants"]:
        assert (ws / "variants" / v["folder"] / "mjcf" / "scene.xml").is_file()
        assert (ws / "variants" / v["folder"] / "usd" / "scene.usda").is_file()
        assert (ws / "variants" / v["folder"] / "sdf" / "scene.sdf").is_file()
        check = v["check"]
        assert check["usd_ok"]
        for sim in ("mujoco", "pybullet"):
            assert check[sim]["loaded"] and check[sim]["settled"], (v["folder"], sim, check[sim])
            assert check[sim]["worst_drift_mm"] < 2.0 and check[sim]["worst_penetration_mm"] < 2.0
        assert check["mujoco"]["compiler_warnings"] == []
    # values really vary and stay inside their ranges
    scene = json.loads((ws / "export" / "scene.json").read_text())
    for body in scene["bodies"]:
        samples = [v["bodies"][body["name"]] for v in record["variants"]]
        scales = np.array([s["scale"] for s in samples])
        assert scales.std() > 0.01 and np.all(np.abs(scales - 1) <= 0.05 + 1e-9)
        fr = np.array([s["friction"] for s in samples])
        lo, hi = body["ranges"]["friction"]
        assert fr.std() > 0 and np.all((fr >= lo) & (fr <= hi))
        mass = np.array([s["mass"] / s["scale"] ** 3 for s in samples])
        lo, hi = body["ranges"]["mass"]
        assert np.all((mass >= lo - 1e-9) & (mass <= hi + 1e-9))
        xy = np.array([s["position"][:2] for s in samples])
        assert np.ptp(xy, axis=0).min() > 0.1  # poses were resampled over the table
    # no two objects overlap in any variant (MuJoCo settled them in place)
    for v in record["variants"]:
        pos = [np.asarray(b["position"][:2]) for b in v["bodies"].values()]
        assert min(np.linalg.norm(a - b) for i, a in enumerate(pos) for b in pos[i + 1 :]) > 0.05


def test_same_seed_same_variants_and_generator_matches_the_stage(ws, tmp_path):
    from splat2sim.scene import load
    from splat2sim.scene.randomize import generate

    record = json.loads((ws / "variants" / "variants.json").read_text())
    base = load(ws)
    first = list(generate(base, seed=record["seed"], count=2, **record["settings"]))
    again = list(generate(base, seed=record["seed"], count=2, **record["settings"]))
    other = next(generate(base, seed=record["seed"] + 1, count=1, **record["settings"]))
    for a, b, stored in zip(first, again, record["variants"]):
        assert a.to_dict()["bodies"] == b.to_dict()["bodies"]
        for body in a.bodies:
            s = stored["bodies"][body.name]
            assert body.scale == pytest.approx(s["scale"]) and body.inertial["mass"] == pytest.approx(s["mass"])
            assert body.contact["friction"] == pytest.approx(s["friction"])
        stored_scene = json.loads((ws / "variants" / stored["folder"] / "scene.json").read_text())
        for body, sb in zip(a.bodies, stored_scene["bodies"]):
            assert np.asarray(body.position) == pytest.approx(sb["pose"]["position"], abs=1e-9)
    assert other.bodies[0].scale != first[0].bodies[0].scale
    # a variant from the generator loads in MuJoCo straight away
    import mujoco

    model, data = first[0].to_mujoco()
    mujoco.mj_step(model, data, 200)
    assert np.all(np.isfinite(data.qpos))


def test_variants_made_in_a_process_pool_are_those_made_one_after_another(ws, tmp_path):
    """The stage makes variants in a spawned process pool (run.workers, 0 = cores): each
    depends only on (seed, index), so one worker and two write the same record and files."""
    from splat2sim import api
    from tests.stages.export_fixtures import EXAMPLE_CAPTURE, clone_workspace, gt_overrides, register_gt_stages

    records = {}
    for workers in (1, 2):
        copy = clone_workspace(ws, tmp_path / f"workers_{workers}")
        with pytest.MonkeyPatch.context() as mp:
            register_gt_stages(mp)
            api.build(None, copy, until="variants", force=["variants"], overrides=gt_overrides(EXAMPLE_CAPTURE) + [f"run.workers={workers}"])
        stage = json.loads((copy / "variants" / "_stage.json").read_text())
        assert stage["backend"] == f"{workers} worker(s)"
        records[workers] = json.loads((copy / "variants" / "variants.json").read_text())
        records[workers, "mjcf"] = (copy / "variants" / "0007" / "mjcf" / "scene.xml").read_text()
    assert records[1] == records[2]
    assert records[1, "mjcf"] == records[2, "mjcf"]


def test_a_crowded_support_places_what_fits_and_records_the_rest(ws):
    """A support too small for every object (as a scene whose scale came out too large gives)
    never fails: each variant keeps the objects that fit, says which it left out and why, and
    still settles."""
    from splat2sim.scene import load
    from splat2sim.scene.randomize import RandomizeSettings, footprints_of, make_variant

    base = load(ws)
    radii = sorted(r for r, _ in footprints_of(base).values())
    plane = base.environment["support_plane"]
    # room for the smallest object only: a support 2.2 smallest-radius plus margins wide
    side = 2 * (0.05 + radii[0]) + 0.2 * radii[0]
    plane["size"], plane["center"] = [side, side], [0.0, 0.0, 0.0]
    settings = RandomizeSettings(scale_jitter=0.0, settle_seconds=0.5)
    footprints = footprints_of(base)
    for k in range(3):
        scene = make_variant(base, 0, k, settings, footprints)
        left_out = scene.provenance["variant"]["left_out"]
        assert len(scene.bodies) >= 1 and len(scene.bodies) + len(left_out) == len(base.bodies)
        assert all("does not fit" in x["why"] or "crowded" in x["why"] for x in left_out)
        assert {x["body"] for x in left_out}.isdisjoint(b.name for b in scene.bodies)
        model, data = scene.to_mujoco()  # what is left loads and steps
        import mujoco

        mujoco.mj_step(model, data, 100)
        assert np.all(np.isfinite(data.qpos))


def test_a_stored_variant_renders_through_the_splat_with_its_appearance(ws):
    """variants.json keeps each variant's appearance record; a variant's scene.json renders
    through SplatCamera (its bodies' splats scaled with them) and its record applies."""
    from splat2sim.scene import load

    record = json.loads((ws / "variants" / "variants.json").read_text())
    entry = record["variants"][0]
    look = entry["appearance"]
    assert set(look) == {"brightness", "gain", "tints", "camera"} and abs(look["brightness"] - 1) <= 0.2
    variant = load(ws / "variants" / entry["folder"] / "scene.json")
    assert variant.provenance["variant"]["appearance"] == look
    cam = variant.camera()
    body = variant.bodies[0]
    local = cam._objects[0]["means"]  # [N,3] body frame, scaled
    base = load(ws).camera()._objects[0]["means"]
    assert np.allclose(local, base * body.scale, atol=1e-6) and body.scale != 1.0
    filmed = load(ws / "export" / "scene.json")
    for name, home in cam._home.items():  # the filmed poses, which the patches' footprints follow, not the variant's
        assert np.allclose(home[:3, 3], filmed.body(name).position, atol=1e-5)
        assert np.linalg.norm(np.asarray(variant.body(name).position[:2]) - home[:2, 3]) > 1e-3
    plain = cam.render(camera=3, width=64, height=48)
    varied = cam.render(camera=3, width=64, height=48, appearance=look)
    assert (plain.object_ids >= 0).any() and np.abs(varied.rgb - plain.rgb).mean() > 0.005
