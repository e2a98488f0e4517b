"""The poses stage: SfM (or an import), gravity and origin, metric scale, outputs.

Writes into the stage folder (all in the final world frame: +z up, origin on the main
support surface, metres when the scale is known):

* ``cameras.json``  intrinsics and per-frame ``world_from_camera`` (OpenCV camera axes)
* ``sparse/``       the COLMAP model (binary, as pycolmap writes it), in the final world frame
* ``points3d.ply``  the sparse points (x, y, z, red, green, blue), final world frame
* ``world.json``    ``sim_from_sfm`` similarity, up axis, units, scale source, support plane
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np

from splat2sim.artifacts import frames as frames_artifacts
from splat2sim.errors import InputError, StageError
from splat2sim.stages.base import StageContext
from splat2sim.stages.poses import gravity, quality, sfm
from splat2sim.stages.poses import scale as scale_mod
from splat2sim.stages.poses.config import parse_known_cameras, parse_known_pixels
from splat2sim.stages.poses.outputs import _write_outputs
from splat2sim.stages.poses.solved import Solved, from_reconstruction


@contextlib.contextmanager
def _quiet_colmap():
    """COLMAP logs through glog to stderr; a library must not print."""
    import pycolmap

    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2  # errors only
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


def run(ctx: StageContext) -> None:
    import pycolmap

    cfg = ctx.config
    frames_dir = ctx.upstream_dir("frames")
    frames_json = ctx.read(frames_artifacts.FRAMES).to_dict()
    names = [Path(f["file"]).name for f in frames_json["frames"]]
    image_dir = frames_dir / "images"
    # one thread unless asked: on more, each run's cameras differ (PosesConfig.reproducible)
    threads = 1 if cfg.reproducible else sfm.thread_count(ctx.run_config.workers)
    seed = int(ctx.run_config.seed)
    work = ctx.out_dir / "_work"
    work.mkdir()
    ctx.backend = f"pycolmap {pycolmap.__version__}"
    imported = None

    with _quiet_colmap():
        if cfg.import_path:
            solved, imported = _import(ctx, frames_json, image_dir, work, threads, seed)
        else:
            solved = _sfm(ctx, frames_json, names, image_dir, work, threads, seed)

        metrics = quality.metrics(solved)
        frame = _world_frame(ctx, solved, frames_json, imported, metrics, seed)

        # ------------------------------------------------------------ scale
        with ctx.timed("scale"):
            estimate, checks = _scale(ctx, solved, frame, frames_json, image_dir, imported)

        # ------------------------------------------------------------ the final frame
        s = estimate.scale if estimate.scale is not None else 1.0
        R = frame.rotation
        t = -s * R @ frame.origin_sfm
        solved.apply_similarity(s, R, t)

        with ctx.timed("write"):
            _write_outputs(ctx, solved, frames_json, frame, estimate, checks, s, R, t, imported, metrics)
    shutil.rmtree(work, ignore_errors=True)

    _record(ctx, metrics, estimate, frame, s, imported)


def _world_frame(ctx, solved: Solved, frames_json, imported, metrics: dict, seed: int):
    """Gravity, support plane and origin from the sparse points; fails without parallax."""
    cfg = ctx.config
    registered = solved.world_from_camera()[solved.registered]
    with ctx.timed("gravity"):
        frame = gravity.find_world_frame(
            solved.points,
            registered,
            threshold_fraction=cfg.plane_threshold,
            max_tilt_deg=cfg.max_plane_tilt_deg,
            seed=seed,
        )
    ratio = quality.baseline_ratio(solved, frame.camera_distance)
    metrics["baseline_ratio"] = round(ratio, 4)
    if imported is None and ratio < quality.MIN_BASELINE_RATIO:
        cause, hint = quality.failure_text(quality.diagnose(frames_json))
        raise StageError(
            f"no parallax: the camera centres span only {100 * ratio:.2f} % of the distance to the scene, too little to measure depth ({cause})",
            hint="walk the camera around the scene (an arc of 90 degrees or more); a camera that stays in place gives no depth",
        )
    if not frame.plane.found:
        ctx.fallback(
            "gravity",
            "the cameras' mean up direction, with the support surface at the lowest points",
            "no near-horizontal plane with most cameras above it was found in the sparse points",
        )
    elif frame.plane.prior_angle_deg > 20:
        ctx.warn(
            f"the support plane is tilted {frame.plane.prior_angle_deg:.0f} degrees from the cameras' mean up "
            "direction: check that +z points up (a capture filmed looking straight down can cause this)"
        )
    return frame


def _record(ctx, metrics: dict, estimate, frame, s: float, imported) -> None:
    cfg = ctx.config
    metrics.update(
        {
            "scale_source": estimate.source if estimate.scale is not None else "unknown",
            "scale_sfm_to_m": round(s, 8) if estimate.scale is not None else None,
            "plane_inliers": frame.plane.inliers,
            "plane_rms": round(frame.plane.rms * s, 6) if np.isfinite(frame.plane.rms) else None,
            "gravity_vs_camera_up_deg": round(frame.plane.prior_angle_deg, 3),
        }
    )
    ctx.metrics.update(metrics)
    units = "m" if estimate.scale is not None else "units"
    ctx.summary += [
        ("source", f"import ({imported.kind}): {Path(cfg.import_path).name}" if imported else f"SfM, {ctx.metrics.get('matching', '')} matching"),
        ("registered", f"{metrics['registered']} / {metrics['frames']} ({100 * metrics['registered_fraction']:.0f} %)"),
        ("reprojection error", f"{metrics['reprojection_error_px']:.2f} px" if "reprojection_error_px" in metrics else "-"),
        ("points", str(metrics["points3d"])),
        ("support plane", f"{frame.plane.inliers} points, rms {metrics['plane_rms']} {units}" if frame.plane.found else "not found (fallback)"),
        ("scale", f"{estimate.source} ({s:.5g} m per SfM unit)" if estimate.scale is not None else "unknown"),
    ]


# ----------------------------------------------------------------------------- sources
def _sfm(ctx, frames_json, names, image_dir, work, threads, seed) -> Solved:
    cfg = ctx.config
    kind = frames_json.get("source", {}).get("kind", "video")
    if len(names) < 3:
        raise StageError(
            f"only {len(names)} keyframe(s): structure from motion needs at least 3 views",
            hint="raise frames.target_count or use a longer capture",
        )
    labels = {"features": "SfM: SIFT features", "matching": "SfM: matching", "mapping": "SfM: mapping"}
    work.mkdir(parents=True, exist_ok=True)
    need = sfm.space_needed(len(names), cfg.max_features, cfg.matching, cfg.exhaustive_max_frames, cfg.sequential_overlap)
    sfm.check_free_space(work, need)
    with ctx.timed("sfm"), ctx.progress("SfM: SIFT features", total=3) as task:

        def progress(step: str) -> None:
            if step != "features":
                task.advance()
            task.update(description=labels.get(step, step))

        result = sfm.reconstruct(
            image_dir,
            names,
            work,
            source_kind=kind,
            matching=cfg.matching,
            exhaustive_max_frames=cfg.exhaustive_max_frames,
            overlap=cfg.sequential_overlap,
            loop_stride=cfg.loop_closure_stride,
            camera_model=cfg.camera_model,
            shared_camera=cfg.shared_camera,
            max_features=cfg.max_features,
            max_image_size=cfg.max_image_size,
            threads=threads,
            seed=seed,
            progress=progress,
            before_mapping=lambda database, used: _check_parallax(frames_json, names, database),
        )
        task.advance()
    ctx.timings.update({f"sfm_{k}": v for k, v in result.timings.items()})
    width, height = frames_json["image_size"]["width"], frames_json["image_size"]["height"]
    stats = sfm.match_stats(result.database, names, float(np.hypot(width, height)))
    ctx.metrics.update(
        {
            "matching": result.matching,
            "pairs_matched": result.pairs,
            "pairs_verified": stats.verified_pairs,
            "median_keypoints": float(np.median(stats.keypoints_per_image)) if len(stats.keypoints_per_image) else 0.0,
            "median_match_flow": round(stats.flow_fraction, 5),
            "models": result.models,
        }
    )
    registered = result.reconstruction.num_reg_images() if result.reconstruction is not None else 0
    fraction = registered / len(names)
    if result.reconstruction is None or fraction < cfg.min_registered_fraction:
        cause, hint = quality.failure_text(quality.diagnose(frames_json, stats))
        what = (
            "no reconstruction could be started"
            if result.reconstruction is None
            else (
                f"only {registered} of {len(names)} keyframes could be registered (poses.min_registered_fraction = {cfg.min_registered_fraction:.2f})"
            )
        )
        raise StageError(f"structure from motion failed: {what}. Likely cause: {cause}", hint=hint)
    solved = from_reconstruction(result.reconstruction, names)
    if result.models > 1:
        ctx.warn(f"the frames formed {result.models} separate reconstructions; the largest ({registered} frames) is used")
    if fraction < cfg.warn_registered_fraction:
        cause, hint = quality.failure_text(quality.diagnose(frames_json, stats, solved))
        missing = [solved.names[i] for i in np.flatnonzero(~solved.registered)][:6]
        ctx.warn(f"only {registered} of {len(names)} keyframes were registered (e.g. {', '.join(missing)}); likely cause: {cause}; fix: {hint}")
    return solved


def _check_parallax(frames_json, names, database) -> None:
    """Stop before mapping when the matches show that the scene does not move in the image:
    the mapper would spend minutes trying to start a model that cannot exist."""
    width, height = frames_json["image_size"]["width"], frames_json["image_size"]["height"]
    stats = sfm.match_stats(database, names, float(np.hypot(width, height)))
    if stats.verified_pairs and stats.flow_fraction < quality.NO_PARALLAX_FLOW:
        cause, hint = quality.failure_text(quality.diagnose(frames_json, stats))
        raise StageError(f"structure from motion cannot work here: {cause}", hint=hint)


def _import(ctx, frames_json, image_dir, work, threads, seed):
    from splat2sim.stages.poses import importers

    cfg = ctx.config
    kind, path = importers.resolve_import(cfg.import_path)
    with ctx.timed("import"):
        imported = importers.import_colmap(path, frames_json) if kind == "colmap" else importers.import_transforms(path, frames_json)
    solved = imported.solved
    if imported.unmatched_files:
        ctx.warn(
            f"{len(imported.unmatched_files)} image(s) of the imported poses match no keyframe and were ignored "
            f"(e.g. {', '.join(imported.unmatched_files[:3])})"
        )
    if solved.registered_count < 2:
        raise InputError(
            f"the imported poses in {path} cover {solved.registered_count} keyframe(s)",
            hint="import poses for the images the frames stage read: for an image folder input the original file names "
            "are matched; for a video, the keyframe names (frame_000000.jpg, ...)",
        )
    if not imported.has_points:
        with ctx.timed("triangulate"):
            try:
                solved = importers.triangulate_known_poses(solved, image_dir, work / "tri", threads=threads, seed=seed, max_features=cfg.max_features)
            except Exception as exc:  # pycolmap raises RuntimeError on degenerate input
                ctx.fallback("sparse points for the imported poses", "no points (gravity from the cameras only)", f"triangulation failed: {exc}")
        if len(solved.points) == 0:
            ctx.warn("the imported poses come without 3D points and none could be triangulated")
    ctx.metrics.update({"import_kind": imported.kind, "import_matched": imported.matched})
    return solved, imported


# ----------------------------------------------------------------------------- scale
def _scale(ctx, solved: Solved, frame, frames_json, image_dir, imported):
    from splat2sim.stages.poses.importers import frame_aliases

    cfg = ctx.config
    checks: list[dict] = []
    chosen = None
    if cfg.marker_size is not None:
        paths = [image_dir / n for n in solved.names]
        try:
            est = scale_mod.marker_scale(solved, paths, cfg.marker_size, cfg.marker_dictionary, cfg.marker_id)
        except ValueError as exc:
            raise InputError(str(exc), hint="set poses.marker_dictionary to an OpenCV aruco dictionary name or 'auto'") from None
        checks.append({"source": "marker", "scale": est.scale, "problem": est.problem, **est.detail})
        if est.scale is not None:
            chosen = est
            spread = est.detail.get("pairwise_relative_mad", 0.0)
            if np.isfinite(spread) and spread > 0.05:
                ctx.warn(f"the marker's size varies {100 * spread:.0f} % between views: the scale may be off by as much")
        else:
            ctx.warn(f"marker scale: {est.problem}")
    if cfg.known_length is not None:
        aliases = frame_aliases(frames_json)
        try:
            if cfg.known_length_cameras:
                a, b = parse_known_cameras(cfg.known_length_cameras)
                est = scale_mod.known_length_cameras(
                    solved, scale_mod.frame_index(solved, a, aliases), scale_mod.frame_index(solved, b, aliases), cfg.known_length
                )
            else:
                name, pa, pb = parse_known_pixels(cfg.known_length_pixels)
                est = scale_mod.known_length_pixels(
                    solved, scale_mod.frame_index(solved, name, aliases), pa, pb, cfg.known_length, frame.plane.normal, frame.plane.offset
                )
        except KeyError as exc:
            raise InputError(
                f"known_length names keyframe {exc.args[0]!r}, which is not in frames.json",
                hint="use a keyframe file name (frame_000012.jpg), the original photo name, or a keyframe number",
            ) from None
        checks.append({"source": "known_length", "scale": est.scale, "problem": est.problem, **est.detail})
        if est.scale is None:
            ctx.warn(f"known length: {est.problem}")
        elif chosen is None:
            chosen = est
        else:
            diff = est.scale / chosen.scale - 1
            if abs(diff) > 0.05:
                ctx.warn(f"the known length disagrees with the marker by {100 * diff:+.1f} %; the marker is used")
    if chosen is None and imported is not None and cfg.import_metric:
        chosen = scale_mod.ScaleEstimate(1.0, "imported_metric", {"from": str(imported.path)})
    if chosen is None:
        if checks:
            ctx.fallback("metric scale", "unknown scale (SfM units)", "; ".join(str(c["problem"]) for c in checks))
        seen = _unsized_marker(cfg, [image_dir / n for n in solved.names]) if cfg.marker_size is None else None
        if seen:
            checks.append({"source": "marker", "scale": None, "problem": "a marker is visible but poses.marker_size is not set", **seen})
            ctx.warn(
                f"a marker ({seen['dictionary']}, id {', '.join(map(str, seen['ids']))}) is visible in {seen['keyframes']} of "
                f"{seen['looked_at']} keyframes looked at, but its size was not given, so it cannot set the scale: pass "
                "--marker-size SIDE_IN_METRES (the black square's side), or --set poses.marker_size=..."
            )
        elif not checks:
            ctx.warn(
                "metric scale is unknown: the world is in arbitrary SfM units. Put an ArUco marker in the scene and set "
                "poses.marker_size, or give poses.known_length (the scale stage estimates it from object sizes)"
            )
        chosen = scale_mod.ScaleEstimate(None, "unknown", {})
    return chosen, checks


def _unsized_marker(cfg, paths: list) -> dict | None:
    """Markers seen in up to 12 keyframes spread over the capture (the configured dictionary,
    or the common ones when it is the default), so an unused marker is never silent."""
    picks = [paths[int(i)] for i in np.unique(np.linspace(0, len(paths) - 1, min(12, len(paths))).round())] if paths else []
    dictionary = "auto" if cfg.marker_dictionary == "DICT_4X4_50" else cfg.marker_dictionary
    try:
        name, found = scale_mod.detect_markers(picks, dictionary)
    except ValueError:
        return None  # an unknown dictionary name is reported where the marker is used
    hits = [f for f in found if f]
    if not hits:
        return None
    ids = sorted({i for f in hits for i in f})
    return {"dictionary": name, "ids": ids, "keyframes": len(hits), "looked_at": len(picks)}
