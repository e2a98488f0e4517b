"""Synthetic table-top captures with ground truth, for tests and benchmarks.

``generate_capture(out_dir, SynthConfig(seed=3))`` writes::

    out_dir/video.mp4            handheld orbit, H.264 yuv420p
    out_dir/ground_truth.json    poses, intrinsics, objects, marker (see ground_truth.py)
    out_dir/scene.xml            the MuJoCo model that was rendered (settled poses)
    out_dir/objects/<name>.obj   each object in its own frame (+ .mtl, .png)
    out_dir/assets/              room, table and marker meshes and textures

Everything is a deterministic function of the config (seed included).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Headless rendering: must be chosen before anything imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")

from splat2sim.errors import InputError, StageError
from splat2sim.geometry.transforms import intrinsics_from_fovy, mujoco_from_opencv_camera, opencv_from_mujoco_camera
from splat2sim.progress import NullReporter, Reporter
from splat2sim.synth import ground_truth as GT
from splat2sim.synth.config import ALL_KINDS, HARD_KINDS, OBJECT_KINDS, MeshFile, SynthConfig
from splat2sim.synth.mujoco_model import load_model, mjcf, settle, write_scene_assets
from splat2sim.synth.placement import place
from splat2sim.synth.scene import MARKER_THICKNESS, Marker, Scene, SceneObject, build_objects, marker_image
from splat2sim.synth.trajectory import orbit

__all__ = [
    "ALL_KINDS",
    "HARD_KINDS",
    "OBJECT_KINDS",
    "MeshFile",
    "SynthConfig",
    "SynthResult",
    "generate_capture",
    "intrinsics_from_fovy",
    "mujoco_from_opencv_camera",
    "opencv_from_mujoco_camera",
]


@dataclass
class SynthResult:
    out_dir: Path
    video: Path
    ground_truth: Path
    scene_xml: Path
    num_frames: int
    num_objects: int
    marker: bool
    seconds: float


def _lights(rng: np.random.Generator) -> list[dict]:
    """A key light with soft shadows, a fill light and a dim back light, all spots above."""
    out = []
    for k, (dist, z, power, shadow) in enumerate([(1.2, 2.0, 0.65, True), (1.8, 1.8, 0.35, False), (1.5, 2.2, 0.2, False)]):
        a = rng.uniform(0, 2 * np.pi)
        pos = np.array([dist * math.cos(a), dist * math.sin(a), z])
        d = -pos / np.linalg.norm(pos)
        tint = np.clip(power * (1 + rng.normal(0, 0.05, 3)), 0, 1)
        out.append({"pos": pos, "dir": d, "diffuse": tint, "cutoff": 55.0, "shadow": shadow, "bulbradius": 0.15})
    return out


def generate_capture(out_dir: str | Path, config: SynthConfig | None = None, reporter: Reporter | None = None) -> SynthResult:
    """Build, settle and film a random table-top scene; write the video and ground truth."""
    config = config or SynthConfig()
    config.validate()
    reporter = reporter or NullReporter()
    t0 = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} is a file", hint="give a folder for the synthetic capture")
    out.mkdir(parents=True, exist_ok=True)

    # Independent random streams per concern, so e.g. a longer video keeps the same scene.
    layout_rng, texture_rng, camera_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))

    scene = _layout_scene(config, layout_rng)
    xml_path = _build_and_settle(scene, out, config, texture_rng, reporter)
    n = config.num_frames
    poses = orbit(camera_rng, scene.center, n, config.fps, config.orbit_radius, config.orbit_height, config.orbit_arc_deg, config.shake)
    video_path = out / "video.mp4"
    _film(xml_path, poses, video_path, config, reporter)

    intr = intrinsics_from_fovy(config.fovy_deg, config.width, config.height)
    gt_path = out / "ground_truth.json"
    GT.write(gt_path, GT.build(scene, config, intr, poses, video_path.name, xml_path.name))
    return SynthResult(out, video_path, gt_path, xml_path, n, len(scene.objects), scene.marker is not None, time.perf_counter() - t0)


def _layout_scene(config: SynthConfig, rng: np.random.Generator) -> Scene:
    """Objects, table, marker card and lights, with the objects placed (not yet settled)."""
    objects = build_objects(config, rng)
    table_size = (float(rng.uniform(1.3, 1.6)), float(rng.uniform(0.85, 1.0)))
    table_height = float(rng.uniform(0.72, 0.78))
    marker_half = 0.0
    if config.marker:
        img = marker_image(config.marker_dictionary, config.marker_id)
        cells = img.shape[0] // 32  # marker cells plus the one-cell white border each side
        border = config.marker_size / (cells - 2)
        marker_half = config.marker_size / 2 + border
    pose = place(objects, marker_half, config, rng, table_size)
    marker = None
    if config.marker:
        marker = Marker(
            config.marker_dictionary,
            config.marker_id,
            config.marker_size,
            border,
            np.array([pose[0], pose[1], MARKER_THICKNESS]),
            float(pose[2]),
            img,
        )
    return Scene(
        objects,
        marker,
        table_size,
        table_height,
        room_half=float(rng.uniform(2.0, 2.6)),
        room_height=2.6,
        lights=_lights(rng),
        center=_scene_centre(objects, marker),
    )


def _scene_centre(objects: list[SceneObject], marker: Marker | None) -> np.ndarray:
    """The point the phone looks at: amid the objects and the marker, a little above the table."""
    pts = [o.position[:2] for o in objects] + ([marker.center[:2]] if marker is not None else [])
    centre_xy = np.mean(pts, axis=0) if pts else np.zeros(2)
    heights = [o.mesh.bounds[1, 2] - o.mesh.bounds[0, 2] for o in objects]
    return np.array([centre_xy[0], centre_xy[1], 0.4 * float(np.mean(heights)) if heights else 0.0])


def _build_and_settle(scene: Scene, out: Path, config: SynthConfig, texture_rng: np.random.Generator, reporter: Reporter) -> Path:
    """Write the assets and ``scene.xml``, settle the objects, and rewrite ``scene.xml``
    with the settled poses (the model as rendered). Returns its path."""
    with reporter.progress("Building scene", total=3) as task:
        write_scene_assets(scene, out, texture_rng, config)
        task.advance()
        xml_path = out / "scene.xml"
        xml_path.write_text(mjcf(scene, config))
        settle(xml_path, scene, config.settle_seconds)
        for o in scene.objects:
            if o.position[2] < -0.05:
                raise StageError(f"object {o.name!r} fell off the table while settling", hint="try another seed or fewer objects")
        task.advance()
        xml_path.write_text(mjcf(scene, config))  # the model as rendered: settled poses
        task.advance()
    return xml_path


def _film(xml_path: Path, poses: np.ndarray, video_path: Path, config: SynthConfig, reporter: Reporter) -> None:
    """Render the model from every pose and encode the frames into ``video_path``."""
    from splat2sim.synth.render import mujoco_module, render_rgb, renderer
    from splat2sim.synth.video import encode_in_fresh_process

    mujoco = mujoco_module()
    model = load_model(xml_path)
    data = mujoco.MjData(model)
    n = len(poses)
    # Render everything first, then encode in a fresh process (see video.encode_in_fresh_process:
    # x264 in this process gave different bytes from run to run). Frames wait in a .npy
    # file on disk, so long videos do not fill memory.
    raw_path = video_path.parent / ".frames.npy"
    shape = (n, config.height, config.width, 3)
    try:
        raw = np.lib.format.open_memmap(raw_path, mode="w+", dtype=np.uint8, shape=shape)
        with reporter.progress("Rendering", total=n) as task, renderer(model, config.width, config.height) as r:
            for k in range(n):
                raw[k] = render_rgb(r, model, data, poses[k])
                task.advance()
        raw.flush()
        del raw
        with reporter.progress("Encoding", total=1) as task:
            encode_in_fresh_process(raw_path, video_path, config.fps, config.crf)
            task.advance()
    finally:
        raw_path.unlink(missing_ok=True)
