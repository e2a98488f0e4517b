"""The frames stage: decode, score, select, and write keyframes plus frames.json."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from splat2sim.artifacts import frames as frames_artifacts
from splat2sim.errors import InputError, StageError
from splat2sim.stages.base import StageContext
from splat2sim.stages.frames import selection, video
from splat2sim.stages.frames.inputs import FramesSource, find_source


def run(ctx: StageContext) -> None:
    cfg = ctx.config
    source = find_source(ctx.input_path)
    images_dir = ctx.out_dir / "images"
    images_dir.mkdir()
    if source.kind == "video":
        meta, kept = _from_video(ctx, source)
    else:
        meta, kept = _from_images(ctx, source)

    exposure = _judge_frames(ctx, meta, kept)
    sharp = np.array([k["sharpness"] for k in kept]) if kept else np.zeros(0)
    reference = float(np.median(meta.pop("_all_sharpness"))) if kept else 0.0
    blurry = [k["file"] for k in kept if reference > 0 and k["sharpness"] < cfg.blur_threshold * reference]
    if blurry:
        ctx.warn(
            f"{len(blurry)} of {len(kept)} keyframes are blurry (sharpness below "
            f"{cfg.blur_threshold:.2f} x the capture's median); move the camera more slowly or add light"
        )
    total_motion = meta["total_motion"]
    if total_motion < selection.STATIC_MOTION and len(kept) > 1:
        ctx.warn(
            f"the camera hardly moves (total motion {total_motion:.3f} image diagonals): reconstruction needs the camera to move around the scene"
        )
    frames_json = {
        "source": meta["source"],
        "image_size": meta["image_size"],
        "scale_from_source": meta["scale_from_source"],
        "selection": {
            "method": "equal camera motion segments, sharpest frame per segment",
            "target_count": cfg.target_count,
            "candidates_scored": meta["candidates"],
            "total_motion": round(total_motion, 6),
            "median_sharpness": round(reference, 3),
        },
        "frames": kept,
    }
    frames_artifacts.FRAMES.write(ctx.out_dir, frames_json)
    _contact_sheet(ctx.out_dir, kept)

    ctx.metrics.update(
        {
            "keyframes": len(kept),
            "candidates_scored": meta["candidates"],
            "source_frames": meta["source"].get("frames_decoded", len(kept)),
            "total_motion": round(total_motion, 6),
            "median_sharpness": round(reference, 3),
            "blurry_keyframes": len(blurry),
            "exposure": exposure,
            "width": meta["image_size"]["width"],
            "height": meta["image_size"]["height"],
        }
    )
    src = meta["source"]
    ctx.summary += [
        ("input", f"{src['kind']}: {Path(src['path']).name}"),
        ("source frames", str(ctx.metrics["source_frames"])),
        ("keyframes", f"{len(kept)} (target {cfg.target_count})"),
        ("resolution", f"{meta['image_size']['width']}x{meta['image_size']['height']}"),
        ("camera motion", f"{total_motion:.2f} image diagonals"),
        ("sharpness min/median", f"{sharp.min():.0f} / {reference:.0f}" if len(sharp) else "-"),
    ]


# Below DARK or above BRIGHT mean grey level (0-255) a keyframe holds too little detail for
# features; under FLAT standard deviation it is blank. Round numbers, not fitted values.
DARK, BRIGHT, FLAT = 25.0, 230.0, 3.0


def _judge_frames(ctx: StageContext, meta: dict, kept: list[dict]) -> dict:
    """frames' verdict on its own output: fewer frames decoded than the container promises,
    keyframes too dark or too bright (warnings), or blank (an error: nothing usable)."""
    import cv2

    src = meta["source"]
    promised, decoded = src.get("frames_promised"), src.get("frames_decoded")
    if promised and decoded is not None and decoded < 0.9 * promised:
        ctx.warn(
            f"only {decoded} of the {promised} frames the container promises could be decoded: the file may be truncated "
            "(re-copy it); the keyframes come from the decoded part"
        )
    grey = [cv2.imread(str(ctx.out_dir / k["file"]), cv2.IMREAD_GRAYSCALE) for k in kept]
    means = np.array([g.mean() for g in grey if g is not None])
    stds = np.array([g.std() for g in grey if g is not None])
    if len(stds) and np.all(stds < FLAT):
        raise InputError(
            f"every keyframe of {Path(src['path']).name} is blank (mean grey {np.median(means):.0f}/255, contrast "
            f"{np.median(stds):.1f}): there is nothing to reconstruct",
            hint="check the lens cap and the exposure, and film the scene in normal light",
        )
    verdict = {"median_grey": round(float(np.median(means)), 1) if len(means) else None, "dark": 0, "bright": 0}
    if len(means):
        verdict["dark"], verdict["bright"] = int((means < DARK).sum()), int((means > BRIGHT).sum())
        for key, word, fix in (("dark", "too dark", "add light"), ("bright", "overexposed", "lower the exposure")):
            if verdict[key] > len(means) / 2:
                ctx.warn(f"{verdict[key]} of {len(means)} keyframes are {word} (mean grey level); features will be few: {fix}")
    return verdict


# ----------------------------------------------------------------------------- video
def _from_video(ctx: StageContext, source: FramesSource):
    cfg = ctx.config
    info = video.probe(source.path)
    errors: list[str] = []
    upright_w, upright_h = (info.height, info.width) if info.rotation_deg in (90, 270) else (info.width, info.height)
    analysis_scale = min(1.0, cfg.analysis_side / max(info.width, info.height))
    aw, ah = max(16, int(round(info.width * analysis_scale))), max(16, int(round(info.height * analysis_scale)))
    estimate = info.frame_count_estimate
    stride = max(1, math.ceil(estimate / cfg.max_candidates)) if estimate else 1

    indices, times, sharp, steps = [], [], [], []
    previous = None
    decoded = 0
    with ctx.timed("score"), ctx.progress("Scoring frames", total=estimate or None) as task:
        for item in video.iter_frames(source.path, errors):
            decoded += 1
            task.advance()
            if item.time_s < cfg.start_s or (cfg.end_s is not None and item.time_s > cfg.end_s):
                continue
            if item.index % stride:
                continue
            gray = video.to_gray(item.frame, aw, ah, info.rotation_deg)
            indices.append(item.index)
            times.append(item.time_s)
            sharp.append(selection.sharpness(gray))
            steps.append(0.0 if previous is None else selection.motion(previous, gray))
            previous = gray
    for message in errors:
        ctx.warn(f"{source.path.name}: {message} (the rest of the video is ignored)")
    if decoded == 0:
        raise InputError(
            f"{source.path} holds no decodable frames",
            hint="the file is empty or corrupt; re-export or re-copy the video",
        )
    if len(indices) < cfg.min_frames:
        where = "in the chosen time range " if (cfg.start_s or cfg.end_s is not None) else ""
        raise InputError(
            f"{source.path} has only {len(indices)} usable frame(s) {where}; at least {cfg.min_frames} views of the scene are needed",
            hint="record a video that moves around the scene for several seconds",
        )
    sharp_arr, steps_arr = np.array(sharp), np.array(steps)
    chosen = selection.select_keyframes(sharp_arr, steps_arr, cfg.target_count)
    wanted = {indices[i]: i for i in chosen}

    scale = min(1.0, cfg.max_side / max(upright_w, upright_h))
    out_w, out_h = int(round(upright_w * scale)), int(round(upright_h * scale))
    cumulative = np.cumsum(steps_arr)
    kept = _write_video_keyframes(ctx, source.path, info.rotation_deg, wanted, (out_w, out_h), sharp_arr, cumulative)
    meta = {
        "source": {
            "path": str(source.path.resolve()),
            "kind": "video",
            "codec": info.codec,
            "fps": info.fps,
            "duration_s": info.duration_s,
            "frames_decoded": decoded,
            "frames_promised": estimate,
            "width": info.width,
            "height": info.height,
            "rotation_deg": info.rotation_deg,
            "decode_errors": errors,
        },
        "image_size": {"width": out_w, "height": out_h},
        "scale_from_source": scale,
        "candidates": len(indices),
        "total_motion": float(cumulative[-1]),
        "_all_sharpness": sharp_arr,
    }
    return meta, kept


def _write_video_keyframes(ctx: StageContext, path: Path, rotation_deg, wanted: dict, size, sharp_arr, cumulative) -> list[dict]:
    """Decode again and write the chosen frames (upright, resized) as JPEGs; their records."""
    cfg = ctx.config
    out_w, out_h = size
    kept: list[dict] = []
    with ctx.timed("write"), ctx.progress("Writing keyframes", total=len(wanted)) as task:
        for item in video.iter_frames(path, []):
            if item.index not in wanted:
                continue
            i = wanted[item.index]
            rgb = video.to_rgb(item.frame, rotation_deg)
            name = f"images/frame_{len(kept):06d}.jpg"
            _write_jpeg(ctx.out_dir / name, rgb, (out_w, out_h), cfg.jpeg_quality)
            kept.append(
                {
                    "file": name,
                    "source_index": int(item.index),
                    "time_s": round(float(item.time_s), 6),
                    "sharpness": round(float(sharp_arr[i]), 3),
                    "motion_from_start": round(float(cumulative[i]), 6),
                }
            )
            task.advance()
            if len(kept) == len(wanted):
                break
    return kept


# ----------------------------------------------------------------------------- images
def _read_image(path: Path) -> np.ndarray | None:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # phones store portrait photos rotated
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _from_images(ctx: StageContext, source: FramesSource):
    cfg = ctx.config
    usable: list[Path] = []
    sizes = []
    sharp, steps = [], []
    previous = None
    skipped = []
    with ctx.timed("score"), ctx.progress("Scoring images", total=len(source.files)) as task:
        for path in source.files:
            task.advance()
            rgb = _read_image(path)
            if rgb is None:
                skipped.append(path.name)
                continue
            h, w = rgb.shape[:2]
            s = min(1.0, cfg.analysis_side / max(h, w))
            gray = cv2.cvtColor(cv2.resize(rgb, (max(16, round(w * s)), max(16, round(h * s))), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
            if previous is not None and previous.shape != gray.shape:
                step = 0.0  # different image sizes: motion is not comparable
            else:
                step = 0.0 if previous is None else selection.motion(previous, gray)
            usable.append(path)
            sizes.append((w, h))
            sharp.append(selection.sharpness(gray))
            steps.append(step)
            previous = gray
    if skipped:
        ctx.warn(f"{len(skipped)} file(s) could not be read as images and were skipped: {', '.join(skipped[:5])}")
    if len(usable) < cfg.min_frames:
        raise InputError(
            f"{source.path} has {len(usable)} readable image(s); at least {cfg.min_frames} views are needed",
            hint="add photos taken from different positions around the scene",
        )
    distinct_sizes = sorted(set(sizes))
    if len(distinct_sizes) > 1:
        ctx.warn(f"images have {len(distinct_sizes)} different sizes: {distinct_sizes[:3]}...; all are resized to one size")
    sharp_arr, steps_arr = np.array(sharp), np.array(steps)
    chosen = selection.select_keyframes(sharp_arr, steps_arr, cfg.target_count)
    w0, h0 = max(set(sizes), key=sizes.count)
    scale = min(1.0, cfg.max_side / max(w0, h0))
    out_w, out_h = int(round(w0 * scale)), int(round(h0 * scale))
    cumulative = np.cumsum(steps_arr)
    kept = []
    with ctx.timed("write"), ctx.progress("Writing keyframes", total=len(chosen)) as task:
        for i in chosen:
            rgb = _read_image(usable[i])
            name = f"images/frame_{len(kept):06d}.jpg"
            _write_jpeg(ctx.out_dir / name, rgb, (out_w, out_h), cfg.jpeg_quality)
            kept.append(
                {
                    "file": name,
                    "source_file": usable[i].name,
                    "source_index": int(source.files.index(usable[i])),
                    "sharpness": round(float(sharp_arr[i]), 3),
                    "motion_from_start": round(float(cumulative[i]), 6),
                }
            )
            task.advance()
    meta = {
        "source": {
            "path": str(source.path.resolve()),
            "kind": "images",
            "images_found": len(source.files),
            "images_readable": len(usable),
            "frames_decoded": len(usable),
            "width": w0,
            "height": h0,
            "skipped": skipped,
        },
        "image_size": {"width": out_w, "height": out_h},
        "scale_from_source": scale,
        "candidates": len(usable),
        "total_motion": float(cumulative[-1]),
        "_all_sharpness": sharp_arr,
    }
    return meta, kept


# ----------------------------------------------------------------------------- output
def _write_jpeg(path: Path, rgb: np.ndarray, size: tuple[int, int], quality: int) -> None:
    if (rgb.shape[1], rgb.shape[0]) != size:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StageError(f"JPEG encoding of {path.name} failed", hint="please report it with the input video")
    path.write_bytes(jpeg.tobytes())  # Python's write says why it failed (disk full, read-only)


def _contact_sheet(out_dir: Path, kept: list[dict], columns: int = 8, thumb_width: int = 160) -> None:
    """A grid of the keyframes (contact_sheet.jpg), for people and for the report."""
    if not kept:
        return
    thumbs = []
    for item in kept:
        image = cv2.imread(str(out_dir / item["file"]))
        h, w = image.shape[:2]
        thumbs.append(cv2.resize(image, (thumb_width, max(1, round(h * thumb_width / w))), interpolation=cv2.INTER_AREA))
    th = max(t.shape[0] for t in thumbs)
    rows = math.ceil(len(thumbs) / columns)
    sheet = np.full((rows * th, min(columns, len(thumbs)) * thumb_width, 3), 255, np.uint8)
    for k, thumb in enumerate(thumbs):
        r, c = divmod(k, columns)
        sheet[r * th : r * th + thumb.shape[0], c * thumb_width : (c + 1) * thumb_width] = thumb
    ok, jpeg = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if ok:
        (out_dir / "contact_sheet.jpg").write_bytes(jpeg.tobytes())
