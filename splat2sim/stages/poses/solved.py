"""The stage's neutral view of a solved capture: per-frame poses, intrinsics and points.

SfM results and imports are both turned into a ``Solved``; gravity, scale, quality and the
writers work on it alone. ``cam_from_world`` is 4x4 in OpenCV camera axes (x right, y down,
z forward). Intrinsics follow COLMAP's pixel convention: (0, 0) is the top-left *corner*
of the image, so the centre of pixel (i, j) is (i + 0.5, j + 0.5) -- the convention
3DGS, gsplat and nerfstudio use. (OpenCV puts pixel centres on integers: subtract 0.5.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# COLMAP model name -> (parameter names). Everything is turned into fx, fy, cx, cy + OpenCV
# distortion (k1, k2, p1, p2).
_MODEL_PARAMS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}


def intrinsics_from_params(model: str, width: int, height: int, params) -> dict:
    names = _MODEL_PARAMS.get(model)
    if names is None:
        raise ValueError(f"camera model {model} is not supported (use one of {', '.join(_MODEL_PARAMS)})")
    values = dict(zip(names, (float(v) for v in params)))
    fx = values.get("fx", values.get("f"))
    fy = values.get("fy", values.get("f"))
    return {
        "model": model,
        "width": int(width),
        "height": int(height),
        "fx": fx,
        "fy": fy,
        "cx": values["cx"],
        "cy": values["cy"],
        "distortion": {k: values.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")},
        "params": [float(v) for v in params],
    }


def params_from_intrinsics(intr: dict) -> list[float]:
    d = intr.get("distortion", {})
    model = intr["model"]
    table = {
        "f": 0.5 * (intr["fx"] + intr["fy"]),
        "fx": intr["fx"],
        "fy": intr["fy"],
        "cx": intr["cx"],
        "cy": intr["cy"],
        **{k: d.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")},
    }
    return [float(table[name]) for name in _MODEL_PARAMS[model]]


def _camera(intr: dict, camera_id: int):
    import pycolmap

    camera = pycolmap.Camera.create_from_model_name(camera_id, intr["model"], float(intr["fx"]), int(intr["width"]), int(intr["height"]))
    camera.params = np.asarray(params_from_intrinsics(intr), dtype=np.float64)
    return camera


@dataclass
class Solved:
    names: list[str]  # keyframe file names (basenames), in frames.json order
    registered: np.ndarray  # bool per frame
    cam_from_world: np.ndarray  # (N, 4, 4); identity where not registered
    camera_index: np.ndarray  # int per frame, into ``cameras``
    cameras: list[dict]  # intrinsics dicts (see intrinsics_from_params)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    point_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # px, nan if unknown
    track_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    reconstruction: object | None = None  # the pycolmap model, kept in the same frame

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def registered_count(self) -> int:
        return int(self.registered.sum())

    def world_from_camera(self) -> np.ndarray:
        out = np.tile(np.eye(4), (self.count, 1, 1))
        for i in np.flatnonzero(self.registered):
            out[i] = invert_rigid(self.cam_from_world[i])
        return out

    def centers(self) -> np.ndarray:
        """Camera centres of the registered frames (R, 3)."""
        wfc = self.world_from_camera()[self.registered]
        return wfc[:, :3, 3]

    def pycolmap_camera(self, frame: int):
        return _camera(self.cameras[int(self.camera_index[frame])], int(self.camera_index[frame]) + 1)

    def apply_similarity(self, scale: float, rotation: np.ndarray, translation: np.ndarray) -> None:
        """Move everything into a new world: x_new = scale * R @ x + t (cameras keep their axes)."""
        R = np.asarray(rotation, float)
        t = np.asarray(translation, float)
        if len(self.points):
            self.points = (scale * self.points @ R.T) + t
        for i in np.flatnonzero(self.registered):
            Rc, tc = self.cam_from_world[i, :3, :3], self.cam_from_world[i, :3, 3]
            new = np.eye(4)
            new[:3, :3] = Rc @ R.T
            new[:3, 3] = scale * tc - Rc @ R.T @ t
            self.cam_from_world[i] = new
        if self.reconstruction is not None:
            import pycolmap

            self.reconstruction.transform(pycolmap.Sim3d(float(scale), pycolmap.Rotation3d(R), t.reshape(3, 1)))


def invert_rigid(T: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    R, t = T[:3, :3], T[:3, 3]
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out


def from_reconstruction(rec, names: list[str]) -> Solved:
    """A ``Solved`` from a pycolmap reconstruction whose image names are keyframe names."""
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    registered = np.zeros(n, bool)
    cam_from_world = np.tile(np.eye(4), (n, 1, 1))
    camera_index = np.zeros(n, int)
    camera_ids = sorted(rec.cameras.keys())
    cam_pos = {cid: k for k, cid in enumerate(camera_ids)}
    cameras = []
    for cid in camera_ids:
        cam = rec.cameras[cid]
        cameras.append(intrinsics_from_params(cam.model.name, cam.width, cam.height, cam.params))
    for image in rec.images.values():
        i = index.get(image.name)
        if i is None:
            continue
        camera_index[i] = cam_pos[image.camera_id]
        if image.has_pose:
            registered[i] = True
            T = np.eye(4)
            T[:3, :4] = image.cam_from_world().matrix()
            cam_from_world[i] = T
    return Solved(
        names=list(names),
        registered=registered,
        cam_from_world=cam_from_world,
        camera_index=camera_index,
        cameras=cameras,
        **points_from_reconstruction(rec),
        reconstruction=rec,
    )


def points_from_reconstruction(rec) -> dict[str, np.ndarray]:
    """The sparse points of a pycolmap Reconstruction as Solved fields: points [P,3],
    colors [P,3] uint8, point_errors [P] (px), track_lengths [P]."""
    pts, cols, errs, tracks = [], [], [], []
    for p in rec.points3D.values():
        pts.append(p.xyz)
        cols.append(p.color)
        errs.append(p.error)
        tracks.append(p.track.length())
    return {
        "points": np.asarray(pts, float).reshape(-1, 3),
        "colors": np.asarray(cols, np.uint8).reshape(-1, 3),
        "point_errors": np.asarray(errs, float),
        "track_lengths": np.asarray(tracks, int),
    }


def to_reconstruction(solved: Solved):
    """A pycolmap reconstruction of a ``Solved`` (for imports: points carry no tracks)."""
    import pycolmap

    rec = pycolmap.Reconstruction()
    for k, intr in enumerate(solved.cameras):
        rec.add_camera_with_trivial_rig(_camera(intr, k + 1))
    for i, name in enumerate(solved.names):
        image = pycolmap.Image(name=name, camera_id=int(solved.camera_index[i]) + 1, image_id=i + 1)
        if solved.registered[i]:
            rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(solved.cam_from_world[i][:3, :4]))
        else:
            rec.add_image_with_trivial_frame(image)
    for xyz, color in zip(solved.points, solved.colors):
        rec.add_point3D(np.asarray(xyz, float).reshape(3, 1), pycolmap.Track(), np.asarray(color, np.uint8).reshape(3, 1))
    return rec
