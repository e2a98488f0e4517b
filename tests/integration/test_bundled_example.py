"""The bundled example (examples/tabletop, what `make demo` builds) finds its three objects:
a mug, a can and a box, each matched to the ground truth shipped beside the video, and
nothing else. Slow (a CPU splat of the whole capture): `make test-all`.

A segmentation change once took it from 3 objects to 2 (the mug and the can merged) and no
test noticed; this is that test."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabletop"


@pytest.mark.slow
def test_bundled_example_finds_its_three_objects(tmp_path):
    from splat2sim import api
    from splat2sim.synth.evaluate import MATCH_IOU, evaluate_workspace

    ws = tmp_path / "demo"
    # the Makefile's demo command, up to the meshes the evaluation compares
    api.build(EXAMPLE / "video.mp4", ws, preset="cpu", overrides=["poses.marker_size=0.08"], until="mesh")
    report = evaluate_workspace(EXAMPLE, ws)
    found = {o["kind"]: o.get("iou") for o in report["objects"] if o["found"]}
    assert report["objects_true"] == 3
    # matched: 3D IoU >= MATCH_IOU with one true object each (assignment is one-to-one)
    assert sorted(found) == ["box", "can", "mug"], (found, MATCH_IOU)
    assert report["objects_predicted"] == 3, report.get("unmatched_predictions")
    # the marker fixes the scale: the camera-centre fit gives the truth to ~1 % (0.7 % measured)
    assert abs(report["scale"]["error"]) < 0.02
