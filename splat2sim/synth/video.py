"""H.264 encoding with PyAV, with fixed settings so the same frames give the same bytes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from splat2sim.errors import DependencyError


class VideoWriter:
    """Write RGB frames (H, W, 3) uint8 to an mp4 (H.264, yuv420p, constant frame rate)."""

    def __init__(self, path: Path, width: int, height: int, fps: int, crf: int = 16):
        try:
            import av
        except ImportError as exc:
            raise DependencyError("writing the video needs PyAV", hint="pip install av") from exc
        self._av = av
        self.container = av.open(str(path), mode="w", format="mp4")
        try:
            stream = self.container.add_stream("libx264", rate=Fraction(fps, 1))
        except Exception as exc:
            self.container.close()
            raise DependencyError(f"PyAV has no H.264 encoder: {exc}", hint="install the PyPI wheel of av") from exc
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        # One thread and fixed options: x264 is then bit-exact from run to run.
        stream.codec_context.thread_count = 1
        stream.codec_context.thread_type = "NONE"
        stream.options = {"crf": str(crf), "preset": "medium", "threads": "1", "tune": "film"}
        stream.codec_context.time_base = Fraction(1, fps)
        self.stream = stream
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.count
        frame.time_base = self.stream.codec_context.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_frames(path: Path) -> list[np.ndarray]:
    """Decode every frame of a video as RGB (H, W, 3) uint8, in presentation order."""
    import av

    with av.open(str(path)) as c:
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [img for _, img in sorted(frames, key=lambda x: x[0])]
