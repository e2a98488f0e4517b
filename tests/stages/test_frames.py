"""The frames stage on real encoded videos and image folders."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from splat2sim import api
from splat2sim.errors import InputError
from splat2sim.stages.frames import selection
from tests.conftest import SHARED_DATA, panning_frames, set_rotation, write_video


def frames_json(ws: Path) -> dict:
    return json.loads((ws / "frames" / "frames.json").read_text())


def test_video_keyframes_written_and_described(pan_video, tmp_path):
    ws = tmp_path / "ws"
    api.build(pan_video, ws, until="frames", overrides=["frames.target_count=12", "frames.max_side=128"])
    meta = frames_json(ws)
    assert meta["schema_version"] == 1
    assert meta["source"]["kind"] == "video" and meta["source"]["frames_decoded"] == 90
    assert meta["source"]["fps"] == pytest.approx(30)
    assert len(meta["frames"]) == 12
    assert meta["image_size"] == {"width": 128, "height": 96}
    indices = [f["source_index"] for f in meta["frames"]]
    assert indices == sorted(indices) and len(set(indices)) == 12
    for item in meta["frames"]:
        image = cv2.imread(str(ws / "frames" / item["file"]))
        assert image.shape == (96, 128, 3)
        assert item["time_s"] == pytest.approx(item["source_index"] / 30, abs=1e-3)
    # constant-speed pan: keyframes are spread evenly through the video
    gaps = np.diff(indices)
    assert gaps.max() <= 2.5 * np.median(gaps)
    assert (ws / "frames" / "contact_sheet.jpg").is_file()


def test_keyframes_match_the_source_frames(tmp_path):
    """The written keyframe is the decoded source frame it claims to be."""
    frames = list(panning_frames(40, size=(160, 120), seed=5))
    video = write_video(tmp_path / "v.mp4", frames)
    ws = tmp_path / "ws"
    api.build(video, ws, until="frames", overrides=["frames.target_count=8"])
    for item in frames_json(ws)["frames"]:
        written = cv2.cvtColor(cv2.imread(str(ws / "frames" / item["file"])), cv2.COLOR_BGR2RGB).astype(float)
        errors = [np.abs(written - f).mean() for f in frames]
        assert int(np.argmin(errors)) == item["source_index"]


@pytest.mark.parametrize("degrees", [90, 270, 180])
def test_rotation_metadata_gives_upright_frames(tmp_path, degrees):
    frames = list(panning_frames(30, size=(160, 96), seed=2))
    plain = write_video(tmp_path / "plain.mp4", frames)
    rotated = set_rotation(plain, tmp_path / "rot.mp4", degrees)
    ws = tmp_path / "ws"
    api.build(rotated, ws, until="frames", overrides=["frames.target_count=5"])
    meta = frames_json(ws)
    assert meta["source"]["rotation_deg"] == degrees
    expected_shape = (160, 96) if degrees in (90, 270) else (96, 160)
    assert (meta["image_size"]["height"], meta["image_size"]["width"]) == expected_shape
    item = meta["frames"][0]
    written = cv2.cvtColor(cv2.imread(str(ws / "frames" / item["file"])), cv2.COLOR_BGR2RGB).astype(float)
    errors = {}
    for k in range(4):
        candidate = np.rot90(frames[item["source_index"]], k=k).astype(float)
        if candidate.shape == written.shape:
            errors[k] = np.abs(written - candidate).mean()
    assert min(errors, key=errors.get) == degrees // 90  # the upright picture, not another turn
    assert errors[degrees // 90] < 10  # same picture, up to compression


def test_blurry_frames_are_avoided(tmp_path):
    frames = list(panning_frames(60, size=(160, 120), speed=2.0, seed=4))
    blurred = {i for i in range(60) if i % 2}  # every other frame is motion-blurred
    frames = [cv2.GaussianBlur(f, (0, 0), 3) if i in blurred else f for i, f in enumerate(frames)]
    video = write_video(tmp_path / "blur.mp4", frames)
    ws = tmp_path / "ws"
    api.build(video, ws, until="frames", overrides=["frames.target_count=10"])
    picked = [f["source_index"] for f in frames_json(ws)["frames"]]
    assert sum(i in blurred for i in picked) <= 1


def test_static_camera_is_warned_about(tmp_path):
    still = next(panning_frames(1, seed=8))
    video = write_video(tmp_path / "still.mp4", [still] * 30)
    ws = tmp_path / "ws"
    result = api.build(video, ws, until="frames", overrides=["frames.target_count=5"])
    warnings = result.outcomes[0].record.warnings
    assert any("hardly moves" in w for w in warnings)


def test_image_folder_input(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, rgb in enumerate(panning_frames(12, size=(200, 150), speed=8, seed=6)):
        cv2.imwrite(str(folder / f"IMG_{i + 1}.JPG"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    ws = tmp_path / "ws"
    result = api.build(folder, ws, until="frames", overrides=["frames.target_count=20", "frames.max_side=100"])
    meta = frames_json(ws)
    assert meta["source"]["kind"] == "images"
    # natural sort: IMG_2 before IMG_10
    assert [f["source_file"] for f in meta["frames"]][:3] == ["IMG_1.JPG", "IMG_2.JPG", "IMG_3.JPG"]
    assert len(meta["frames"]) == 12
    assert meta["image_size"] == {"width": 100, "height": 75}
    assert any("broken.png" in w for w in result.outcomes[0].record.warnings)


def test_truncated_video_with_index_up_front_keeps_what_decodes(tmp_path):
    video = write_video(tmp_path / "fs.mp4", panning_frames(90, seed=9), faststart=True)
    cut = tmp_path / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.55)])
    ws = tmp_path / "ws"
    api.build(cut, ws, until="frames", overrides=["frames.target_count=10"])
    meta = frames_json(ws)
    assert 10 <= meta["source"]["frames_decoded"] < 90
    assert len(meta["frames"]) == 10
    # the container promised 90: the record says the file is probably truncated (issue #17)
    warnings = json.loads((ws / "frames" / "_stage.json").read_text())["warnings"]
    assert any(f"of the {meta['source']['frames_promised']} frames the container promises" in w and "truncated" in w for w in warnings)


def test_a_black_video_is_an_error_and_a_dark_one_a_warning(tmp_path):
    black = write_video(tmp_path / "black.mp4", (np.zeros((120, 160, 3), np.uint8) for _ in range(30)))
    with pytest.raises(InputError, match="every keyframe of black.mp4 is blank"):
        api.build(black, tmp_path / "ws_black", until="frames", overrides=["frames.target_count=8"])
    assert not (tmp_path / "ws_black" / "frames").exists()
    dark = write_video(tmp_path / "dark.mp4", ((f * 0.06).astype(np.uint8) for f in panning_frames(60, seed=4)))
    api.build(dark, tmp_path / "ws_dark", until="frames", overrides=["frames.target_count=8"])
    record = json.loads((tmp_path / "ws_dark" / "frames" / "_stage.json").read_text())
    assert record["metrics"]["exposure"]["dark"] == 8 and any("too dark" in w for w in record["warnings"])
    bright = write_video(tmp_path / "pan.mp4", panning_frames(60, seed=4))
    api.build(bright, tmp_path / "ws_pan", until="frames", overrides=["frames.target_count=8"])
    assert not any("dark" in w or "overexposed" in w for w in json.loads((tmp_path / "ws_pan" / "frames" / "_stage.json").read_text())["warnings"])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: _text_as_video(d), "not a readable video"),
        (lambda d: _truncated(d), "not a readable video"),
        (lambda d: write_video(d / "one.mp4", panning_frames(1)), "only 1 usable frame"),
        (lambda d: _empty_folder(d), "holds no images"),
        (lambda d: _single_image(d), "is a single image"),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, make, message):
    with pytest.raises(InputError, match=message) as info:
        api.build(make(tmp_path), tmp_path / "ws", until="frames")
    assert info.value.hint


def _text_as_video(d: Path) -> Path:
    path = d / "notes.mp4"
    path.write_text("this is a text file, not a video\n" * 20)
    return path


def _truncated(d: Path) -> Path:
    video = write_video(d / "full.mp4", panning_frames(60, seed=1))
    path = d / "truncated.mp4"
    path.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    return path


def _empty_folder(d: Path) -> Path:
    (d / "empty").mkdir()
    return d / "empty"


def _single_image(d: Path) -> Path:
    path = d / "one.png"
    cv2.imwrite(str(path), np.zeros((10, 10, 3), np.uint8))
    return path


def test_selection_spreads_by_motion_not_time():
    # a camera that moves only in the second half: keyframes concentrate there
    steps = np.r_[np.zeros(50), np.full(50, 0.01)]
    sharp = np.ones(100)
    chosen = selection.select_keyframes(sharp, steps, 10)
    assert len(chosen) == 10
    assert (chosen >= 50).sum() >= 8


def test_selection_fills_empty_segments():
    steps = np.zeros(30)
    steps[10] = 1.0  # one huge jump leaves most motion segments empty
    chosen = selection.select_keyframes(np.arange(30.0), steps, 12)
    assert len(chosen) == 12 and len(set(chosen.tolist())) == 12


@pytest.mark.skipif(not (SHARED_DATA / "real" / "videos" / "apple_handheld.mp4").is_file(), reason="../shared/data absent")
def test_real_phone_video(tmp_path):
    ws = tmp_path / "ws"
    api.build(SHARED_DATA / "real" / "videos" / "apple_handheld.mp4", ws, until="frames", overrides=["frames.target_count=15"])
    meta = frames_json(ws)
    assert meta["source"]["width"] == 1296 and meta["source"]["frames_decoded"] == 50
    assert len(meta["frames"]) == 15
