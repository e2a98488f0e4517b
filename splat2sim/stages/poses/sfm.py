"""Structure from motion with pycolmap: SIFT, pair selection, matching, incremental mapping."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SfmResult:
    reconstruction: object | None  # pycolmap.Reconstruction (the largest model) or None
    models: int  # how many separate models the mapper produced
    matching: str  # "exhaustive" | "sequential"
    pairs: int  # image pairs matched
    database: Path
    timings: dict = field(default_factory=dict)


def choose_matching(requested: str, count: int, source_kind: str, exhaustive_max_frames: int) -> str:
    """Exhaustive for photo sets (unordered) and short videos; sequential for long videos."""
    if requested != "auto":
        return requested
    if source_kind != "video":
        return "exhaustive"  # photos have no order to exploit
    return "exhaustive" if count <= exhaustive_max_frames else "sequential"


def sequential_pairs(count: int, overlap: int, loop_stride: int) -> list[tuple[int, int]]:
    """Pairs for an ordered capture: each frame with the next ``overlap`` frames, plus
    loop-closure pairs among every ``loop_stride``-th frame (so that a closed orbit or a
    return to an earlier view is matched without a vocabulary tree)."""
    pairs = set()
    for i in range(count):
        for j in range(i + 1, min(count, i + overlap + 1)):
            pairs.add((i, j))
    if loop_stride > 0:
        anchors = list(range(0, count, loop_stride))
        for a, i in enumerate(anchors):
            for j in anchors[a + 1 :]:
                pairs.add((i, j))
    return sorted(pairs)


def thread_count(workers: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, workers) if workers > 0 else cores)


# bytes the SfM database holds per stored feature (6 float affine keypoint + 128 byte SIFT
# descriptor) and per match of an image pair (two uint32 ids, stored twice: raw and verified)
FEATURE_BYTES = 6 * 4 + 128
MATCH_BYTES = 2 * 2 * 4


def space_needed(frames: int, max_features: int, matching: str, exhaustive_max_frames: int, overlap: int) -> int:
    """An upper estimate of what SfM writes (database and models), in bytes: every image at
    its feature budget, every matched pair matching a quarter of them, twice over for
    SQLite's journal and the written models."""
    exhaustive = matching == "exhaustive" or (matching == "auto" and frames <= exhaustive_max_frames)
    pairs = frames * (frames - 1) // 2 if exhaustive else frames * overlap
    database = frames * max_features * FEATURE_BYTES + pairs * (max_features // 4) * MATCH_BYTES
    return 2 * database + (32 << 20)


def check_free_space(folder: Path, need: int) -> None:
    """Raise ResourceError when the disk under ``folder`` has less than ``need`` bytes free:
    the SfM library aborts the whole process on a full disk (no error to catch), so the
    check comes before the call."""
    import shutil

    from splat2sim.errors import ResourceError

    free = shutil.disk_usage(folder).free
    if free < need:
        raise ResourceError(
            f"the disk is too full for structure from motion: {free / 2**20:.0f} MiB free under {folder}, "
            f"about {need / 2**20:.0f} MiB needed for its database",
            hint="free space on that disk, build into a workspace on another disk (-o), or lower poses.max_features",
        )


def reconstruct(
    image_dir: Path,
    names: list[str],
    work_dir: Path,
    *,
    source_kind: str,
    matching: str = "auto",
    exhaustive_max_frames: int = 40,
    overlap: int = 10,
    loop_stride: int = 5,
    camera_model: str = "SIMPLE_RADIAL",
    shared_camera: bool = True,
    max_features: int = 8192,
    max_image_size: int = 0,
    threads: int = 1,
    seed: int = 0,
    progress=None,
    before_mapping=None,
) -> SfmResult:
    """``before_mapping(database, matching_used)`` may raise to stop before the mapper
    (e.g. when the matches already show that the camera does not move). With ``threads`` > 1
    the result differs from run to run (see ``PosesConfig.reproducible``)."""
    import pycolmap

    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "database.db"
    if database.exists():
        database.unlink()
    pycolmap.set_random_seed(seed)
    timings: dict[str, float] = {}

    def step(name):
        if progress is not None:
            progress(name)
        return time.perf_counter()

    t = step("features")
    _extract_features(
        pycolmap,
        database,
        image_dir,
        names,
        camera_model=camera_model,
        shared_camera=shared_camera,
        max_features=max_features,
        max_image_size=max_image_size,
        threads=threads,
    )
    timings["features"] = round(time.perf_counter() - t, 3)

    t = step("matching")
    used = choose_matching(matching, len(names), source_kind, exhaustive_max_frames)
    pair_count = _match(pycolmap, database, work_dir, names, used, overlap=overlap, loop_stride=loop_stride, threads=threads, seed=seed)
    timings["matching"] = round(time.perf_counter() - t, 3)

    if before_mapping is not None:
        before_mapping(database, used)
    t = step("mapping")
    models = _map(pycolmap, database, image_dir, work_dir, threads=threads, seed=seed)
    timings["mapping"] = round(time.perf_counter() - t, 3)
    best = None
    if models:
        best = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
    return SfmResult(best, len(models), used, pair_count, database, timings)


def _extract_features(
    pycolmap,
    database: Path,
    image_dir: Path,
    names: list[str],
    *,
    camera_model: str,
    shared_camera: bool,
    max_features: int,
    max_image_size: int,
    threads: int,
) -> None:
    """SIFT keypoints and descriptors of every image into the database (on the CPU)."""
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    extraction.max_image_size = max_image_size if max_image_size > 0 else -1
    extraction.sift.max_num_features = max_features
    pycolmap.extract_features(
        database,
        image_dir,
        image_names=names,
        camera_mode=pycolmap.CameraMode.SINGLE if shared_camera else pycolmap.CameraMode.PER_IMAGE,
        reader_options=reader,
        extraction_options=extraction,
        device=pycolmap.Device.cpu,
    )


def _match(pycolmap, database: Path, work_dir: Path, names: list[str], used: str, *, overlap: int, loop_stride: int, threads: int, seed: int) -> int:
    """Match and verify image pairs (all of them, or ``sequential_pairs``); returns how many pairs."""
    match_options = pycolmap.FeatureMatchingOptions()
    match_options.num_threads = threads
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = seed
    if used == "exhaustive":
        pycolmap.match_exhaustive(database, matching_options=match_options, verification_options=verification, device=pycolmap.Device.cpu)
        return len(names) * (len(names) - 1) // 2
    pairs = sequential_pairs(len(names), overlap, loop_stride)
    pair_file = work_dir / "pairs.txt"
    pair_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in pairs))
    pairing = pycolmap.ImportedPairingOptions()
    pairing.match_list_path = pair_file
    pycolmap.match_image_pairs(
        database, matching_options=match_options, pairing_options=pairing, verification_options=verification, device=pycolmap.Device.cpu
    )
    return len(pairs)


def _map(pycolmap, database: Path, image_dir: Path, work_dir: Path, *, threads: int, seed: int) -> dict:
    """Incremental mapping (seeded); the models it made, by index."""
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = threads
    options.random_seed = seed
    options.mapper.random_seed = seed
    options.triangulation.random_seed = seed
    options.min_model_size = 3
    model_dir = work_dir / "models"
    model_dir.mkdir(exist_ok=True)
    return pycolmap.incremental_mapping(database, image_dir, model_dir, options=options)


# ----------------------------------------------------------------------------- database stats
@dataclass
class MatchStats:
    keypoints_per_image: np.ndarray  # keypoint count per image, in the order of ``names``
    verified_pairs: int
    matched_pairs: int
    pair_configs: dict  # configuration name -> count, over verified pairs
    median_flow: float  # median pixel displacement of inlier matches over verified pairs
    flow_fraction: float  # median_flow / image diagonal
    median_tri_angle_deg: float  # median triangulation angle of calibrated pairs (nan if none)


def match_stats(database: Path, names: list[str], diagonal: float) -> MatchStats:
    """What the matcher found, read back from the database: the evidence for a diagnosis."""
    import pycolmap

    db = pycolmap.Database.open(str(database))
    try:
        by_name = {}
        for image in db.read_all_images():
            by_name[image.name] = image.image_id
        counts = np.array([db.num_keypoints_for_image(by_name[n]) if n in by_name else 0 for n in names])
        pair_ids, geometries = db.read_two_view_geometries()
        configs: dict[str, int] = {}
        flows, angles = [], []
        verified = 0
        keypoints_cache: dict[int, np.ndarray] = {}
        for pair_id, geometry in zip(pair_ids, geometries):
            inliers = np.asarray(geometry.inlier_matches)
            try:
                name = pycolmap.TwoViewGeometryConfiguration(int(geometry.config)).name
            except (TypeError, ValueError):
                name = str(geometry.config).split(".")[-1]
            if len(inliers) == 0:
                continue
            verified += 1
            configs[name] = configs.get(name, 0) + 1
            i1, i2 = pycolmap.pair_id_to_image_pair(pair_id)
            for image_id in (i1, i2):
                if image_id not in keypoints_cache:
                    keypoints_cache[image_id] = np.asarray(db.read_keypoints(image_id))[:, :2]
            p1 = keypoints_cache[i1][inliers[:, 0]]
            p2 = keypoints_cache[i2][inliers[:, 1]]
            flows.append(float(np.median(np.linalg.norm(p1 - p2, axis=1))))
            tri = float(getattr(geometry, "tri_angle", float("nan")))
            if np.isfinite(tri) and tri > 0:
                angles.append(np.degrees(tri))
        matched = db.num_matched_image_pairs()
    finally:
        db.close()
    median_flow = float(np.median(flows)) if flows else 0.0
    return MatchStats(
        keypoints_per_image=counts,
        verified_pairs=verified,
        matched_pairs=int(matched),
        pair_configs=configs,
        median_flow=median_flow,
        flow_fraction=median_flow / diagonal if diagonal > 0 else 0.0,
        median_tri_angle_deg=float(np.median(angles)) if angles else float("nan"),
    )
