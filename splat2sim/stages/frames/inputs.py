"""Finding and checking the frames stage's input: a video file or a folder of images."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from splat2sim.errors import InputError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mts", ".3gp"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class FramesSource:
    path: Path
    kind: str  # "video" | "images"
    files: tuple[Path, ...] = ()  # the images, in capture order, for kind == "images"


def _natural_key(path: Path):
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]


def find_source(path: Path | None) -> FramesSource:
    if path is None:
        raise InputError(
            "no input given for the frames stage",
            hint="pass a video or an image folder: `splat2sim build VIDEO -o WORKSPACE`",
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"input {path} does not exist", hint="check the path (and that the file finished copying)")
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
            key=_natural_key,
        )
        if not files:
            raise InputError(
                f"image folder {path} holds no images",
                hint=f"put the capture's photos there ({', '.join(sorted(IMAGE_SUFFIXES))}), or pass a video file",
            )
        return FramesSource(path=path, kind="images", files=tuple(files))
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(
            f"input {path} is a single image",
            hint="a scene needs many views: pass a video, or a folder of photos taken around the scene",
        )
    return FramesSource(path=path, kind="video")


def input_fingerprint(ctx) -> dict[str, str]:
    source = find_source(ctx.input_path)
    if source.kind == "images":
        return {"images": ctx.workspace.hashes.tree_hash(list(source.files))}
    return {"video": ctx.workspace.hashes.file_hash(source.path)}
