"""The splat as the simulator's camera: photoreal images of any simulated state.

    scene = splat2sim.load("ws/")
    cam = scene.camera()                        # SplatCamera
    frame = cam.render(data, camera="keyframe_003")    # poses from a MuJoCo MjData
    frame.rgb, frame.depth, frame.object_ids

The exported splat is split once into the background (every Gaussian that no object owns)
and one splat per object in its body frame (``bodies[].splat``). A render moves each
object's Gaussians to its body's pose (means rotated and translated, orientations
composed; scales, opacities and colours unchanged, so view-dependent colour follows the
world direction) and rasterizes them with the background in one pass, so occlusion
between objects and the scene is exact.

The table under an object was never seen by the camera, so when the object moves its
footprint would show a hole. ``fill_support`` covers the hole (the cells of the object's
footprint where it was filmed that the support's splat leaves uncovered, seen from above)
with flat Gaussians coloured like the support around it (inverse-distance weights of the
nearest support Gaussians outside the footprint). An object's patch is drawn only once
the object has left its filmed pose (by more than ``MOVED_M`` or ``MOVED_DEG``): at the
filmed poses the render is the splat as it was filmed, contact shadows included; a
variant's scene, whose objects were placed elsewhere, shows every patch.

Conventions: poses are 4x4 ``world_from_body`` (metres, +z up); cameras are
``world_from_camera`` in OpenCV axes (x right, y down, z forward) with intrinsics
(fx, fy, cx, cy) in pixels, pixel centres as in splat2sim.render.conventions (the same as
export/cameras.json). A MuJoCo camera (-z forward, +y up) is converted here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splat2sim.errors import InputError
from splat2sim.geometry.transforms import quat_to_matrix

FIELDS = ("means", "log_scales", "quats", "opacity_logits", "sh")
# an object farther than this from its filmed pose shows its support patch (check's repairs
# lift objects by up to ~2 mm, which uncovers nothing)
MOVED_M, MOVED_DEG = 0.005, 1.0


@dataclass
class SplatFrame:
    """One render of the simulated state."""

    rgb: np.ndarray  # [H,W,3] float32 in [0, 1]
    depth: np.ndarray  # [H,W] float32 camera z in metres (median depth: where the view turns opaque), 0 = nothing
    object_ids: np.ndarray  # [H,W] int16: index into ``names`` of the object seen there, -1 = background
    names: list[str]  # body names, by object id


def _owned_rows(whole: dict, part: dict) -> np.ndarray:
    """[N] bool: the Gaussians of ``whole`` that ``part`` holds (export writes an object's
    Gaussians as a translated copy, so scales, opacity and colour match bit for bit)."""

    def keys(d):
        cols = np.concatenate([d["log_scales"], d["opacity_logits"][:, None], d["sh"][:, 0, :], d["quats"]], axis=1)
        return np.ascontiguousarray(cols.astype(np.float32)).view(np.dtype((np.void, cols.shape[1] * 4))).ravel()

    return np.isin(keys(whole), keys(part))


def _rotate_quats(quats: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """[N,4] (w, x, y, z) orientations composed with ``rotation`` (3x3): q' = r * q."""
    from splat2sim.geometry.transforms import matrix_to_quat

    r = np.asarray(matrix_to_quat(rotation), np.float64)  # (w, x, y, z)
    w1, x1, y1, z1 = r
    w2, x2, y2, z2 = np.asarray(quats, np.float64).T
    return np.stack(
        [w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
         w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2], axis=1,
    ).astype(np.float32)  # fmt: skip


def _seen_from_above(background: dict, cells: np.ndarray, plane_z: float, near: int = 32) -> np.ndarray:
    """[K] opacity that the support's Gaussians (means within 1 cm of the plane) give each
    cell [K,2] seen from straight above: 1 - prod(1 - o_i g_i(cell)), g_i the Gaussian's
    footprint on the plane (the xy block of its covariance), over its ``near`` nearest."""
    from scipy.spatial import cKDTree

    m = background["means"]
    on = np.flatnonzero(np.abs(m[:, 2] - plane_z) < 0.01)
    if len(on) == 0:
        return np.zeros(len(cells))
    q = np.asarray(background["quats"][on], np.float64)
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    rot = np.stack(
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], 1
    ).reshape(-1, 2, 3)  # [M,2,3]: rows x, y of R
    cov = np.einsum("mij,mj,mkj->mik", rot, np.exp(2 * np.asarray(background["log_scales"][on], np.float64)), rot)  # [M,2,2]
    inv = np.linalg.inv(cov + 1e-10 * np.eye(2))
    k = min(near, len(on))
    _, idx = cKDTree(m[on, :2]).query(cells, k=k)  # [K,k]
    idx = idx.reshape(len(cells), k)
    d = cells[:, None, :] - m[on][idx][..., :2]  # [K,k,2]
    g = np.exp(-0.5 * np.einsum("kni,knij,knj->kn", d, inv[idx], d))  # [K,k]
    o = 1 / (1 + np.exp(-np.asarray(background["opacity_logits"][on], np.float64)))
    return 1 - np.prod(1 - np.minimum(o[idx] * g, 0.99), axis=1)


def support_patch(background: dict, footprint_xy: np.ndarray, plane_z: float, spacing: float = 0.004, ring: float = 0.03,
                  grow: float = 0.01, below: float = 0.005) -> dict:  # fmt: skip
    """Flat Gaussians on the support plane filling the hole the support's splat has under
    an object: the cells of ``footprint_xy`` [K,2] (a convex polygon's points; its hull
    grown by ``grow`` is searched) that the support's Gaussians cover less than half,
    seen from above (``_seen_from_above``); the support that was seen stays as it was.
    Coloured from the background Gaussians within ``ring`` of it that lie on the plane
    (inverse-distance weights of the 8 nearest) and ``below`` the plane, so the seen
    support draws in front of them. Empty when there is no hole or no support around it."""
    from scipy.spatial import ConvexHull, Delaunay, cKDTree

    pts = np.asarray(footprint_xy, np.float64)
    if len(pts) < 3:
        return {}
    centre = pts.mean(0)
    away = pts - centre
    grown = pts + grow * away / np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-9)  # ``grow`` out
    hull = Delaunay(grown[ConvexHull(grown).vertices])
    lo, hi = grown.min(0), grown.max(0)
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0] + spacing, spacing), np.arange(lo[1], hi[1] + spacing, spacing), indexing="ij")
    cells = np.stack([gx.ravel(), gy.ravel()], 1)
    cells = cells[hull.find_simplex(cells) >= 0]
    cells = cells[_seen_from_above(background, cells, plane_z) < 0.5] if len(cells) else cells
    m = background["means"]
    on_plane = np.abs(m[:, 2] - plane_z) < 0.01
    near = on_plane & (np.linalg.norm(m[:, :2] - centre, axis=1) < np.linalg.norm(grown - centre, axis=1).max() + ring)
    near &= hull.find_simplex(m[:, :2]) < 0  # outside the footprint: the support that was seen
    if len(cells) == 0 or near.sum() < 8:
        return {}
    tree = cKDTree(m[near, :2])
    dist, idx = tree.query(cells, k=8)
    w = 1.0 / np.maximum(dist, 1e-4)
    w /= w.sum(1, keepdims=True)
    sh = background["sh"][near]
    n = len(cells)
    patch_sh = np.zeros((n,) + sh.shape[1:], np.float32)
    patch_sh[:, 0, :] = np.einsum("nk,nkc->nc", w, sh[idx, 0, :])  # DC only: a matte surface
    return {
        "means": np.c_[cells, np.full(n, plane_z - below)].astype(np.float32),
        "log_scales": np.log(np.tile([0.75 * spacing, 0.75 * spacing, 5e-4], (n, 1))).astype(np.float32),
        "quats": np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
        "opacity_logits": np.full(n, 4.6, np.float32),  # opacity 0.99
        "sh": patch_sh,
    }


class SplatCamera:
    """Renders the scene's splat at any state of its bodies (see the module docstring)."""

    def __init__(self, scene, *, backend: str = "auto", fill_support: bool = True):
        from splat2sim.io.gaussians_ply import read_gaussians_ply

        if not scene.splat:
            raise InputError(
                "the scene has no splat to render", hint="export it from a workspace (`splat2sim build`), which writes assets/gaussians.ply"
            )
        self.scene, self.backend = scene, backend
        whole = read_gaussians_ply(scene.asset(scene.splat["file"]))
        owned = np.zeros(len(whole["means"]), bool)
        self.names: list[str] = []
        self._objects: list[dict] = []
        footprints = []
        self._home: dict[str, np.ndarray] = {}  # {name: [4,4]} each object's filmed pose (a variant's scene moved it)
        plane_z = float((scene.environment.get("support_plane") or {}).get("center", [0, 0, 0])[2])
        for body in scene.bodies:
            if not body.splat:
                continue
            part = read_gaussians_ply(scene.asset(body.splat))
            mine = _owned_rows(whole, part)  # [N] this body's Gaussians in the whole splat, where they were filmed
            owned |= mine
            filmed = _matrix(body.position, body.quaternion)
            if mine.any():  # export writes the body's splat as a translated copy: the filmed pose is that translation
                filmed = np.eye(4)
                filmed[:3, 3] = whole["means"][mine].astype(np.float64).mean(0) - part["means"].astype(np.float64).mean(0)
            footprints.append((part["means"] @ filmed[:3, :3].T + filmed[:3, 3])[:, :2])  # [n,2] where it stood, filmed size
            if float(body.scale) != 1.0:  # a variant's scaled body: its splat scales with it, about the body origin
                part = {**part, "means": part["means"] * np.float32(body.scale), "log_scales": part["log_scales"] + np.float32(np.log(body.scale))}
            self.names.append(body.name)
            self._objects.append(part)
            self._home[body.name] = filmed
        self.background = {k: whole[k][~owned] for k in FIELDS}
        self.owned = int(owned.sum())
        self._patches = [support_patch(self.background, xy, plane_z) if fill_support else {} for xy in footprints]  # per object, {} = none
        self.filled = sum(len(p["means"]) for p in self._patches if p)

    # ------------------------------------------------------------------ state and camera
    def poses(self, state=None) -> dict[str, np.ndarray]:
        """{body name: 4x4 world_from_body} from ``state``: None (the scene's own poses), a
        dict (body name or id -> 4x4 or (position, quaternion wxyz)), a MuJoCo ``MjData`` of
        the exported MJCF, or ``(client, {name: pybullet id})`` from ``Scene.to_pybullet``."""
        out = {}
        by_id = {b.id: b.name for b in self.scene.bodies}
        for body in self.scene.bodies:
            out[body.name] = _matrix(body.position, body.quaternion)
        if state is None:
            return out
        if isinstance(state, dict):
            for key, value in state.items():
                name = by_id.get(key, key)
                if name not in out:
                    raise InputError(f"no body {key!r} in the scene", hint=f"bodies: {', '.join(out)}")
                value = value if not isinstance(value, (tuple, list)) or len(value) != 2 else _matrix(*value)
                out[name] = np.asarray(value, np.float64).reshape(4, 4)
            return out
        if hasattr(state, "xpos") and hasattr(state, "body"):  # mujoco.MjData
            for name in out:
                b = state.body(name)
                out[name] = _matrix(b.xpos, b.xquat)
            return out
        if isinstance(state, tuple) and len(state) == 2:  # pybullet: (client, {name: id})
            import pybullet as p

            client, ids = state
            for name in out:
                pos, orn = p.getBasePositionAndOrientation(ids[name], physicsClientId=client)
                # pybullet reports the base's inertial frame; the body frame is that frame
                # moved back by the inertial offset the URDF gave it.
                local_pos, local_orn = p.getDynamicsInfo(ids[name], -1, physicsClientId=client)[3:5]
                inv_pos, inv_orn = p.invertTransform(local_pos, local_orn)
                pos, orn = p.multiplyTransforms(pos, orn, inv_pos, inv_orn)
                out[name] = _matrix(pos, [orn[3], orn[0], orn[1], orn[2]])
            return out
        raise InputError(f"cannot read body poses from a {type(state).__name__}", hint="pass a dict, a mujoco.MjData, or (client, ids) from pybullet")

    def keyframe(self, name_or_index) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(world_from_camera 4x4, (fx, fy, cx, cy), width, height) of a filmed keyframe
        (export/cameras.json), by name (``keyframe_003``) or index."""
        from splat2sim.scene.keyframes import cameras_file, read_keyframes

        # beside scene.json; check's repaired scene sits beside export/, which has them
        path = cameras_file(self.scene.root)
        if path is None:
            raise InputError(f"{self.scene.asset('cameras.json')} is missing", hint="re-run the export stage, which writes the keyframes' cameras")
        frames = read_keyframes(path)
        if isinstance(name_or_index, int):
            frame = frames[name_or_index]
        else:
            frame = next((f for f in frames if f.name == name_or_index), None)
        if frame is None:
            raise InputError(f"no keyframe {name_or_index!r}", hint=f"keyframes: {frames[0].name} ... {frames[-1].name}")
        return frame.world_from_camera, frame.intrinsics, frame.width, frame.height

    # ------------------------------------------------------------------ render
    def render(self, state=None, *, camera=0, world_from_camera=None, intrinsics=None, width: int | None = None,
               height: int | None = None, mujoco_model=None, appearance: dict | None = None) -> SplatFrame:  # fmt: skip
        """Render the state (see :meth:`poses`) from a camera: a keyframe name or index of
        export/cameras.json (default the first), a MuJoCo camera name (with
        ``mujoco_model`` and an MjData ``state``), or ``world_from_camera`` (OpenCV axes) with
        ``intrinsics`` (fx, fy, cx, cy) and ``width`` / ``height``. A keyframe rendered at
        another ``width`` / ``height`` is scaled. ``appearance``: a variant's appearance
        record (splat2sim.scene.appearance: object tints, camera jitter, brightness, gain)."""
        import torch

        from splat2sim.render import Cameras, Gaussians, render
        from splat2sim.scene import appearance as look

        if world_from_camera is None:
            if mujoco_model is not None and isinstance(camera, str):
                world_from_camera, intrinsics, width, height = _mujoco_camera(mujoco_model, state, camera, width, height)
            else:
                world_from_camera, k, w0, h0 = self.keyframe(camera)
                width, height = width or w0, height or h0
                intrinsics = k * np.array([width / w0, height / h0, width / w0, height / h0])
        if intrinsics is None or width is None or height is None:
            raise InputError("a camera given by its pose needs intrinsics, width and height", hint="or pass camera= a keyframe name")
        tints = (appearance or {}).get("tints") or {}
        if appearance:
            world_from_camera = look.jitter_camera(world_from_camera, appearance)
        poses = self.poses(state)
        parts = [self.background]
        ids = [np.full(len(self.background["means"]), -1, np.int64)]
        for index, (name, local) in enumerate(zip(self.names, self._objects)):
            pose = poses[name]
            r, t = pose[:3, :3], pose[:3, 3]
            moved = look.tint_gaussians(local, tints[name]) if name in tints else dict(local)
            moved["means"] = (local["means"] @ r.T + t).astype(np.float32)
            moved["quats"] = _rotate_quats(local["quats"], r)
            parts.append(moved)
            ids.append(np.full(len(local["means"]), index, np.int64))
            patch = self._patches[index]
            if patch and _moved(self._home[name], pose):
                parts.append(patch)
                ids.append(np.full(len(patch["means"]), -1, np.int64))
        g = Gaussians(*(torch.from_numpy(np.ascontiguousarray(np.concatenate([p[k] for p in parts]))) for k in FIELDS))
        owner = torch.from_numpy(np.concatenate(ids))
        cams = Cameras(torch.tensor(np.asarray(world_from_camera)[None], dtype=torch.float32),
                       torch.tensor(np.asarray(intrinsics, np.float32)[None]), int(width), int(height))  # fmt: skip
        with torch.no_grad():
            out, weights = _render_with_owners(g, cams, owner, len(self.names), self.backend, render)
        rgb = out.rgb[0].clamp(0, 1).numpy()
        depth = out.median_depth[0, ..., 0].numpy()
        alpha = out.alpha[0, ..., 0].numpy()
        object_ids = np.full(depth.shape, -1, np.int16)
        if weights is not None:
            w = weights[0].numpy()  # [H,W,objects]: each object's share of the pixel's opacity
            best = w.argmax(-1)
            # an object owns the pixel when it gives more than half of what is seen there
            object_ids = np.where(np.take_along_axis(w, best[..., None], -1)[..., 0] > 0.5 * np.maximum(alpha, 1e-6), best, -1).astype(np.int16)
        rgb = look.apply_image(rgb, appearance) if appearance else rgb
        return SplatFrame(rgb.astype(np.float32), depth.astype(np.float32), object_ids, list(self.names))


def _render_with_owners(g, cams, owner, count: int, backend: str, render):
    """The render and, per pixel, each object's accumulated blending weight [C,H,W,count]
    (one feature channel per object, composited with the colours in the same pass)."""
    import torch

    from splat2sim.render import render_features

    if count == 0:
        return render(g, cams, backend=backend), None
    onehot = torch.zeros(g.num, count)  # [N,objects]
    mine = owner >= 0
    onehot[mine, owner[mine]] = 1.0
    return render_features(g, cams, onehot, backend=backend)


def _moved(home: np.ndarray, pose: np.ndarray) -> bool:
    """Whether ``pose`` is farther from ``home`` (both [4,4]) than MOVED_M or MOVED_DEG."""
    cos = np.clip((np.trace(home[:3, :3].T @ pose[:3, :3]) - 1) / 2, -1.0, 1.0)
    return bool(np.linalg.norm(pose[:3, 3] - home[:3, 3]) > MOVED_M or np.degrees(np.arccos(cos)) > MOVED_DEG)


def _matrix(position, quaternion) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(np.asarray(quaternion, np.float64))
    m[:3, 3] = np.asarray(position, np.float64)
    return m


def _mujoco_camera(model, data, name: str, width: int | None, height: int | None):
    """world_from_camera (OpenCV axes) and intrinsics of a named MuJoCo camera: from its
    sensor (``focalpixel`` / ``principalpixel``, as the keyframe cameras of the exported
    MJCF have) or else its fovy with the principal point at the centre. Without
    ``width`` / ``height``, its ``resolution`` or 640x480."""
    cam, spec = data.cam(name), model.cam(name)
    sensor = np.asarray(model.cam_sensorsize[spec.id], np.float64)  # [2] metres, 0 = none
    res = np.asarray(model.cam_resolution[spec.id], np.float64)  # [2] pixels
    if width is None or height is None:
        width, height = (int(res[0]), int(res[1])) if sensor.all() and res.all() else (640, 480)
    if sensor.all():
        fx_m, fy_m, px_m, py_m = np.asarray(model.cam_intrinsic[spec.id], np.float64)  # focal lengths, principal offsets (metres)
        k = np.array([fx_m / sensor[0] * width, fy_m / sensor[1] * height,
                      width / 2 - px_m / sensor[0] * width, height / 2 - py_m / sensor[1] * height])  # fmt: skip
    else:
        f = 0.5 * height / np.tan(np.radians(float(spec.fovy[0])) / 2)
        k = np.array([f, f, width / 2, height / 2])
    pose = np.eye(4)
    pose[:3, :3] = np.asarray(cam.xmat).reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])  # MuJoCo -z forward, +y up
    pose[:3, 3] = cam.xpos
    return pose, k, int(width), int(height)
