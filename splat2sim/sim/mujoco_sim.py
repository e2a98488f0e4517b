"""MuJoCo: compile an exported MJCF (collecting compiler warnings), settle it, render it.

This package works on simulator models and exported files, never on Scene objects (the
scene package loads a Scene through it: ``splat2sim.scene.simulators``)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from splat2sim.errors import StageError, missing_package
from splat2sim.geometry.transforms import matrix_to_quat, mujoco_from_opencv_camera
from splat2sim.sim.results import SettleResult, body_result


def mujoco_module():
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
    except ImportError as exc:
        raise missing_package("mujoco", "loading scenes in MuJoCo") from exc
    return mujoco


@contextlib.contextmanager
def _capture_fds():
    """Collect what native code writes to stdout/stderr (MuJoCo prints compiler warnings)."""
    out = {"text": ""}
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield out
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            out["text"] = tmp.read().decode("utf-8", "replace")


def compile_model(xml_path) -> tuple[object, list[str]]:
    """(MjModel, warnings). Raises StageError when MuJoCo cannot compile the file."""
    import warnings as pywarnings

    mujoco = mujoco_module()
    xml_path = Path(xml_path)
    log = Path.cwd() / "MUJOCO_LOG.TXT"
    log_before = log.stat().st_size if log.is_file() else None
    with pywarnings.catch_warnings(record=True) as caught, _capture_fds() as fds:
        pywarnings.simplefilter("always")
        try:
            model = mujoco.MjModel.from_xml_path(str(xml_path))
        except Exception as exc:
            raise StageError(f"MuJoCo could not compile {xml_path}: {exc}", hint="see the message; a mesh may be degenerate") from exc
    messages = [str(w.message) for w in caught]
    messages += [line.strip() for line in fds["text"].splitlines() if line.strip()]
    if log.is_file() and (log_before is None or log.stat().st_size != log_before):
        messages.append(f"MuJoCo wrote to {log}")
    return model, messages


def _body_penetration(model, data, body_id: int) -> float:
    deepest = 0.0
    for i in range(data.ncon):
        c = data.contact[i]
        if body_id in (model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]):
            deepest = max(deepest, -float(c.dist))
    return deepest


def _body_ke(model, data, body_id: int) -> float:
    ang, lin = data.cvel[body_id][:3], data.cvel[body_id][3:]
    # cvel is about the subtree centre of mass; for a free leaf body that is its own CoM
    R = data.ximat[body_id].reshape(3, 3)
    w_local = R.T @ ang
    return float(0.5 * model.body_mass[body_id] * lin @ lin + 0.5 * np.sum(model.body_inertia[body_id] * w_local**2))


def settle_mujoco(model, body_names: list[str], seconds: float = 2.0, data=None) -> SettleResult:
    """Step ``seconds`` of simulated time from the model's initial state."""
    mujoco = mujoco_module()
    t0 = time.perf_counter()
    data = data if data is not None else mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    ids = [model.body(n).id for n in body_names]
    start = [(data.xpos[i].copy(), data.xquat[i].copy()) for i in ids]
    steps = int(round(seconds / model.opt.timestep))
    max_speed = np.zeros(len(ids))
    for _ in range(steps):
        mujoco.mj_step(model, data)
        for k, i in enumerate(ids):
            max_speed[k] = max(max_speed[k], float(np.linalg.norm(data.cvel[i][3:])))
        if not np.all(np.isfinite(data.qpos)):
            break
    mujoco.mj_forward(model, data)
    warnings = [f"MuJoCo runtime warning {mujoco.mjtWarning(k).name}: {int(w.number)} time(s)" for k, w in enumerate(data.warning) if w.number > 0]
    bodies = [
        body_result(n, p0, q0, data.xpos[i], data.xquat[i], _body_penetration(model, data, i), _body_ke(model, data, i), ms)
        for n, i, (p0, q0), ms in zip(body_names, ids, start, max_speed)
    ]
    return SettleResult("mujoco", seconds, float(model.opt.timestep), bodies, warnings, round(time.perf_counter() - t0, 3))


def initial_penetrations(model, data=None) -> list[dict]:
    """Contacts at the initial pose: [{body1, body2, depth_m, normal, pos}] with depth > 0."""
    mujoco = mujoco_module()
    data = data if data is not None else mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    out = []
    for i in range(data.ncon):
        c = data.contact[i]
        if c.dist < 0:
            b1, b2 = int(model.geom_bodyid[c.geom1]), int(model.geom_bodyid[c.geom2])
            out.append(
                {
                    "body1": model.body(b1).name,
                    "body2": model.body(b2).name,
                    "depth_m": -float(c.dist),
                    "normal": c.frame[:3].tolist(),
                    "pos": c.pos.tolist(),
                }
            )
    return out


def render_views(model, cameras: list[dict], width: int, height: int, data=None, *, hulls: bool = False) -> list[np.ndarray]:
    """RGB images [H,W,3] uint8 from pinhole cameras {"world_from_camera" (OpenCV axes), "fy"}.
    hulls=True shows the collision geoms (group 3) instead of the visual ones (group 2)."""
    mujoco = mujoco_module()
    data = data if data is not None else mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    opt = mujoco.MjvOption()
    opt.geomgroup[:] = 1
    opt.geomgroup[2] = 0 if hulls else 1
    opt.geomgroup[3] = 1 if hulls else 0
    cid = model.camera("overview").id
    images = []
    renderer = mujoco.Renderer(model, height=height, width=width)
    try:
        for cam in cameras:
            T = mujoco_from_opencv_camera(np.asarray(cam["world_from_camera"], np.float64))
            model.cam_pos[cid] = T[:3, 3]
            model.cam_quat[cid] = matrix_to_quat(T[:3, :3])
            model.cam_fovy[cid] = float(np.degrees(2 * np.arctan(0.5 * height / cam["fy"])))
            mujoco.mj_kinematics(model, data)
            mujoco.mj_camlight(model, data)
            renderer.update_scene(data, camera=cid, scene_option=opt)
            images.append(renderer.render().copy())
    finally:
        renderer.close()
    return images
