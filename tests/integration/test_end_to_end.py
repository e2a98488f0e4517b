"""End to end through every real stage, in `make test`: a small synthetic table-top capture
(a box and a can, a marker on the table) goes from video to simulator scenes with no
ground-truth stand-in anywhere (frames, SfM poses, a trained splat, segmentation, scale,
meshes, CoACD hulls, physics, exports, checks, variants, report), then is scored against
the capture's own ground truth (splat2sim.synth.evaluate):

- every object found and matched (3D IoU >= MATCH_IOU), and nothing else;
- the marker's scale within 2 % of the truth the camera fit gives;
- the exported support rectangle is the table top, not the room around it;
- the export loads in MuJoCo and pybullet, and every body settles.

Sized for 2 cores: 320x240, 3 s, 20 keyframes, the CPU preset (a ~3 minute splat), CoACD with
fewer tree-search iterations, 2 variants. Seed 40 was not used to tune anything.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

SETTINGS = [
    "frames.target_count=20",
    "poses.marker_size=0.08",
    "collision.mcts_iterations=20",
    "variants.count=2",
]


# the whole build runs in the first test's fixture: ~6 minutes on 2 idle cores, more when loaded
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from splat2sim import api
    from splat2sim.synth import SynthConfig, generate_capture

    root = tmp_path_factory.mktemp("e2e")
    capture = root / "capture"
    generate_capture(capture, SynthConfig(seed=40, width=320, height=240, duration_s=3.0, fps=10, object_kinds=["box", "can"],
                                          marker=True, texture_size=512))  # fmt: skip
    result = api.build(capture / "video.mp4", root / "ws", preset="cpu", overrides=SETTINGS)
    return capture, root / "ws", result


def test_every_stage_ran_for_real(built):
    from splat2sim import api

    _, ws, result = built
    assert not result.problems
    for stage in api.implemented_stages():
        record = json.loads((ws / stage / "_stage.json").read_text())
        assert record["status"] == "complete", stage
    # no stand-in: the splat was trained and the poses solved here
    assert json.loads((ws / "splat" / "_stage.json").read_text())["metrics"]["iterations"] > 0
    assert json.loads((ws / "poses" / "_stage.json").read_text())["metrics"]["registered"] >= 15


def test_every_object_found_and_nothing_else(built):
    from splat2sim.synth.evaluate import MATCH_IOU, evaluate_workspace

    capture, ws, _ = built
    report = evaluate_workspace(capture, ws)
    found = sorted(o["kind"] for o in report["objects"] if o["found"])
    assert found == ["box", "can"], (report["objects"], MATCH_IOU)
    assert report["objects_predicted"] == 2, report.get("unmatched_predictions")
    # the marker fixes the scale; the camera-centre fit measures the truth to ~0.5 %
    assert report["scale"]["source"] == "marker" and abs(report["scale"]["error"]) < 0.02


def test_the_support_is_the_table_top(built):
    from splat2sim.synth.evaluate import _support_top, world_from_truth

    capture, ws, _ = built
    gt = json.loads((capture / "ground_truth.json").read_text())
    world_T, _ = world_from_truth(capture, ws)
    chosen = json.loads((ws / "scale" / "scale.json").read_text())["scale"]
    top = _support_top(ws, gt, world_T, chosen)
    # over 15 benchmark captures (bench/results/objects.json, mesh v9) the worst IoU was 0.66
    # and the least of the true top covered 0.87; the room's extent (before v9) gave ~0.1
    assert top["iou"] > 0.6 and top["covered"] > 0.85, top


def test_the_export_loads_and_settles(built):
    _, ws, _ = built
    check = json.loads((ws / "check" / "check.json").read_text())
    assert check["objects"] == 2
    assert check["simulators"]["mujoco"]["loaded"] and check["simulators"]["pybullet"]["loaded"]
    assert check["all_settled"], check.get("unsettled")
    assert (ws / "report" / "report" / "index.html").is_file()


def test_without_the_marker_the_weak_cues_hold_the_scale(built, tmp_path):
    """The same real poses and segmentation, as if the marker had not been seen: the scale
    stage's weak cues (object sizes, the camera's distance) give a range that holds the truth."""
    import shutil

    from splat2sim import api
    from splat2sim.synth.evaluate import world_from_truth

    capture, ws, _ = built
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("mesh", "collision", "physics", "export", "check", "variants", "report"))
    world = json.loads((copy / "poses" / "world.json").read_text())
    world["scale_source"], world["units"] = "unknown", "unknown (SfM units)"  # marker-scaled cameras, relabelled: the truth stays
    (copy / "poses" / "world.json").write_text(json.dumps(world))
    api.run_stage(copy, "scale", force=True)
    doc = json.loads((copy / "scale" / "scale.json").read_text())
    world_T, _ = world_from_truth(capture, copy)
    truth = 1.0 / float(np.cbrt(np.linalg.det(world_T[:3, :3])))  # metres per world unit, from the camera fit
    assert doc["source"] == "prior:sizes+camera_distance" and doc["cues"]["sizes"]["objects"] == 2
    # without labels the priors are generic (a factor ~3 at 2 sigma for 2 objects, 2 for the
    # camera distance): the claim is the range, not a point; on 12 benchmark captures the
    # fused error is in bench/results/objects.json
    assert doc["range"][0] < truth < doc["range"][1], (doc["scale"], doc["range"], truth)
