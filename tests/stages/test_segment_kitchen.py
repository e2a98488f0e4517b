"""Segmentation of a real capture: the LEGO bulldozer on the kitchen table in
../shared/data/real/kitchen_lego (skipped when absent; slow: it trains a CPU splat).

The splat is trained at the CPU preset's resolution with the Gaussian budget and
iterations that reach the 22 dB held-out target on these photos (bench/bench_splat.py);
the CPU preset's own 1000-iteration, 30k splat is coarser, and its bulldozer comes out in
two pieces (the bucket split off at the narrow footprint of its arms, with a note saying
so).

Ground truth is a hand-drawn bounding box of the bulldozer in four of the source photos
(pixels of the 1558x1039 originals, drawn once by looking at the photos, tracks and bucket
teeth included). The photos have no masks, so the check works in 2D: the object's
Gaussians, projected with the poses stage's cameras, must fill the box (one object, not a
part of the bulldozer) and stay inside it (the table, the mats and the chairs around the
bulldozer are not in the object).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splat2sim import api
from splat2sim.io.gaussians_ply import read_gaussians_ply

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/real")
LEGO = DATA / "kitchen_lego" / "images"

SPLAT = ["splat.iterations=3000", "splat.max_gaussians=60000", "splat.densify_until=1500"]
# source photo -> bulldozer box (x0, y0, x1, y1) in the photo's own pixels
BULLDOZER_BOXES = {
    "frame_02.jpg": (472, 110, 1036, 810),
    "frame_08.jpg": (580, 156, 1336, 644),
    "frame_14.jpg": (570, 344, 1040, 784),
    "frame_20.jpg": (464, 286, 994, 714),
}


def _project(points: np.ndarray, frame: dict, k: dict) -> np.ndarray:
    """Pixels [N,2] of world points [N,3] in a registered frame (NaN behind the camera)."""
    t = np.asarray(frame["world_from_camera"], np.float64)
    cam = (points - t[:3, 3]) @ t[:3, :3]
    z = np.where(cam[:, 2] > 1e-6, cam[:, 2], np.nan)
    return np.stack([k["fx"] * cam[:, 0] / z + k["cx"], k["fy"] * cam[:, 1] / z + k["cy"]], 1)


def _box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix
    return ix / area


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not LEGO.is_dir(), reason="kitchen_lego photos not present")
def test_kitchen_bulldozer_is_one_object_apart_from_the_table(tmp_path):
    ws = tmp_path / "ws"
    api.build(LEGO, ws, preset="cpu", until="segment", overrides=SPLAT)

    means = read_gaussians_ply(ws / "splat/gaussians.ply")["means"].astype(np.float64)
    labels = np.load(ws / "segment/gaussian_labels.npy")
    objects = json.loads((ws / "segment/objects.json").read_text())["objects"]
    frames = json.loads((ws / "frames/frames.json").read_text())
    cams = json.loads((ws / "poses/cameras.json").read_text())
    source_of = {f["file"]: f["source_file"] for f in frames["frames"]}
    to_frame = frames["scale_from_source"]  # source-photo pixels -> keyframe pixels
    assert objects, "no objects found on the kitchen table"

    views = 0
    bulldozer_votes: dict[str, int] = {}
    inside_in_every_view = {o["id"]: True for o in objects}
    for frame in cams["frames"]:
        name = source_of[frame["file"]]
        if name not in BULLDOZER_BOXES or not frame.get("registered", True):
            continue
        views += 1
        k = (cams.get("cameras") or [cams["intrinsics"]])[frame.get("camera", 0)]
        box = np.asarray(BULLDOZER_BOXES[name], np.float64) * to_frame
        uv = _project(means, frame, k)
        for obj in objects:
            pts = uv[labels == obj["index"]]
            inside_box = np.all((pts >= box[:2]) & (pts <= box[2:]), axis=1)
            inside_in_every_view[obj["id"]] &= bool(inside_box.mean() >= 0.9)
        # robust extent of each object's projection (2nd-98th percentile) against the box
        ious = {}
        for obj in objects:
            pts = uv[(labels == obj["index"]) & np.isfinite(uv).all(1)]
            if len(pts) < 10:
                continue
            lo, hi = np.percentile(pts, 2, axis=0), np.percentile(pts, 98, axis=0)
            ious[obj["id"]] = _box_iou((*lo, *hi), box)
        best = max(ious, key=ious.get)
        assert ious[best] >= 0.5, f"{name}: no object fills the bulldozer's box (IoU {ious})"
        # one object: any other object overlapping the box is small beside it, not a second part
        others = sorted(v for key, v in ious.items() if key != best)
        assert not others or others[-1] < 0.25, f"{name}: the bulldozer is split ({ious})"
        bulldozer_votes[best] = bulldozer_votes.get(best, 0) + 1

        # apart from the table: its Gaussians stay inside the box (10 % margin), where the
        # table, mats and chairs around the bulldozer would fall outside it
        obj = next(o for o in objects if o["id"] == best)
        pts = uv[labels == obj["index"]]
        margin = 0.1 * np.array([box[2] - box[0], box[3] - box[1]])
        inside = np.all((pts >= box[:2] - margin) & (pts <= box[2:] + margin), axis=1)
        assert inside.mean() >= 0.95, f"{name}: {1 - inside.mean():.0%} of {best} lies outside the bulldozer"
    assert views >= 3, "too few annotated photos registered"
    assert len(bulldozer_votes) == 1 and max(bulldozer_votes.values()) == views, bulldozer_votes
    bulldozer = next(o for o in objects if o["id"] in bulldozer_votes)
    assert bulldozer["support"] == "table"
    # no piece of it came out as an object of its own: something else can fall inside the
    # box from one side (a jar behind it), but only a part of the bulldozer does from all four
    pieces = [key for key, inside in inside_in_every_view.items() if inside and key != bulldozer["id"]]
    assert not pieces, f"parts of the bulldozer segmented apart: {pieces}"
