"""Poses from elsewhere: a COLMAP sparse model, or a nerfstudio / instant-ngp transforms.json.

Conventions, converted explicitly:

* COLMAP stores ``cam_from_world`` in OpenCV camera axes (x right, y down, z forward) and
  intrinsics with pixel (0, 0) at the image's top-left corner. Taken as they are.
* nerfstudio and instant-ngp store ``transform_matrix`` = camera-to-world in OpenGL /
  Blender camera axes (x right, y up, z backward). To OpenCV::

      world_from_camera_cv = transform_matrix @ diag(1, -1, -1, 1)

  (flip the camera's y and z axes; the world frame is untouched). nerfstudio's
  ``ns-process-data`` also records ``applied_transform`` (3x4): the world change it made
  from COLMAP's world (``transform_matrix = applied_transform @ colmap_c2w_gl``). The
  stored matrices and the ``ply_file_path`` points are both already in that frame, so
  they are used as stored and the transform is only recorded in world.json; the stage
  finds its own gravity and origin anyway. instant-ngp's load-time ``scale``/``offset``
  and nerfstudio's dataparser normalisation are not applied to the file, so they are
  ignored. Intrinsics: ``fl_x, fl_y, cx, cy, w, h`` (per frame or top level),
  ``camera_angle_x`` when no focal length is given, ``k1, k2, p1, p2`` distortion.

Imported cameras are rescaled to the keyframes' size. Images are matched to keyframes by
file name (the keyframe's own name or, for image folders, the original photo's name).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError
from splat2sim.stages.poses.solved import Solved, intrinsics_from_params, points_from_reconstruction

OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class Imported:
    solved: Solved
    kind: str  # colmap | nerfstudio | instant-ngp
    path: Path
    matched: int
    unmatched_files: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    has_points: bool = True


def frame_aliases(frames_json: dict) -> dict[str, int]:
    """Names by which a keyframe can be referred to -> its index."""
    aliases: dict[str, int] = {}
    for i, frame in enumerate(frames_json["frames"]):
        for key in ("file", "source_file"):
            value = frame.get(key)
            if not value:
                continue
            base = Path(value).name
            aliases.setdefault(base, i)
            aliases.setdefault(Path(base).stem, i)
    return aliases


def _match(name: str, aliases: dict[str, int]) -> int | None:
    base = Path(name).name
    if base in aliases:
        return aliases[base]
    return aliases.get(Path(base).stem)


def resolve_import(path: str | Path) -> tuple[str, Path]:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"poses.import_path {p} does not exist", hint="point it at a COLMAP sparse folder or a transforms.json")
    if p.is_file():
        if p.suffix.lower() == ".json":
            return "transforms", p
        raise InputError(f"poses.import_path {p} is not a transforms.json", hint="give a COLMAP model folder or a transforms.json")
    if (p / "transforms.json").is_file() and not any((p / f"cameras{e}").is_file() for e in (".bin", ".txt")):
        return "transforms", p / "transforms.json"
    for candidate in (p, p / "sparse" / "0", p / "sparse", p / "0"):
        if all(any((candidate / f"{n}{e}").is_file() for e in (".bin", ".txt")) for n in ("cameras", "images", "points3D")):
            return "colmap", candidate
    raise InputError(
        f"poses.import_path {p} holds neither a COLMAP model (cameras, images, points3D .bin/.txt) nor a transforms.json",
        hint="point it at the folder with cameras.bin (e.g. sparse/0) or at transforms.json",
    )


def import_hash_files(path: str | Path) -> list[Path]:
    kind, p = resolve_import(path)
    if kind == "colmap":
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".bin", ".txt"))
    files = [p]
    try:
        ply = json.loads(p.read_text()).get("ply_file_path")
    except (OSError, ValueError):
        ply = None
    if ply and (p.parent / ply).is_file():
        files.append(p.parent / ply)
    return files


def _rescale(intr: dict, width: int, height: int) -> dict:
    sx, sy = width / intr["width"], height / intr["height"]
    out = dict(intr)
    out.update(width=width, height=height, fx=intr["fx"] * sx, fy=intr["fy"] * sy, cx=intr["cx"] * sx, cy=intr["cy"] * sy)
    if intr["model"] in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL") and abs(sx - sy) > 1e-3 * sx:
        out["model"] = "OPENCV" if intr["model"] != "SIMPLE_PINHOLE" else "PINHOLE"
    from splat2sim.stages.poses.solved import params_from_intrinsics

    out["params"] = params_from_intrinsics(out)
    return out


def import_colmap(model_dir: Path, frames_json: dict) -> Imported:
    import pycolmap

    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except Exception as exc:  # pycolmap raises plain RuntimeError/ValueError on bad files
        raise InputError(f"cannot read the COLMAP model in {model_dir}: {exc}", hint="check that the files are complete") from exc
    aliases = frame_aliases(frames_json)
    n = len(frames_json["frames"])
    width, height = frames_json["image_size"]["width"], frames_json["image_size"]["height"]
    registered = np.zeros(n, bool)
    cam_from_world = np.tile(np.eye(4), (n, 1, 1))
    camera_index = np.zeros(n, int)
    camera_ids = sorted(rec.cameras.keys())
    cameras = []
    unsupported = set()
    for cid in camera_ids:
        cam = rec.cameras[cid]
        try:
            intr = intrinsics_from_params(cam.model.name, cam.width, cam.height, cam.params)
        except ValueError:
            unsupported.add(cam.model.name)
            intr = intrinsics_from_params(
                "PINHOLE", cam.width, cam.height, [cam.focal_length_x, cam.focal_length_y, cam.principal_point_x, cam.principal_point_y]
            )
        cameras.append(_rescale(intr, width, height))
    unmatched = []
    index_of_point_image: dict[int, int] = {}
    for image in rec.images.values():
        i = _match(image.name, aliases)
        if i is None:
            unmatched.append(image.name)
            continue
        index_of_point_image[image.image_id] = i
        camera_index[i] = camera_ids.index(image.camera_id)
        if image.has_pose:
            registered[i] = True
            cam_from_world[i, :3, :4] = image.cam_from_world().matrix()
    solved = Solved(
        names=[Path(f["file"]).name for f in frames_json["frames"]],
        registered=registered,
        cam_from_world=cam_from_world,
        camera_index=camera_index,
        cameras=cameras,
        **points_from_reconstruction(rec),
    )
    notes = {"images_in_model": rec.num_images(), "registered_in_model": rec.num_reg_images()}
    if unsupported:
        notes["unsupported_camera_models"] = sorted(unsupported)
    return Imported(solved, "colmap", model_dir, int(registered.sum()), unmatched, notes, has_points=len(solved.points) > 0)


def _intrinsics_from_transforms(entry: dict, top: dict, fallback_size: tuple[int, int]) -> dict:
    def get(key, default=None):
        return entry.get(key, top.get(key, default))

    w = get("w") or fallback_size[0]
    h = get("h") or fallback_size[1]
    w, h = int(w), int(h)
    fx, fy = get("fl_x"), get("fl_y")
    if fx is None and get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
    if fy is None and get("camera_angle_y") is not None:
        fy = 0.5 * h / math.tan(0.5 * float(get("camera_angle_y")))
    if fx is None and fy is None:
        raise InputError("transforms.json gives no focal length (fl_x / fl_y / camera_angle_x)", hint="add the intrinsics to the file")
    fx = float(fx if fx is not None else fy)
    fy = float(fy if fy is not None else fx)
    cx = float(get("cx", w / 2.0))
    cy = float(get("cy", h / 2.0))
    dist = [float(get(k, 0.0) or 0.0) for k in ("k1", "k2", "p1", "p2")]
    model = "OPENCV" if any(dist) else "PINHOLE"
    return intrinsics_from_params(model, w, h, [fx, fy, cx, cy] + (dist if model == "OPENCV" else []))


def _read_ply_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    cloud = trimesh.load(str(path), process=False)
    xyz = np.asarray(getattr(cloud, "vertices", np.zeros((0, 3))), float)
    colors = getattr(cloud, "colors", None)
    if colors is None or len(colors) != len(xyz):
        colors = np.full((len(xyz), 3), 128, np.uint8)
    return xyz, np.asarray(colors)[:, :3].astype(np.uint8)


def import_transforms(path: Path, frames_json: dict) -> Imported:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="check that it is a complete JSON file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise InputError(f"{path} has no 'frames' list", hint="expected a nerfstudio / instant-ngp transforms.json")
    aliases = frame_aliases(frames_json)
    n = len(frames_json["frames"])
    width, height = frames_json["image_size"]["width"], frames_json["image_size"]["height"]
    registered = np.zeros(n, bool)
    cam_from_world = np.tile(np.eye(4), (n, 1, 1))
    camera_index = np.zeros(n, int)
    cameras: list[dict] = []
    keys: dict[str, int] = {}
    unmatched = []
    for entry in data["frames"]:
        name = entry.get("file_path", "")
        i = _match(name, aliases)
        if i is None:
            unmatched.append(name)
            continue
        c2w = np.asarray(entry["transform_matrix"], float)
        if c2w.shape == (3, 4):
            c2w = np.vstack([c2w, [0, 0, 0, 1]])
        world_from_cam = c2w @ OPENGL_TO_OPENCV
        R = world_from_cam[:3, :3]
        scale = np.cbrt(np.linalg.det(R))
        if not np.isfinite(scale) or scale <= 0:
            raise InputError(f"{path}: transform_matrix of {name} is not a rotation", hint="the file may be corrupt")
        R = R / scale  # some exporters fold a scale into the rotation
        u, _, vt = np.linalg.svd(R)
        world_from_cam[:3, :3] = u @ vt
        T = np.eye(4)
        T[:3, :3] = world_from_cam[:3, :3].T
        T[:3, 3] = -world_from_cam[:3, :3].T @ world_from_cam[:3, 3]
        cam_from_world[i] = T
        registered[i] = True
        intr = _rescale(_intrinsics_from_transforms(entry, data, (width, height)), width, height)
        key = json.dumps(intr, sort_keys=True)
        if key not in keys:
            keys[key] = len(cameras)
            cameras.append(intr)
        camera_index[i] = keys[key]
    if not cameras:
        raise InputError(
            f"no frame of {path} matches a keyframe by file name",
            hint="import poses for the same images that the frames stage read (an image folder input keeps the original names)",
        )
    kind = "nerfstudio" if ("camera_model" in data or "applied_transform" in data or "ply_file_path" in data) else "instant-ngp"
    notes = {"convention": "camera-to-world, OpenGL camera axes; converted by transform_matrix @ diag(1,-1,-1,1)"}
    if "applied_transform" in data:
        notes["applied_transform"] = data["applied_transform"]
    for key in ("scale", "offset", "aabb_scale", "camera_model"):
        if key in data:
            notes[key] = data[key]
    pts = np.zeros((0, 3))
    cols = np.zeros((0, 3), np.uint8)
    if data.get("ply_file_path") and (path.parent / data["ply_file_path"]).is_file():
        pts, cols = _read_ply_points(path.parent / data["ply_file_path"])
        notes["points_from"] = data["ply_file_path"]
    solved = Solved(
        names=[Path(f["file"]).name for f in frames_json["frames"]],
        registered=registered,
        cam_from_world=cam_from_world,
        camera_index=camera_index,
        cameras=cameras,
        points=pts,
        colors=cols,
        point_errors=np.full(len(pts), np.nan),
        track_lengths=np.zeros(len(pts), int),
    )
    return Imported(solved, kind, path, int(registered.sum()), unmatched, notes, has_points=len(pts) > 0)


def triangulate_known_poses(solved: Solved, image_dir: Path, work_dir: Path, *, threads: int, seed: int, max_features: int) -> Solved:
    """Sparse points for imported poses without any: SIFT + exhaustive/sequential matching
    + pycolmap's triangulation with the poses held fixed."""
    import pycolmap

    from splat2sim.stages.poses import sfm
    from splat2sim.stages.poses.solved import from_reconstruction

    work_dir.mkdir(parents=True, exist_ok=True)
    names = [solved.names[i] for i in np.flatnonzero(solved.registered)]
    database = work_dir / "triangulation.db"
    if database.exists():
        database.unlink()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = solved.cameras[int(solved.camera_index[solved.registered][0])]["model"]
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    extraction.sift.max_num_features = max_features
    pycolmap.extract_features(
        database,
        image_dir,
        image_names=names,
        camera_mode=pycolmap.CameraMode.PER_IMAGE,
        reader_options=reader,
        extraction_options=extraction,
        device=pycolmap.Device.cpu,
    )
    pairs = sfm.sequential_pairs(len(names), 10, 5) if len(names) > 40 else [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    pair_file = work_dir / "pairs.txt"
    pair_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in pairs))
    options = pycolmap.FeatureMatchingOptions()
    options.num_threads = threads
    pairing = pycolmap.ImportedPairingOptions()
    pairing.match_list_path = pair_file
    pycolmap.match_image_pairs(database, matching_options=options, pairing_options=pairing, device=pycolmap.Device.cpu)
    # The database numbers images in extraction order; give the model the same ids.
    db = pycolmap.Database.open(str(database))
    try:
        db_images = {im.name: im for im in db.read_all_images()}
        db_cameras = {c.camera_id: c for c in db.read_all_cameras()}
    finally:
        db.close()
    fixed = pycolmap.Reconstruction()
    for name in names:
        i = solved.names.index(name)
        dbi = db_images[name]
        cam = solved.pycolmap_camera(i)
        if cam.model.name != reader.camera_model:
            continue  # a second camera model: the database holds one model only
        cam.camera_id = dbi.camera_id
        if not fixed.exists_camera(dbi.camera_id):
            fixed.add_camera_with_trivial_rig(cam)
        image = pycolmap.Image(name=name, camera_id=dbi.camera_id, image_id=dbi.image_id)
        fixed.add_image_with_trivial_frame(image, pycolmap.Rigid3d(solved.cam_from_world[i][:3, :4]))
    del db_cameras
    out = work_dir / "triangulated"
    out.mkdir(exist_ok=True)
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = threads
    options.random_seed = seed
    tri = pycolmap.triangulate_points(fixed, database, image_dir, out, options=options)
    fresh = from_reconstruction(tri, solved.names)
    solved.points, solved.colors = fresh.points, fresh.colors
    solved.point_errors, solved.track_lengths = fresh.point_errors, fresh.track_lengths
    return solved
