"""The export stage on a ground-truth workspace: every format is written, loads in a real
simulator and rests; names from hostile labels stay safe; scene.json is the single source."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from tests.stages.export_fixtures import NASTY_LABELS, gt_workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "export_gt", until="export")


@pytest.fixture(scope="module")
def nasty_ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "export_nasty", until="export", label_style="nasty", bad_inertia="obj_001")


@pytest.fixture(scope="module")
def scaled_ws(tmp_path_factory):
    return gt_workspace(tmp_path_factory, "export_scaled", until="export", scale=2.0)


def _settle_both(export_dir):
    from splat2sim.scene import load_scene
    from splat2sim.sim.mujoco_sim import compile_model, settle_mujoco
    from splat2sim.sim.pybullet_sim import settle_pybullet

    scene = load_scene(export_dir / "scene.json")
    model, messages = compile_model(export_dir / "mjcf" / "scene.xml")
    assert messages == []
    mj = settle_mujoco(model, [b.name for b in scene.bodies], 2.0)
    pb = settle_pybullet(export_dir / "urdf", 2.0)
    return scene, mj, pb


def test_every_format_is_written_loads_and_rests(ws):
    from splat2sim.scene.sdf import validate_sdf
    from splat2sim.scene.usd import validate_usd

    ex = ws / "export"
    for rel in (
        "scene.json",
        "mjcf/scene.xml",
        "mjcf/objects.xml",
        "urdf/environment.urdf",
        "urdf/load_pybullet.py",
        "urdf/scene_poses.json",
        "usd/scene.usda",
        "sdf/scene.sdf",
        "assets/gaussians.ply",
        "README.md",
    ):
        assert (ex / rel).is_file(), rel
    scene, mj, pb = _settle_both(ex)
    assert len(scene.bodies) == 3
    for result in (mj, pb):
        assert [b.name for b in result.bodies] == [b.name for b in scene.bodies]
        for b in result.bodies:  # the exported pose is the filmed one; nothing flies off or sinks
            assert b.finite and b.drift_mm < 2.0 and b.rotation_deg < 2.0 and b.penetration_mm < 2.0, (result.simulator, b)
            assert b.max_speed_m_s < 0.5 and b.kinetic_energy_j < 1e-4
    assert mj.warnings == []
    usd = validate_usd(ex / "usd" / "scene.usda")
    assert usd["ok"] and usd["validators"] > 10, usd
    sdf = validate_sdf(ex / "sdf" / "scene.sdf")
    if sdf["parser"] is None:
        pytest.skip("libsdformat not installed: " + sdf["note"])
    assert sdf["ok"], sdf


def test_mjcf_follows_menagerie_habits(ws):
    mj = ws / "export" / "mjcf"
    scene_xml = (mj / "scene.xml").read_text()
    root = ET.fromstring(scene_xml)
    assert root.find("compiler").get("meshdir") == ".."
    assert root.find("include").get("file") == "objects.xml"
    classes = {d.get("class"): d.find("geom") for d in root.find("default").findall("default")}
    assert classes["visual"].get("group") == "2" and classes["visual"].get("contype") == "0" and classes["visual"].get("conaffinity") == "0"
    assert classes["collision"].get("group") == "3"
    objects = ET.parse(mj / "objects.xml").getroot()
    for body in objects.find("worldbody").findall("body"):
        assert body.find("freejoint") is not None and body.find("inertial") is not None
        assert body.find("inertial").get("fullinertia")
        geoms = body.findall("geom")
        assert [g.get("class") for g in geoms].count("visual") == 1
        for g in geoms:
            if g.get("class") == "collision":
                assert len(g.get("friction").split()) == 3
    for text in (scene_xml, (mj / "objects.xml").read_text()):
        for line in text.splitlines():
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 2 == 0 and "\t" not in line


def test_inertia_reaches_the_simulators(ws):
    import mujoco
    import pybullet as p

    from splat2sim.scene import load_scene
    from splat2sim.scene.common import principal_inertia
    from splat2sim.sim.pybullet_sim import load_urdf_dir

    scene = load_scene(ws / "export")
    model = mujoco.MjModel.from_xml_path(str(ws / "export" / "mjcf" / "scene.xml"))
    client = p.connect(p.DIRECT)
    try:
        ids = load_urdf_dir(ws / "export" / "urdf", client)
        for b in scene.bodies:
            moments, _ = principal_inertia(b.inertial["inertia"])
            mid = model.body(b.name).id
            assert model.body_mass[mid] == pytest.approx(b.inertial["mass"], rel=1e-6)
            assert np.sort(model.body_inertia[mid]) == pytest.approx(moments, rel=1e-5)
            assert np.asarray(model.body_ipos[mid]) == pytest.approx(b.inertial["center_of_mass"], abs=1e-7)
            info = p.getDynamicsInfo(ids[b.name], -1, physicsClientId=client)
            assert info[0] == pytest.approx(b.inertial["mass"], rel=1e-6)
            assert np.sort(info[2]) == pytest.approx(moments, rel=1e-4)  # URDF_USE_INERTIA_FROM_FILE honoured
            assert np.asarray(info[3]) == pytest.approx(b.inertial["center_of_mass"], abs=1e-6)
    finally:
        p.disconnect(client)


def test_generated_pybullet_example_runs(ws):
    done = subprocess.run([sys.executable, str(ws / "export" / "urdf" / "load_pybullet.py")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scene = json.loads((ws / "export" / "scene.json").read_text())
    for body in scene["bodies"]:
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith(body["name"] + " "))
        final = np.array(json.loads(line.split(" ", 1)[1]))
        assert np.linalg.norm(final - body["pose"]["position"]) < 0.003


def test_scene_json_is_the_single_source(ws, tmp_path):
    import mujoco

    from splat2sim.scene import load_scene, write_formats

    scene = load_scene(ws / "export")
    first = write_formats(scene, tmp_path / "a")
    second = write_formats(scene, tmp_path / "b")
    for fmt in ("mjcf", "urdf", "sdf"):
        for f in first[fmt].parent.iterdir():
            assert f.read_text() == (second[fmt].parent / f.name).read_text(), f
    scene.bodies[0].inertial["mass"] *= 2
    scene.bodies[0].contact["friction"] = 0.33
    out = write_formats(scene, tmp_path / "c", formats=("mjcf", "urdf"))
    model = mujoco.MjModel.from_xml_path(str(out["mjcf"]))
    assert model.body_mass[model.body(scene.bodies[0].name).id] == pytest.approx(scene.bodies[0].inertial["mass"])
    gid = model.geom(f"{scene.bodies[0].name}_collision_000").id
    assert model.geom_friction[gid][0] == pytest.approx(0.33)
    urdf = ET.parse(tmp_path / "c" / "urdf" / f"{scene.bodies[0].name}.urdf").getroot()
    assert float(urdf.find("link/inertial/mass").get("value")) == pytest.approx(scene.bodies[0].inertial["mass"])


def test_per_object_splats_are_in_object_frames(ws):
    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.scene import load_scene

    scene = load_scene(ws / "export")
    whole = read_gaussians_ply(ws / "export" / "assets" / "gaussians.ply")
    labels = np.load(ws / "segment" / "gaussian_labels.npy")
    for k, b in enumerate(scene.bodies):
        sub = read_gaussians_ply(scene.asset(b.splat))
        assert len(sub["means"]) == (labels == k).sum()
        world = sub["means"] + np.asarray(b.position, np.float32)
        assert np.abs(world - whole["means"][labels == k]).max() < 1e-6
        # in the object frame the object stands on z = 0 around the origin
        assert sub["means"][:, 2].min() == pytest.approx(0.0, abs=0.003)
        assert np.abs(sub["means"][:, :2].max(0) + sub["means"][:, :2].min(0)).max() < 0.01


def test_readme_has_provenance(ws):
    text = (ws / "export" / "README.md").read_text()
    assert "examples/tabletop" in text or "video.mp4" in text
    for stage in ("frames", "poses", "splat", "segment", "mesh", "collision", "physics"):
        assert f"| {stage} |" in text
    assert "URDF_USE_INERTIA_FROM_FILE" in text and "mjcf/scene.xml" in text
    record = json.loads((ws / "export" / "_stage.json").read_text())
    assert record["metrics"]["bodies"] == 3 and sorted(record["metrics"]["formats"]) == ["mjcf", "sdf", "urdf", "usd"]


def test_hostile_labels_give_safe_names_files_and_xml(nasty_ws):
    import mujoco
    import pybullet as p

    from splat2sim.scene import load_scene
    from splat2sim.scene.usd import validate_usd
    from splat2sim.sim.pybullet_sim import load_urdf_dir

    ex = nasty_ws / "export"
    scene = load_scene(ex)
    assert [b.label for b in scene.bodies] == NASTY_LABELS[:3]
    for b in scene.bodies:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", b.name), b.name
    # every file stays inside the export folder; every XML parses
    for f in ex.rglob("*"):
        assert f.resolve().is_relative_to(ex.resolve())
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", f.name), f.name
        if f.suffix in (".xml", ".urdf", ".sdf"):
            ET.parse(f)
    model = mujoco.MjModel.from_xml_path(str(ex / "mjcf" / "scene.xml"))
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, 100)
    assert np.all(np.isfinite(data.qpos))
    client = p.connect(p.DIRECT)
    try:
        ids = load_urdf_dir(ex / "urdf", client)
        assert len(ids) == 4
        for _ in range(100):
            p.stepSimulation(physicsClientId=client)
    finally:
        p.disconnect(client)
    assert validate_usd(ex / "usd" / "scene.usda")["ok"]
    # the invalid inertia from physics was replaced, and the record says so
    record = json.loads((ex / "_stage.json").read_text())
    assert any("inertia" in f["what"] for f in record["fallbacks"]), record["fallbacks"]


def test_python_api_loads_into_both_simulators(ws):
    import mujoco
    import pybullet as p

    from splat2sim import scene as S

    scene = S.load(ws)
    model, data = scene.to_mujoco()
    mujoco.mj_step(model, data, 500)
    for b in scene.bodies:
        assert np.linalg.norm(data.body(b.name).xpos - b.position) < 0.002
    client = p.connect(p.DIRECT)
    try:
        ids = scene.to_pybullet(client)
        assert set(ids) == {"_environment", *(b.name for b in scene.bodies)}
    finally:
        p.disconnect(client)


def _obj_vertices(path):
    return np.array([[float(x) for x in line.split()[1:4]] for line in path.read_text().splitlines() if line.startswith("v ")])


def test_scale_from_object_sizes_scales_every_length(ws, scaled_ws):
    """When the scale stage took the metric scale from object sizes, every length from then
    on (meshes, hulls, the support plane, poses) is in metres, export scales the splats and
    the cameras by it, and the scene still rests."""
    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.scene import load_scene

    a, b = load_scene(ws / "export" / "scene.json"), load_scene(scaled_ws / "export" / "scene.json")
    assert b.environment["metric_scale"]["scale"] == 2.0 and "metric_scale" not in a.environment
    np.testing.assert_allclose(b.environment["support_plane"]["size"], 2 * np.asarray(a.environment["support_plane"]["size"]))
    for ba, bb in zip(a.bodies, b.bodies):
        np.testing.assert_allclose(bb.position, 2 * np.asarray(ba.position), atol=1e-9)
        # atol: the test mesh stage writes OBJ vertices at 7 decimals (rounding <= 5e-8 m), doubled here
        np.testing.assert_allclose(
            _obj_vertices(scaled_ws / "export" / bb.visual), 2 * _obj_vertices(ws / "export" / ba.visual), rtol=1e-6, atol=1.5e-7
        )
        assert len(ba.collision) == len(bb.collision)
        for rel_a, rel_b in zip(ba.collision, bb.collision):  # hulls of the scaled meshes: the same up to near-coplanar points
            va, vb = _obj_vertices(ws / "export" / rel_a), _obj_vertices(scaled_ws / "export" / rel_b)
            np.testing.assert_allclose(vb.min(0), 2 * va.min(0), atol=1.5e-7)
            np.testing.assert_allclose(vb.max(0), 2 * va.max(0), atol=1.5e-7)
        sa, sb = read_gaussians_ply(ws / "export" / ba.splat), read_gaussians_ply(scaled_ws / "export" / bb.splat)
        np.testing.assert_allclose(sb["means"], 2 * sa["means"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sb["log_scales"], sa["log_scales"] + np.log(2.0), atol=1e-5)
    readme = (scaled_ws / "export" / "README.md").read_text()
    assert "sizes:prior" in readme and "x2 applied from the scale stage on" in readme
    ca, cb = (json.loads((w / "export" / "cameras.json").read_text()) for w in (ws, scaled_ws))
    assert [f["file"] for f in ca["frames"]] == [f["file"] for f in cb["frames"]] and ca["frames"]
    for fa, fb in zip(ca["frames"], cb["frames"]):
        wa, wb = np.asarray(fa["world_from_camera"]), np.asarray(fb["world_from_camera"])
        np.testing.assert_allclose(wb[:3, :3], wa[:3, :3], atol=1e-12)
        np.testing.assert_allclose(wb[:3, 3], 2 * wa[:3, 3], atol=1e-9)
    _, mj, pb = _settle_both(scaled_ws / "export")
    for result in (mj, pb):
        for body in result.bodies:
            assert body.finite and body.drift_mm < 4.0 and body.penetration_mm < 4.0, (result.simulator, body)


def test_usd_props_match_scene_json(ws):
    """The USD scene, opened by usd-core with its per-object props composed in, carries the
    masses, poses and collider counts of scene.json. Tolerances: the USD attributes are
    float32 (mass, centre of mass: relative 1e-6), poses are double (1e-9 m)."""
    from pxr import Usd, UsdGeom, UsdPhysics

    from splat2sim.scene import load_scene
    from splat2sim.scene.usd_prop import prop_relpath

    ex = ws / "export"
    scene = load_scene(ex / "scene.json")
    stage = Usd.Stage.Open(str(ex / "usd" / "scene.usda"))
    assert stage.GetDefaultPrim().GetPath() == "/World"
    for b in scene.bodies:
        assert (ex / "usd" / prop_relpath(b.name)).is_file()
        prim = stage.GetPrimAtPath(f"/World/Objects/{b.name}")
        assert prim.IsValid() and prim.HasAPI(UsdPhysics.RigidBodyAPI), b.name
        mass = UsdPhysics.MassAPI(prim)
        assert mass.GetMassAttr().Get() == pytest.approx(b.inertial["mass"], rel=1e-6)
        assert np.allclose(mass.GetCenterOfMassAttr().Get(), b.inertial["center_of_mass"], rtol=1e-6, atol=1e-7)
        world = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
        assert np.allclose(world, b.world_from_body(), atol=1e-9), b.name
        colliders = [p for p in Usd.PrimRange(prim) if p.HasAPI(UsdPhysics.CollisionAPI)]
        assert len(colliders) == len(b.collision) > 0, b.name
        for c in colliders:
            assert UsdPhysics.MeshCollisionAPI(c).GetApproximationAttr().Get() == "convexHull"
            assert UsdGeom.Imageable(c).GetPurposeAttr().Get() == "guide"
    support = stage.GetPrimAtPath("/World/Support")
    assert support.HasAPI(UsdPhysics.CollisionAPI) and not support.HasAPI(UsdPhysics.RigidBodyAPI)
    bodies = [p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    assert len(bodies) == len(scene.bodies)


def test_a_turned_support_is_turned_in_every_format(ws, tmp_path):
    """mesh.json's support rectangle has a yaw (a table need not line up with the world's
    axes): a long thin support turned 45 degrees must stop a ray along its diagonal and let
    one through where the unturned box would be, in MuJoCo and pybullet alike; USD and SDF
    carry the same turn."""
    import math

    import mujoco
    import pybullet as p

    from splat2sim.scene import load_scene, write_formats
    from splat2sim.scene.simulators import load_scene_into

    scene = load_scene(ws / "export" / "scene.json")
    scene.bodies = []
    yaw = math.pi / 4
    scene.environment = {**scene.environment, "support_plane": {"size": [2.0, 0.2], "center": [0.1, -0.2, 0.0], "yaw": yaw, "friction": 0.8}}
    written = write_formats(scene, tmp_path)
    on_turned = (0.1 + 0.7 * math.cos(yaw), -0.2 + 0.7 * math.sin(yaw))  # 0.7 m along the turned long side
    on_unturned = (0.1 + 0.7, -0.2)  # where the long side would reach without the turn
    model = mujoco.MjModel.from_xml_path(str(written["mjcf"]))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    support = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "support")
    hit = np.zeros(1, np.int32)

    def mj_hits(xy):
        # rays from above, straight down; group 3 = collision geoms only (menagerie class)
        mujoco.mj_ray(model, data, np.array([*xy, 1.0]), np.array([0.0, 0.0, -1.0]), np.array([0, 0, 0, 1, 0, 0], np.uint8), 1, -1, hit)
        return int(hit[0]) == support

    assert mj_hits(on_turned) and not mj_hits(on_unturned)
    client = p.connect(p.DIRECT)
    try:
        load_scene_into(scene, client)

        def pb_hits(xy):
            return p.rayTest([*xy, 1.0], [*xy, -1.0], physicsClientId=client)[0][0] >= 0

        assert pb_hits(on_turned) and not pb_hits(on_unturned)
    finally:
        p.disconnect(client)
    usda = written["usd"].read_text()
    assert re.search(r"float xformOp:rotateZ = 45(\.0+)?\b", usda), "USD support has no 45-degree rotateZ"
    pose = ET.parse(written["sdf"]).getroot().find(".//model[@name='support']/pose").text.split()
    assert float(pose[5]) == pytest.approx(yaw, abs=1e-6)
