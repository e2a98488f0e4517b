"""A Gymnasium-style environment on an exported scene: MuJoCo physics, the splat as the camera.

    .venv/bin/python examples/splat_push_env.py WORKSPACE [--out push.mp4] [--width 320 --height 240 --steps 40]

``SplatPushEnv`` has the Gymnasium API's shape without depending on it: ``reset(seed)``
-> (observation, info), ``step(action)`` -> (observation, reward, terminated, truncated,
info), ``render()`` (MuJoCo's view of the same camera) and ``close()``. The physics is
the workspace's exported MJCF (mjcf/scene.xml) plus a kinematic pusher (a mocap capsule);
the action is the pusher's velocity in the table plane (m/s, clipped to ``max_speed``).
Observations are SplatCamera renders of the simulated state from a filmed keyframe:
{"rgb": [H,W,3] uint8, "depth": [H,W] float32 metres, "object_ids": [H,W] int16}. The
reward is the target's progress along the push direction (metres this step).

Run as a script it plays a scripted push of one object (the pusher starts behind it and
drives through it, away from the camera) and writes an mp4 with the splat render and
MuJoCo's render side by side.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from splat2sim.scene import load  # noqa: E402

PUSHER_RADIUS, PUSHER_HALF_LENGTH = 0.012, 0.02  # metres: a vertical capsule, 1 cm over the table


class SplatPushEnv:
    """Push one object of an exported scene with a kinematic pusher (see the module docstring)."""

    def __init__(self, workspace, *, camera: str = "keyframe_000", width: int = 160, height: int = 120, target: str | None = None,
                 control_dt: float = 0.05, max_speed: float = 0.2, max_steps: int = 100):  # fmt: skip
        self.scene = load(workspace)
        self.camera_name, self.width, self.height = camera, width, height
        self.control_dt, self.max_speed, self.max_steps = control_dt, max_speed, max_steps
        self.splat = self.scene.camera()
        movable = [b for b in self.scene.bodies if b.splat]
        if not movable:
            raise ValueError(f"{workspace}: the scene has no object with a splat to push")
        self.target = target or movable[0].name
        xml = self.scene.root / "mjcf" / "scene.xml"
        spec = mujoco.MjSpec.from_file(str(xml))
        if spec.camera(camera) is None:  # exported before the MJCF carried the keyframe cameras (export v4)
            _add_keyframe_camera(spec, self.splat, camera)
        pusher = spec.worldbody.add_body(name="pusher", mocap=True, pos=[0, 0, -1])
        pusher.add_geom(name="pusher", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[PUSHER_RADIUS, PUSHER_HALF_LENGTH, 0], rgba=[0.9, 0.2, 0.2, 1])
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.substeps = max(1, round(control_dt / self.model.opt.timestep))
        self.renderer = mujoco.Renderer(self.model, height=height, width=width)
        pose, _k, _w, _h = self.splat.keyframe(camera)
        forward = pose[:3, 2].copy()  # the camera's viewing direction
        forward[2] = 0.0
        self.direction = forward / max(np.linalg.norm(forward), 1e-9)  # [3] push away from the camera, in the table plane
        local = self.splat._objects[self.splat.names.index(self.target)]["means"]  # [N,3] the target's Gaussians, body frame
        self.reach = float(np.percentile(np.linalg.norm(local[:, :2], axis=1), 95))  # its radius in the table plane
        self.rng = np.random.default_rng(0)
        self.steps = 0

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        mujoco.mj_resetData(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        side = np.cross([0.0, 0.0, 1.0], self.direction)
        start = self._target_xy() - self.direction[:2] * (self.reach + PUSHER_RADIUS + 0.02) + side[:2] * self.rng.uniform(-0.005, 0.005)
        self.data.mocap_pos[0] = [start[0], start[1], 0.01 + PUSHER_HALF_LENGTH + PUSHER_RADIUS]
        mujoco.mj_forward(self.model, self.data)
        self.steps = 0
        self.start_xy = self._target_xy()
        return self._observation(), self._info()

    def step(self, action):
        v = np.clip(np.asarray(action, np.float64).reshape(2), -self.max_speed, self.max_speed)  # [2] m/s in the table plane
        before = self._target_xy()
        for _ in range(self.substeps):
            self.data.mocap_pos[0, :2] += v * self.model.opt.timestep
            mujoco.mj_step(self.model, self.data)
        self.steps += 1
        progress = float((self._target_xy() - before) @ self.direction[:2])
        fell = bool(self.data.body(self.target).xpos[2] < -0.05)
        return self._observation(), progress, fell, self.steps >= self.max_steps, self._info()

    def render(self) -> np.ndarray:
        """[H,W,3] uint8: MuJoCo's render from the same keyframe camera (pusher included)."""
        self.renderer.update_scene(self.data, camera=self.camera_name)
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()

    # ------------------------------------------------------------------ helpers
    def scripted_action(self) -> np.ndarray:
        """[2] the scripted push: straight on at 0.1 m/s."""
        return 0.1 * self.direction[:2]

    def _target_xy(self) -> np.ndarray:
        return self.data.body(self.target).xpos[:2].copy()

    def _observation(self) -> dict:
        frame = self.splat.render(self.data, camera=self.camera_name, width=self.width, height=self.height)
        return {"rgb": (frame.rgb * 255).round().astype(np.uint8), "depth": frame.depth, "object_ids": frame.object_ids}

    def _info(self) -> dict:
        xy = self._target_xy()
        return {"target": self.target, "target_xy": xy, "moved_m": float(np.linalg.norm(xy - self.start_xy)) if self.steps else 0.0}


def _add_keyframe_camera(spec, splat, name: str) -> None:
    from splat2sim.scene.keyframes import PIXEL_PITCH, mujoco_quat

    pose, (fx, fy, cx, cy), w, h = splat.keyframe(name)
    spec.worldbody.add_camera(name=name, pos=pose[:3, 3], quat=mujoco_quat(pose), resolution=[w, h], sensor_size=[w * PIXEL_PITCH, h * PIXEL_PITCH],
                              focal_pixel=[fx, fy], principal_pixel=[w / 2 - cx, h / 2 - cy])  # fmt: skip


def run_episode(workspace, out: Path, *, width: int = 320, height: int = 240, steps: int = 40, seed: int = 0, camera: str = "keyframe_000") -> dict:
    """The scripted push, written to ``out`` (mp4: splat | MuJoCo, side by side)."""
    from splat2sim.synth.video import VideoWriter

    env = SplatPushEnv(workspace, camera=camera, width=width, height=height, max_steps=steps)
    try:
        obs, info = env.reset(seed=seed)
        total = 0.0
        with VideoWriter(Path(out), 2 * width, height, fps=round(1 / env.control_dt)) as video:
            video.write(np.concatenate([obs["rgb"], env.render()], axis=1))
            for _ in range(steps):
                obs, reward, terminated, truncated, info = env.step(env.scripted_action())
                total += reward
                video.write(np.concatenate([obs["rgb"], env.render()], axis=1))
                if terminated or truncated:
                    break
        return {"target": info["target"], "moved_m": info["moved_m"], "progress_m": total, "frames": video.count, "video": str(out)}
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace")
    parser.add_argument("--out", type=Path, default=Path("push.mp4"))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--camera", default="keyframe_000")
    args = parser.parse_args()
    print(run_episode(args.workspace, args.out, width=args.width, height=args.height, steps=args.steps, camera=args.camera))


if __name__ == "__main__":
    main()
