"""Shared fixtures: small real videos and image folders made on the fly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
# the tests' tiny builds must not teach this machine's stage-time estimates (splat2sim.estimate)
os.environ.setdefault("SPLAT2SIM_STAGE_RATES", os.path.join(__import__("tempfile").mkdtemp(prefix="splat2sim-rates-"), "stage_rates.json"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def textured_canvas(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A large RGB image [H, W, 3] uint8 with multi-scale texture (trackable corners)."""
    import cv2

    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width, 3), np.float32)
    for cells in (8, 32, 128):
        noise = rng.random((max(2, height // cells), max(2, width // cells), 3)).astype(np.float32)
        canvas += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min())
    for _ in range(60):  # crisp shapes give corners
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(float(c) for c in rng.random(3))
        cv2.rectangle(canvas, (x, y), (x + int(rng.integers(10, 60)), y + int(rng.integers(10, 60))), colour, -1)
    return (canvas * 255).astype(np.uint8)


def panning_frames(n: int, size=(160, 120), speed: float = 3.0, seed: int = 0):
    """``n`` frames [h, w, 3] of a camera panning across a textured canvas."""
    w, h = size
    canvas = textured_canvas(h + 40, w + int(speed * n) + 40, seed)
    for i in range(n):
        x = int(round(i * speed))
        yield np.ascontiguousarray(canvas[20 : 20 + h, x : x + w])


def write_video(path: Path, frames, fps: int = 30, faststart: bool = False) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = None
        for rgb in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "ultrafast"})
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                stream.pix_fmt = "yuv420p"
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def set_rotation(src: Path, dst: Path, degrees: int) -> Path:
    """Copy ``src`` with display-rotation metadata (as phones write for portrait video)."""
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", str(degrees), "-i", str(src), "-c", "copy", str(dst)],
        check=True,
    )
    return dst


@pytest.fixture(scope="session")
def pan_video(tmp_path_factory) -> Path:
    """A 90-frame 160x120 H.264 video of a camera panning over texture."""
    return write_video(tmp_path_factory.mktemp("videos") / "pan.mp4", panning_frames(90))


@pytest.fixture()
def run_cli():
    """Run the real CLI in a subprocess: returns CompletedProcess (text)."""

    def run(*args, check_code: int | None = None, timeout: float = 300):
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        done = subprocess.run([sys.executable, "-m", "splat2sim", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
        if check_code is not None:
            assert done.returncode == check_code, done.stdout + done.stderr
        return done

    return run


def tree_state(root: Path) -> dict:
    """File -> (size, mtime_ns, sha256) under ``root``: to prove a folder was not touched."""
    import hashlib

    state = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            state[str(path.relative_to(root))] = (path.stat().st_size, path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state
