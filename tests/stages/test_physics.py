"""The physics stage on an oracle workspace (real frames and imported ground-truth poses of
the bundled example capture), with `segment` and `mesh` replaced by tiny test stages that
write their artifacts from the ground truth, and a real OpenAI-compatible HTTP server on
127.0.0.1 for the VLM path."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from splat2sim import api
from splat2sim.errors import ConfigError
from splat2sim.stages import STAGES, StageSpec
from tests.unit.test_vlm import KEY, FakeVLM, good_answer

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "examples" / "tabletop"


# ----------------------------------------------------------------------------- GT upstream stages
@dataclass
class GTConfig:
    capture: str = ""
    hull: bool = False  # closed outer surfaces (cavities filled), as a reconstruction may give
    scale: float = 1.0  # unused by segment; kept so both stubs share a config


def _gt_objects(ctx):
    import trimesh

    from splat2sim.synth.oracle import gt_to_world

    capture = Path(ctx.config.capture)
    gt = json.loads((capture / "ground_truth.json").read_text())
    T = gt_to_world(ctx.workspace.root)
    out = []
    for obj in gt["objects"]:
        mesh = trimesh.load(capture / obj["mesh_file"], process=False, force="mesh")
        world = T @ np.asarray(obj["world_from_object"])
        v = mesh.vertices @ world[:3, :3].T + world[:3, 3]
        out.append((obj, v, np.asarray(mesh.faces)))
    return out


def gt_segment(ctx):
    objects = []
    for i, (obj, v, _) in enumerate(_gt_objects(ctx)):
        objects.append({"id": f"obj_{i:03d}", "index": i, "label": obj["kind"], "label_score": 0.9, "gaussians": 1000,
                        "centroid": v.mean(0).tolist(), "bbox_min": v.min(0).tolist(), "bbox_max": v.max(0).tolist(),
                        "support": "table", "merged": False, "notes": []})  # fmt: skip
    doc = {"schema_version": 1, "method": "geometric", "label_source": "none", "support_plane": {"normal": [0, 0, 1], "offset": 0.0},
           "objects": objects, "background_gaussians": 0, "removed_floaters": 0}  # fmt: skip
    (ctx.out_dir / "objects.json").write_text(json.dumps(doc))


def gt_mesh(ctx):
    import trimesh

    from splat2sim.geometry.inertia import mass_properties

    entries = []
    metric = ctx.metric_frame()
    for i, (obj, v, f) in enumerate(_gt_objects(ctx)):
        oid = f"obj_{i:03d}"
        v = metric.points(v)
        lo, hi = v.min(0), v.max(0)
        origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
        mesh = trimesh.Trimesh(v - origin, f, process=False)
        mesh.merge_vertices(merge_tex=True, merge_norm=True)  # OBJ seams split vertices
        if ctx.config.hull:
            mesh = mesh.convex_hull
        folder = ctx.out_dir / "objects" / oid
        folder.mkdir(parents=True)
        mesh.export(folder / "visual.obj")
        props = mass_properties(mesh.vertices, mesh.faces)
        T = np.eye(4)
        T[:3, 3] = origin
        entries.append({"id": oid, "label": obj["kind"], "visual": f"objects/{oid}/visual.obj", "world_from_object": T.tolist(),
                        "watertight": bool(mesh.is_watertight), "volume": props.volume, "area": float(mesh.area),
                        "vertices": len(mesh.vertices), "faces": len(mesh.faces), "bounds": mesh.bounds.tolist(),
                        "center_of_mass": props.center_of_mass.tolist(), "inertia_unit_density": props.inertia.tolist(),
                        "gt_mass": obj["mass"]})  # fmt: skip
    doc = {"schema_version": 1, "support_plane": {"normal": [0, 0, 1], "offset": 0.0, "size": [1, 1], "center": [0, 0, 0]},
           "objects": entries, "background": None}  # fmt: skip
    (ctx.out_dir / "mesh.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    from splat2sim.synth.oracle import oracle_workspace

    ws = tmp_path_factory.mktemp("oracle") / "ws"
    oracle_workspace(CAPTURE, ws, until="poses", keyframes=8)
    return ws


@pytest.fixture()
def workspace(oracle, tmp_path, monkeypatch):
    """A copy of the oracle workspace with GT segment and mesh stages registered and run."""
    monkeypatch.setitem(
        STAGES, "segment", StageSpec("segment", 1, "GT objects (test)", ("frames", "poses"), GTConfig, "tests.stages.test_physics:gt_segment")
    )
    monkeypatch.setitem(STAGES, "mesh", StageSpec("mesh", 1, "GT meshes (test)", ("segment", "scale"), GTConfig, "tests.stages.test_physics:gt_mesh"))
    ws = tmp_path / "ws"
    shutil.copytree(oracle, ws)
    config = yaml.safe_load((ws / "config.yaml").read_text())
    keep = {k: v for k, v in config.items() if k in ("run", "frames", "poses")}
    (ws / "config.yaml").write_text(yaml.safe_dump(keep))
    monkeypatch.delenv("SPLAT2SIM_VLM_API_KEY", raising=False)
    return ws


def upstream(ws, hull=False):
    api.run_stage(ws, "segment", overrides=[f"segment.capture={CAPTURE}"])
    api.run_stage(ws, "scale")
    api.run_stage(ws, "mesh", overrides=[f"mesh.capture={CAPTURE}", f"mesh.hull={str(hull).lower()}"])
    return json.loads((ws / "mesh" / "mesh.json").read_text())


def physics(ws, *overrides, force=True):
    outcome = api.run_stage(ws, "physics", overrides=list(overrides), force=force)
    doc = json.loads((ws / "physics" / "physics.json").read_text())
    record = json.loads((ws / "physics" / "_stage.json").read_text())
    return doc, record, outcome


def assert_complete(doc):
    """Every field for every object, ranges containing their values."""
    for obj in doc["objects"]:
        for key in ("id", "label", "material", "hollow", "wall_thickness", "density", "mass", "center_of_mass", "inertia",
                    "friction", "restitution", "source", "confidence", "notes"):  # fmt: skip
            assert key in obj, key
        quantities = [obj["density"], obj["mass"], obj["restitution"], *obj["friction"].values()]
        assert set(obj["friction"]) == {"static", "dynamic", "rolling"}
        for q in quantities:
            assert q["range"][0] <= q["value"] <= q["range"][1]
            assert q["source"] in ("vlm", "clip", "prior", "user") and 0 <= q["confidence"] <= 1
        assert obj["source"] in ("vlm", "clip", "prior", "user")
        inertia = np.asarray(obj["inertia"])
        assert np.allclose(inertia, inertia.T) and np.linalg.eigvalsh(inertia).min() > 0
        assert len(obj["center_of_mass"]) == 3
    assert {"value", "source", "log_sigma", "vlm_sizes"} <= set(doc["scale"])


def answers_from_truth(mesh_doc, factor=1.0, sizes=1.0):
    """A server that answers like a VLM that knows each object (test answers, keyed on the
    label in the request): mass = truth x factor, hollow for the mug."""
    truth = {e["label"]: e for e in mesh_doc["objects"]}

    def answer(request):
        text = request["body"]["messages"][1]["content"][0]["text"]
        label = text.split("label (may be wrong): ")[1].split(".")[0]
        e = truth[label]
        ext = (np.asarray(e["bounds"][1]) - np.asarray(e["bounds"][0])) * sizes
        m = e["gt_mass"] * factor
        material = {"mug": "ceramic", "can": "steel", "box": "cardboard"}[label]
        body = good_answer(label=label, material=material, hollow=label == "mug", wall_thickness_m=0.005 if label == "mug" else None,
                           mass_kg={"value": m, "range": [0.8 * m, 1.25 * m]}, size_m=ext.tolist(),
                           density_kg_m3=None if label == "mug" else {"value": m / e["volume"], "range": [0.7 * m / e["volume"], 1.4 * m / e["volume"]]})  # fmt: skip
        return ("answer", json.dumps(body))

    return answer


# ----------------------------------------------------------------------------- tests
def test_prior_path_without_vlm_or_clip(workspace):
    mesh_doc = upstream(workspace)
    doc, record, _ = physics(workspace)
    assert_complete(doc)
    assert [o["source"] for o in doc["objects"]] == ["prior"] * 3
    whats = " ".join(f["what"] for f in record["fallbacks"])
    assert "vlm estimates" in whats and "clip estimates" in whats  # never silent
    assert doc["scale"]["value"] == 1.0 and doc["scale"]["source"] == "imported_metric"  # poses had metric scale
    by_label = {o["label"]: o for o in doc["objects"]}
    gt = {e["label"]: e["gt_mass"] for e in mesh_doc["objects"]}
    # GT meshes model the mug's walls: shell-aware mass keeps the mesh volume
    assert by_label["mug"]["mass_model"] == "walls_in_mesh" and by_label["mug"]["hollow"]
    for label, obj in by_label.items():
        lo, hi = obj["mass"]["range"]
        assert lo <= gt[label] <= hi, (label, gt[label], obj["mass"])
    assert (workspace / "physics" / "crops").is_dir() and len(list((workspace / "physics" / "crops").glob("*.jpg"))) >= 6


def test_vlm_path_cache_and_key_hygiene(workspace, monkeypatch):
    mesh_doc = upstream(workspace)
    monkeypatch.setenv("TEST_VLM_KEY", KEY)
    with FakeVLM([answers_from_truth(mesh_doc)]) as server:
        opts = [f"physics.vlm_url={server.url}", "physics.vlm_model=test-vlm", "physics.vlm_api_key_env=TEST_VLM_KEY",
                "physics.estimators=[vlm, prior]", "physics.views=3"]  # fmt: skip
        doc, record, _ = physics(workspace, *opts)
        sent = len(server.requests)
    assert sent == 3
    assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in server.requests)
    images = [p for p in server.requests[0]["body"]["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(images) == 3 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert_complete(doc)
    assert [o["source"] for o in doc["objects"]] == ["vlm"] * 3
    assert record["fallbacks"] == []
    gt = {e["label"]: e["gt_mass"] for e in mesh_doc["objects"]}
    for obj in doc["objects"]:
        assert abs(np.log(obj["mass"]["value"] / gt[obj["label"]])) < 0.15, obj
    assert doc["estimators"]["vlm"]["api_key"] == "from $TEST_VLM_KEY"
    # the key is in no artifact or log of the workspace
    for path in workspace.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    # re-run with the server gone: answers replay from the cache, zero requests, same result
    again, record2, _ = physics(workspace, *opts)
    assert again["estimators"]["vlm"]["requests"] == 0 and again["estimators"]["vlm"]["cache_hits"] == 3
    assert [o["mass"] for o in again["objects"]] == [o["mass"] for o in doc["objects"]]
    assert record2["fallbacks"] == []
    assert len(list((workspace / "physics" / "vlm_cache").glob("*.json"))) == 3
    # the workspace cache survives deleting the stage folder
    shutil.rmtree(workspace / "physics")
    third, _, _ = physics(workspace, *opts)
    assert third["estimators"]["vlm"]["requests"] == 0


def test_vlm_failures_fall_back_with_records(workspace):
    upstream(workspace)
    script = [
        ("status", 500, None),
        ("status", 429, 0.01),
        ("drop",),  # object 0: 3 attempts fail
        ("sleep", 1.0, "{}"),
        ("answer", "not json"),
        ("answer", json.dumps(good_answer(mass_kg={"value": -3}))),
    ]  # object 1
    with FakeVLM(script) as server:
        opts = [f"physics.vlm_url={server.url}", "physics.vlm_timeout_s=0.3", "physics.vlm_retries=2", "physics.vlm_backoff_s=0.01",
                "physics.estimators=[vlm, prior]", "physics.views=2"]  # fmt: skip
        doc, record, _ = physics(workspace, *opts)
        sent = len(server.requests)
    assert_complete(doc)
    assert sent == 6  # two objects x 3 attempts; then the VLM is disabled for the third
    assert [o["source"] for o in doc["objects"]] == ["prior"] * 3
    falls = [f for f in record["fallbacks"] if f["what"].endswith("vlm estimate")]
    assert len(falls) == 3 and all(f["used"] == "prior" for f in falls)
    assert "http_500, http_429, connection" in falls[0]["why"]
    assert "timeout, malformed, invalid" in falls[1]["why"]
    assert "disabled" in falls[2]["why"]
    log = json.loads((workspace / "physics" / "vlm_log.json").read_text())
    assert [a["outcome"] for a in log["requests"][0]["attempts"]] == ["http_500", "http_429", "connection"]
    assert not list((workspace / "physics" / "vlm_cache").glob("*.json"))  # failures are never cached


def test_shell_aware_mass_on_filled_reconstructions(workspace):
    """Meshes with the mug's cavity filled (convex hulls): a shell of the mug's wall
    thickness is far closer to its true mass than a solid block of ceramic."""
    mesh_doc = upstream(workspace, hull=True)
    doc, _, _ = physics(workspace, "physics.estimators=[prior]")
    mug = next(o for o in doc["objects"] if o["label"] == "mug")
    gt = next(e for e in mesh_doc["objects"] if e["label"] == "mug")["gt_mass"]
    assert mug["mass_model"] == "shell" and mug["hollow"]
    solid_block = mug["measured"]["volume"] * 2400
    assert abs(np.log(mug["mass"]["value"] / gt)) < 0.5 * abs(np.log(solid_block / gt))
    assert mug["inertia_method"] == "mesh_shell"


def test_user_overrides_from_config_and_file(workspace, tmp_path):
    upstream(workspace)
    file = tmp_path / "known.yaml"
    file.write_text("objects:\n  box: {material: wood, restitution: 0.05}\n  obj_001: {static_friction: {value: 0.3, range: [0.25, 0.35]}}\n")
    doc, record, _ = physics(workspace, "physics.estimators=[prior]", "physics.objects={obj_000: {mass: 0.4}}", f"physics.overrides_file={file}")
    assert_complete(doc)
    by_id = {o["id"]: o for o in doc["objects"]}
    mug = by_id["obj_000"]
    assert mug["mass"] == {"value": 0.4, "range": [0.4, 0.4], "source": "user", "confidence": 1.0} and mug["source"] == "user"
    assert mug["density"]["value"] == pytest.approx(0.4 / mug["measured"]["material_volume"])
    assert np.trace(np.asarray(mug["inertia"])) > 0
    assert by_id["obj_001"]["friction"]["static"]["value"] == 0.3 and by_id["obj_001"]["friction"]["static"]["source"] == "user"
    box = next(o for o in doc["objects"] if o["label"] == "box")
    assert box["material"] == "wood" and box["restitution"]["value"] == 0.05 and box["restitution"]["source"] == "user"
    assert "overrides_file" in record["inputs"]
    with pytest.raises(ConfigError, match="obj_009"):
        physics(workspace, "physics.objects={obj_009: {mass: 1}}")
    with pytest.raises(ConfigError, match="did you mean 'mass'"):
        physics(workspace, "physics.objects={obj_000: {mas: 1}}")
    with pytest.raises(ConfigError, match="not physical"):
        physics(workspace, "physics.objects={obj_000: {mass: -1}}")


def test_scale_from_sizes_when_poses_have_no_metric_scale(workspace):
    """Without a metric scale from poses, the scale stage takes it from the label priors'
    sizes, physics works on metric meshes, and a VLM whose sizes disagree is reported with
    the factor to set, not silently applied."""
    world = json.loads((workspace / "poses" / "world.json").read_text())
    world["scale_source"], world["units"] = "unknown", "unknown (SfM units)"
    (workspace / "poses" / "world.json").write_text(json.dumps(world))  # as if SfM found no scale
    mesh_doc = upstream(workspace)
    s = json.loads((workspace / "scale" / "scale.json").read_text())
    # the example's mug, can and box are near their priors' typical sizes (coarse: priors span ~2x)
    assert s["source"] == "prior:sizes+camera_distance" and not s["poses_metric"] and 0.5 < s["scale"] < 2.0
    assert s["range"][0] < s["scale"] < s["range"][1] and set(s["per_object"]) == {"obj_000", "obj_001", "obj_002"}
    # the oracle's cameras are in metres (world.json was only relabelled): the truth is 1
    assert s["range"][0] < 1.0 < s["range"][1]
    cues = s["cues"]
    assert cues["sizes"]["weight"] + cues["camera_distance"]["weight"] == pytest.approx(1.0, abs=1e-3)
    assert set(cues["sizes"]) >= {"scale", "log_sigma", "objects"} and cues["skipped"] == {}
    # the camera cue's distance is the phone's true distance to the scene it aimed at (metres here)
    gt = json.loads((CAPTURE / "ground_truth.json").read_text())
    centres = np.asarray([f["world_from_camera"] for f in gt["frames"]])[:, :3, 3]
    true = float(np.median(np.linalg.norm(centres - np.asarray(gt["scene_center"]), axis=1)))
    assert cues["camera_distance"]["distance_units"] == pytest.approx(true, rel=0.03)  # 8 keyframes of the orbit, not all frames

    def scale_with(sizes: str, camera: str, *extra: str) -> dict:  # settings persist in the workspace: give both each time
        api.run_stage(workspace, "scale", overrides=[f"scale.from_sizes={sizes}", f"scale.camera_distance={camera}", *extra], force=True)
        return json.loads((workspace / "scale" / "scale.json").read_text())

    assert scale_with("auto", "never")["source"] == "prior:sizes"
    alone = scale_with("never", "auto", "scale.camera_distance_m=0.5")
    assert alone["source"] == "prior:camera_distance"
    assert alone["scale"] == pytest.approx(0.5 / cues["camera_distance"]["distance_units"], rel=1e-5)
    assert scale_with("never", "never", "scale.camera_distance_m=0.7")["source"] == "unknown"
    assert json.loads((workspace / "scale" / "_stage.json").read_text())["fallbacks"]
    assert scale_with("auto", "auto")["scale"] == pytest.approx(s["scale"])  # back to the defaults for the physics below
    with FakeVLM([answers_from_truth(mesh_doc, sizes=2.0)]) as server:
        doc, record, _ = physics(workspace, f"physics.vlm_url={server.url}", "physics.estimators=[vlm, prior]", "physics.views=2")
        text = server.requests[0]["body"]["messages"][1]["content"][0]["text"]
    assert " m.\n" in text  # dimensions are metric (from the scale stage)
    check = doc["scale"]["vlm_sizes"]
    assert check["factor"] == pytest.approx(2.0, rel=0.02) and check["objects"] == 3 and not check["agrees"]
    assert any("scale.value=" in w for w in record["warnings"])
    assert_complete(doc)


def test_clip_path_with_random_weights(workspace):
    upstream(workspace)
    doc, record, _ = physics(
        workspace, "physics.estimators=[clip, prior]", "physics.clip_weights=random", "physics.clip_model=ViT-S-32", "physics.views=2"
    )
    assert_complete(doc)
    assert [o["source"] for o in doc["objects"]] == ["clip"] * 3
    assert all(o["estimator"]["clip_probability"] > 0 for o in doc["objects"])
    assert any("random weights" in w for w in record["warnings"])
