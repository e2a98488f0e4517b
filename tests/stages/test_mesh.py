"""The mesh stage on an oracle workspace (splat on the true surfaces, ground-truth
segmentation): watertight meshes in the object frame, mass properties, background, plane."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splat2sim import api
from splat2sim.geometry.inertia import check_inertia
from tests.stages.mesh_fixtures import mesh_quality, oracle_with_gt, register_gt_segment

FAST = ["mesh.voxels_per_diagonal=100", "mesh.extra_views=20", "mesh.extra_view_size=160", "mesh.render_max_side=240",
        "mesh.face_budget=3000", "mesh.background_face_budget=4000"]  # fmt: skip


@pytest.fixture(scope="module")
def meshed(tmp_path_factory):
    from splat2sim.synth import generate_capture
    from splat2sim.synth.config import SynthConfig

    mp = pytest.MonkeyPatch()
    register_gt_segment(mp)
    root = tmp_path_factory.mktemp("mesh")
    cap = root / "cap"
    generate_capture(cap, SynthConfig(seed=5, width=320, height=240, duration_s=2, object_kinds=["mug", "box"]))
    ws = oracle_with_gt(cap, root / "ws")
    result = api.build(None, ws, until="mesh", overrides=[*FAST, "segment.extra_tiny=3"])
    yield ws, cap, result
    mp.undo()


def test_mesh_json_and_files(meshed):
    import trimesh

    ws, _cap, result = meshed
    assert "mesh" in result.ran
    record = json.loads((ws / "mesh" / "mesh.json").read_text())
    assert record["schema_version"] == 1
    assert len(record["objects"]) == 3
    for obj in record["objects"][:2]:
        mesh = trimesh.load(ws / "mesh" / obj["visual"], process=False, force="mesh")
        assert mesh.is_watertight and mesh.is_winding_consistent and obj["watertight"]
        assert obj["faces"] == len(mesh.faces) <= 3000
        assert obj["method"] == "tsdf"
        # object frame: centred in x, y; lowest point at z = 0; pure translation pose
        lo, hi = mesh.bounds
        assert abs(lo[2]) < 1e-6 and np.allclose((lo[:2] + hi[:2]) / 2, 0, atol=1e-6)
        pose = np.asarray(obj["world_from_object"])
        assert np.allclose(pose[:3, :3], np.eye(3)) and abs(pose[2, 3]) < 0.005  # resting on the table
        assert np.allclose(obj["bounds"], mesh.bounds)
        assert obj["volume"] == pytest.approx(mesh.volume, rel=1e-6)
        assert not check_inertia(np.asarray(obj["inertia_unit_density"]), obj["volume"])
        assert mesh.visual.vertex_colors is not None and np.ptp(mesh.visual.vertex_colors[:, :3]) > 0
    bg = record["background"]
    assert bg and (ws / "mesh" / bg["visual"]).is_file() and 0 < bg["faces"] <= 4000
    plane = record["support_plane"]
    assert plane["normal"] == [0.0, 0.0, 1.0] and min(plane["size"]) > 0.3


def test_three_gaussians_fall_back_with_a_record(meshed):
    ws, _cap, _ = meshed
    record = json.loads((ws / "mesh" / "mesh.json").read_text())
    tiny = record["objects"][2]
    assert tiny["method"] in ("box", "convex_hull") and tiny["volume"] > 0
    assert not check_inertia(np.asarray(tiny["inertia_unit_density"]), tiny["volume"])
    stage = json.loads((ws / "mesh" / "_stage.json").read_text())
    assert any("obj_002" in f["what"] for f in stage["fallbacks"])


def test_quality_reported(meshed):
    """The default (carve_with=scene) solid is what the whole splat never shows empty from
    the training views. Measured here (oracle splat, 320x240, coarse settings): box Chamfer
    2.1 % of its diagonal, F@5mm 1.00; both solids' IoU with the truth 0.78-0.79 and volume
    1.25-1.28x (the surface sits 1.5-3 mm out); the mug's cavity, which no view of this low
    2 s orbit sees into, is filled (as in evaluate's solid, which counts it)."""
    import trimesh

    from splat2sim.synth.evaluate import solid_overlap
    from tests.stages.mesh_fixtures import gt_meshes_world

    ws, cap, _ = meshed
    rows = mesh_quality(ws, cap)
    record = json.loads((ws / "mesh" / "mesh.json").read_text())
    for row, obj, truth in zip(rows, record["objects"], gt_meshes_world(cap, ws)):
        assert row["watertight"]
        mesh = trimesh.load(ws / "mesh" / obj["visual"], process=False, force="mesh")
        mesh.apply_transform(np.asarray(obj["world_from_object"]))
        iou, true_volume, volume = solid_overlap(truth, mesh)
        assert iou >= 0.72 and 1.0 <= volume / true_volume <= 1.4, (row, iou, volume / true_volume)
        if row["label"] == "box":
            assert row["chamfer_over_diagonal"] < 0.025 and row["fscore_5mm"] > 0.95, row


def test_the_pool_size_does_not_change_the_meshes(meshed, tmp_path):
    """Objects and background are meshed in a thread pool sized to the cores; one worker
    must write the same meshes (files byte for byte, records but for timings)."""
    import shutil

    ws, _cap, _ = meshed
    again = tmp_path / "ws"
    shutil.copytree(ws, again, ignore=shutil.ignore_patterns("mesh"))
    api.run_stage(again, "mesh", overrides=[*FAST, "segment.extra_tiny=3", "run.workers=1"], force=True)

    def records(root):
        doc = json.loads((root / "mesh" / "mesh.json").read_text())
        for obj in doc["objects"]:
            obj.pop("timings")
        return doc

    assert records(again) == records(ws)
    for path in sorted((ws / "mesh").rglob("*.obj")):
        assert (again / "mesh" / path.relative_to(ws / "mesh")).read_bytes() == path.read_bytes(), path.name
    assert json.loads((again / "mesh" / "_stage.json").read_text())["metrics"]["workers"] == 1
