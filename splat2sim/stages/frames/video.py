"""Video decoding with PyAV: metadata, rotation, and frames as numpy arrays.

Rotation: PyAV's ``frame.rotation`` is the display-matrix angle in degrees,
counter-clockwise, so an upright picture is ``np.rot90(pixels, k=rotation // 90)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from splat2sim.errors import DependencyError, InputError


@dataclass
class VideoInfo:
    path: Path
    codec: str
    width: int  # as stored, before rotation
    height: int
    fps: float
    frame_count_estimate: int  # 0 when the container does not say
    duration_s: float | None
    rotation_deg: int


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a core dependency
        raise DependencyError("decoding video needs PyAV", hint="pip install av") from exc
    return av


def open_video(path: Path):
    av = _av()
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} is not a readable video ({exc.__class__.__name__}: {exc})",
            hint="check that it is a complete video file (mp4/mov/mkv); re-export or re-copy it",
        ) from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream", hint="pass a video with picture, or an image folder")
    return container


def probe(path: Path) -> VideoInfo:
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        count = int(stream.frames or 0)
        if not count and duration and fps:
            count = int(round(duration * fps))
        rotation = 0
        try:
            first = next(container.decode(stream))
            rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        except StopIteration:
            pass
        except Exception as exc:  # decode errors on the very first frame
            raise InputError(
                f"{path}: the first frame cannot be decoded ({exc})",
                hint="the file is corrupt or uses a codec this build of FFmpeg lacks; re-encode it as H.264 mp4",
            ) from exc
        if rotation % 90:
            rotation = 90 * round(rotation / 90) % 360
        return VideoInfo(
            path=path,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frame_count_estimate=count,
            duration_s=duration,
            rotation_deg=rotation,
        )
    finally:
        container.close()


@dataclass
class DecodedFrame:
    index: int  # position in decode order, 0-based
    time_s: float
    frame: object  # av.VideoFrame


def iter_frames(path: Path, errors: list[str]) -> Iterator[DecodedFrame]:
    """Decode every frame in order. A corrupt tail ends the iteration and is reported in ``errors``."""
    av = _av()
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else index / float(stream.average_rate or 30)
                yield DecodedFrame(index=index, time_s=t, frame=frame)
                index += 1
        except (av.error.FFmpegError, av.error.InvalidDataError) as exc:
            errors.append(f"decoding stopped after {index} frames: {exc}")
    finally:
        container.close()


def to_gray(frame, width: int, height: int, rotation_deg: int) -> np.ndarray:
    """Small grey image [h, w] uint8, upright. ``width``/``height`` are before rotation."""
    gray = frame.reformat(width=width, height=height, format="gray").to_ndarray()
    return np.ascontiguousarray(np.rot90(gray, k=rotation_deg // 90)) if rotation_deg else gray


def to_rgb(frame, rotation_deg: int) -> np.ndarray:
    """Full-resolution RGB image [H, W, 3] uint8, upright."""
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, k=rotation_deg // 90)) if rotation_deg else rgb
