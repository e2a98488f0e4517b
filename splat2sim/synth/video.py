"""H.264 encoding with PyAV, with fixed settings so the same frames give the same bytes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from splat2sim.errors import DependencyError

# BT.601 limited range, what H.264 decoders assume when a stream carries no colour tags.
_RGB_TO_YCBCR = np.array([[0.256788, 0.504129, 0.097906], [-0.148223, -0.290993, 0.439216], [0.439216, -0.367788, -0.071427]])
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> planar I420 (H * 3 / 2, W) uint8, as PyAV's yuv420p arrays.

    Done in numpy rather than by swscale: swscale picks SIMD paths by buffer alignment,
    which made the same frames encode to different bytes from run to run."""
    h, w = rgb.shape[:2]
    ycc = rgb.astype(np.float64) @ _RGB_TO_YCBCR.T + (16.0, 128.0, 128.0)
    y = ycc[..., 0]
    chroma = ycc[..., 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))  # 2x2 box average
    planes = [y.ravel(), chroma[..., 0].ravel(), chroma[..., 1].ravel()]
    return np.clip(np.round(np.concatenate(planes)), 0, 255).astype(np.uint8).reshape(h * 3 // 2, w)


def yuv420p_to_rgb(i420: np.ndarray) -> np.ndarray:
    """Planar I420 (H * 3 / 2, W) uint8 -> RGB (H, W, 3) uint8 (chroma upsampled by repetition)."""
    h2, w = i420.shape
    h = h2 * 2 // 3
    flat = i420.ravel()
    y = flat[: h * w].reshape(h, w).astype(np.float64)
    cb = flat[h * w : h * w + h * w // 4].reshape(h // 2, w // 2).astype(np.float64)
    cr = flat[h * w + h * w // 4 :].reshape(h // 2, w // 2).astype(np.float64)
    up = lambda c: np.repeat(np.repeat(c, 2, axis=0), 2, axis=1)  # noqa: E731
    ycc = np.stack([y - 16.0, up(cb) - 128.0, up(cr) - 128.0], -1)
    return np.clip(np.round(ycc @ _YCBCR_TO_RGB.T), 0, 255).astype(np.uint8)


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
        i420 = rgb_to_yuv420p(rgb)
        h, w = rgb.shape[:2]
        frame = self._av.VideoFrame(w, h, "yuv420p")
        # Fill every byte of each plane, row padding included, so x264 never sees
        # uninitialised memory.
        offsets = [0, h * w, h * w + h * w // 4]
        for plane, off, (ph, pw) in zip(frame.planes, offsets, [(h, w), (h // 2, w // 2), (h // 2, w // 2)]):
            padded = np.zeros((ph, plane.line_size), np.uint8)
            padded[:, :pw] = i420.ravel()[off : off + ph * pw].reshape(ph, pw)
            plane.update(padded.tobytes())
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
    """Decode every frame of one of our videos as RGB (H, W, 3) uint8, in presentation
    order, with the same BT.601 conversion the writer used."""
    import av

    with av.open(str(path)) as c:
        frames = [(f.pts, yuv420p_to_rgb(f.to_ndarray(format="yuv420p"))) for f in c.decode(video=0)]
    return [img for _, img in sorted(frames, key=lambda x: x[0])]


def encode_frames_file(frames_npy: Path, video_path: Path, fps: int, crf: int) -> None:
    """Encode an (N, H, W, 3) uint8 .npy file of RGB frames into an mp4."""
    frames = np.load(frames_npy, mmap_mode="r")
    n, h, w = frames.shape[:3]
    with VideoWriter(Path(video_path), w, h, fps, crf) as vw:
        for k in range(n):
            vw.write(np.asarray(frames[k]))


def encode_in_fresh_process(frames_npy: Path, video_path: Path, fps: int, crf: int) -> None:
    """Encode in a new Python process. Measured here: the same frames, encoded with the same
    single-threaded x264 settings, came out different from run to run inside a process that
    had rendered with EGL (a dirty heap reaching x264, it seems), but bit-exact in a fresh
    process. Determinism from the seed is the point of synthetic captures, so pay ~1 s."""
    import subprocess
    import sys

    from splat2sim.errors import StageError

    cmd = [sys.executable, "-m", "splat2sim.synth.video", str(frames_npy), str(video_path), str(fps), str(crf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StageError(
            f"encoding {video_path} failed: {proc.stderr.strip()[-2000:]}", hint="check that PyAV is installed with libx264 (pip install av)"
        )


if __name__ == "__main__":
    import sys

    encode_frames_file(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
