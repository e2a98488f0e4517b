"""A local web viewer of a workspace (viser, optional): the splat, each object's mesh and
convex hulls (toggle), the keyframe cameras, a label per object with its physics, and a
button that settles the scene in MuJoCo and animates the objects along the simulated motion.

``open_viewer(workspace, host, port)`` starts the server and returns a ``Viewer``; the CLI
(``splat2sim view``) prints its URL and stops it on Ctrl-C. Library code: raises, never prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splat2sim.errors import InputError, missing_package

ANIMATION_FPS = 30.0
MAX_SPLATS = 200_000  # more than this is subsampled (evenly) to keep the browser responsive
SH_C0 = 0.28209479177387814  # degree-0 spherical-harmonic constant (3DGS colour from f_dc)


def _viser():
    try:
        import viser
    except ImportError as exc:
        raise missing_package("viser", "splat2sim view", extra="viewer") from exc
    return viser


def _quats_to_matrices(q: np.ndarray) -> np.ndarray:
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


def splat_arrays(path: Path, max_splats: int = MAX_SPLATS) -> dict:
    """A 3DGS PLY as viser's arrays: centers, covariances, rgbs in [0, 1], opacities [N, 1]."""
    from splat2sim.io.gaussians_ply import read_gaussians_ply

    g = read_gaussians_ply(path)
    n = len(g["means"])
    keep = np.linspace(0, n - 1, max_splats).astype(np.int64) if n > max_splats else np.arange(n)
    R = _quats_to_matrices(np.asarray(g["quats"], np.float64)[keep])
    s = np.exp(np.asarray(g["log_scales"], np.float64)[keep])
    cov = np.einsum("nij,nj,nkj->nik", R, s**2, R)
    rgb = np.clip(0.5 + SH_C0 * np.asarray(g["sh"], np.float64)[keep, 0, :], 0.0, 1.0)
    opacity = 1.0 / (1.0 + np.exp(-np.asarray(g["opacity_logits"], np.float64)[keep].reshape(-1, 1)))
    return {
        "centers": np.asarray(g["means"], np.float32)[keep],
        "covariances": cov.astype(np.float32),
        "rgbs": rgb.astype(np.float32),
        "opacities": opacity.astype(np.float32),
    }


def physics_text(body) -> str:
    c = body.contact
    src = (body.physics_source or {}).get("source", "?")
    return (
        f"{body.label}  {body.inertial['mass'] * 1000:.0f} g  mu {c.get('friction', 0):.2f}  "
        f"e {c.get('restitution', 0):.2f}  ({(body.physics_source or {}).get('material', '?')}, {src})"
    )


@dataclass
class Viewer:
    server: object
    scene: object
    url: str
    objects: dict = field(default_factory=dict)  # body name -> frame handle
    hulls: list = field(default_factory=list)
    cameras: list = field(default_factory=list)
    _animating: threading.Event = field(default_factory=threading.Event)

    def node_names(self) -> list[str]:
        """The scene-tree node names the server holds (what every client is sent)."""
        return sorted(self.server.scene._handle_from_node_name)  # viser keeps no public listing

    def simulate(self, seconds: float = 2.0) -> dict:
        """Settle the scene in MuJoCo (its MJCF), then animate the objects along the motion.
        Returns {name: final position}."""
        from splat2sim.sim.mujoco_sim import compile_model, mujoco_module

        xml = Path(self.scene.root) / "mjcf" / "scene.xml"
        if not xml.is_file():
            raise InputError(f"{xml} does not exist", hint="run the export stage (splat2sim build) first")
        mujoco = mujoco_module()
        model, _ = compile_model(xml)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        ids = {name: model.body(name).id for name in self.objects}
        every = max(1, int(round(1.0 / (ANIMATION_FPS * model.opt.timestep))))
        frames = []
        for step in range(int(round(seconds / model.opt.timestep))):
            mujoco.mj_step(model, data)
            if step % every == 0:
                frames.append({n: (data.xpos[i].copy(), data.xquat[i].copy()) for n, i in ids.items()})
        self._animating.set()
        try:
            for frame in frames:
                with self.server.atomic():
                    for name, (p, q) in frame.items():
                        self.objects[name].position = p
                        self.objects[name].wxyz = q
                time.sleep(1.0 / ANIMATION_FPS)
        finally:
            self._animating.clear()
        return {n: frames[-1][n][0].tolist() for n in ids} if frames else {}

    def stop(self) -> None:
        self.server.stop()


def _add_cameras(server, workspace: Path, scene_root: Path, viewer: Viewer):
    """Frustums of the keyframe cameras; returns the first one's position (None without cameras)."""
    for candidate in (workspace / "export" / "cameras.json", scene_root / "cameras.json"):
        if candidate.is_file():
            cams = json.loads(candidate.read_text())
            break
    else:
        return None
    from splat2sim.geometry.transforms import matrix_to_quat

    intr = cams["cameras"][0] if cams.get("cameras") else cams["intrinsics"]
    fov = 2 * np.arctan(0.5 * intr["height"] / intr["fy"])
    for f in cams["frames"]:
        T = np.asarray(f["world_from_camera"], np.float64)  # OpenCV axes, as viser's frustum
        handle = server.scene.add_camera_frustum(
            f"/cameras/{f['name']}", fov=float(fov), aspect=intr["width"] / intr["height"], scale=0.02, color=(255, 140, 0),
            thickness=0.002, wxyz=np.asarray(matrix_to_quat(T[:3, :3])), position=T[:3, 3],
        )  # fmt: skip
        viewer.cameras.append(handle)
    return np.asarray(cams["frames"][0]["world_from_camera"], np.float64)[:3, 3] if cams["frames"] else None


def _add_objects(server, scene, viewer: Viewer) -> None:
    import trimesh

    for b in scene.bodies:
        frame = server.scene.add_frame(f"/objects/{b.name}", show_axes=False, position=np.asarray(b.position), wxyz=np.asarray(b.quaternion))
        viewer.objects[b.name] = frame
        rgba = (b.appearance or {}).get("rgba") or [0.8, 0.8, 0.8, 1.0]
        if b.visual:
            m = trimesh.load(scene.asset(b.visual), process=False, force="mesh")
            server.scene.add_mesh_simple(
                f"/objects/{b.name}/mesh", np.asarray(m.vertices, np.float32) * b.scale, np.asarray(m.faces, np.uint32),
                color=tuple(int(255 * c) for c in rgba[:3]),
            )  # fmt: skip
        for k, hull in enumerate(b.collision):
            h = trimesh.load(scene.asset(hull), process=False, force="mesh")
            viewer.hulls.append(
                server.scene.add_mesh_simple(
                    f"/objects/{b.name}/hulls/hull_{k:03d}", np.asarray(h.vertices, np.float32) * b.scale, np.asarray(h.faces, np.uint32),
                    color=(255, 60, 60), opacity=0.5, visible=False,
                )
            )  # fmt: skip
        top = float(b.inertial["center_of_mass"][2]) + 0.08
        server.scene.add_label(f"/objects/{b.name}/label", physics_text(b), position=(0.0, 0.0, top))


def open_viewer(workspace, host: str = "127.0.0.1", port: int = 8080, splat: bool = True) -> Viewer:
    """Start the viewer of ``workspace`` (its check or export scene). Raises when viser is
    missing or the workspace has no exported scene."""
    viser = _viser()
    from splat2sim.scene import load

    workspace = Path(workspace)
    scene = load(workspace)
    with contextlib.redirect_stdout(io.StringIO()):  # viser prints a banner; the CLI prints the URL
        server = viser.ViserServer(host=host, port=port, label=f"splat2sim: {workspace.name}", verbose=False)
    url = f"http://{host}:{server.get_port()}"
    viewer = Viewer(server=server, scene=scene, url=url)
    server.scene.set_up_direction("+z")
    plane = scene.environment.get("support_plane") or {}
    if plane:
        sx, sy = plane["size"]
        cx, cy = plane.get("center", [0.0, 0.0, 0.0])[:2]
        yaw = float(plane.get("yaw", 0.0))  # radians about +z; viser takes a (w, x, y, z) quaternion
        server.scene.add_box(
            "/support",
            color=(140, 115, 90),
            dimensions=(sx, sy, 0.01),
            position=(cx, cy, -0.005),
            wxyz=(math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)),
            visible=not splat,
        )
    if splat and (scene.splat or {}).get("file") and scene.asset(scene.splat["file"]).is_file():
        server.scene.add_gaussian_splats("/splat", **splat_arrays(scene.asset(scene.splat["file"])))
    _add_objects(server, scene, viewer)
    first = _add_cameras(server, workspace, Path(scene.root), viewer)
    centre = np.mean([b.position for b in scene.bodies], 0) if scene.bodies else np.zeros(3)
    server.initial_camera.look_at = centre
    server.initial_camera.up = (0.0, 0.0, 1.0)
    # above the first keyframe's viewpoint (looking down over the ring of filmed cameras, not
    # through the nearest one), else from above one side
    lift = np.array([1.2, 1.2, 2.5])
    server.initial_camera.position = centre + lift * (first - centre) if first is not None else centre + np.array([0.6, -0.6, 0.5])
    _add_gui(server, viewer)
    return viewer


def _add_gui(server, viewer: Viewer) -> None:
    hulls = server.gui.add_checkbox("collision hulls", initial_value=False)
    cams = server.gui.add_checkbox("keyframe cameras", initial_value=True)
    button = server.gui.add_button("settle in MuJoCo")
    status = server.gui.add_markdown(f"{len(viewer.objects)} objects")

    @hulls.on_update
    def _(_event) -> None:
        for h in viewer.hulls:
            h.visible = hulls.value

    @cams.on_update
    def _(_event) -> None:
        for handle in viewer.cameras:
            handle.visible = cams.value

    @button.on_click
    def _(_event) -> None:
        if viewer._animating.is_set():
            return
        button.disabled = True
        try:
            viewer.simulate()
            status.content = "settled in MuJoCo (2 s simulated)"
        except Exception as exc:  # shown in the page: the viewer keeps running
            status.content = f"simulation failed: {exc}"
        finally:
            button.disabled = False
