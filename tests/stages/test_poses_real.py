"""The poses stage on real captures in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from splat2sim import api

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/real")
LEGO = DATA / "kitchen_lego" / "images"
STATIC = DATA / "videos" / "cups_static_camera.mp4"


@pytest.mark.data
@pytest.mark.skipif(not LEGO.is_dir(), reason="kitchen_lego photos not present")
def test_kitchen_lego_photos_register_with_a_plausible_up_axis(tmp_path):
    ws = tmp_path / "ws"
    api.build(LEGO, ws, until="poses")
    record = json.loads((ws / "poses/_stage.json").read_text())
    m = record["metrics"]
    assert m["frames"] == 25 and m["registered"] >= 23, m
    assert m["matching"] == "exhaustive"  # a photo set has no order to exploit
    assert m["reprojection_error_px"] < 1.5
    world = json.loads((ws / "poses/world.json").read_text())
    plane = world["support_plane"]
    # Up: a real plane was found under the scene, every camera is above it, it agrees
    # with how the phone was held, and the scene's points are on or above it.
    assert plane["found"] and plane["cameras_above"] >= 0.95
    assert plane["angle_to_camera_up_deg"] < 25
    cams = json.loads((ws / "poses/cameras.json").read_text())
    centres = np.array([f["world_from_camera"] for f in cams["frames"] if f["registered"]])[:, :3, 3]
    assert (centres[:, 2] > 0).all()
    ups = -np.array([f["world_from_camera"] for f in cams["frames"] if f["registered"]])[:, :3, 1]
    assert np.median(ups[:, 2]) > 0.5  # the photos' "up" points to +z
    header, _, body = (ws / "poses/points3d.ply").read_bytes().partition(b"end_header\n")
    n = int(header.split(b"element vertex ")[1].split(b"\n")[0])
    z = np.frombuffer(body, dtype=[("p", "<f4", 3), ("c", "u1", 3)], count=n)["p"][:, 2]
    assert np.mean(z > -2 * plane["inlier_threshold"]) > 0.9
    assert world["scale_source"] == "unknown" and any("scale is unknown" in w for w in record["warnings"])


@pytest.mark.data
@pytest.mark.skipif(not STATIC.is_file(), reason="static-camera video not present")
def test_static_camera_fails_with_a_parallax_message_and_keeps_frames(tmp_path):
    ws = tmp_path / "ws"
    proc = subprocess.run(
        [sys.executable, "-m", "splat2sim", "build", str(STATIC), "-o", str(ws), "--set", "frames.target_count=20"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "parallax" in text and "Traceback" not in text
    assert (ws / "frames" / "_stage.json").is_file()
    assert len(list((ws / "frames" / "images").glob("*.jpg"))) == 20
    assert not (ws / "poses").exists()
    status = {row.stage: row.state for row in api.status(ws)}
    assert status["frames"] == "fresh" and status["poses"] == "failed"
