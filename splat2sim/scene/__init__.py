"""The simulator-neutral scene (scene.json) and its exporters.

    from splat2sim.scene import load_scene, write_formats
    scene = load_scene("ws/export")            # validated Scene
    model, data = scene.to_mujoco()            # MuJoCo, in memory
    ids = scene.to_pybullet(client)            # pybullet, URDF_USE_INERTIA_FROM_FILE
    for variant in scene.variants(seed=0): ... # domain randomization on the fly

Exporters are pure functions of a Scene: ``mjcf.write_mjcf``, ``urdf.write_urdf``,
``usd.write_usd``, ``sdf.write_sdf``.
"""

from __future__ import annotations

from pathlib import Path

from splat2sim.scene.model import Body, Scene, load_scene, quat_angle_deg, save_scene, validate_scene

FORMATS = ("mjcf", "urdf", "usd", "sdf")


def write_formats(scene: Scene, out_dir, formats=FORMATS) -> dict[str, Path]:
    """Write every requested format of ``scene`` under ``out_dir`` (mjcf/, urdf/, usd/, sdf/).
    Asset paths stay relative to ``scene.root``. Returns {format: main file}."""
    out_dir = Path(out_dir)
    written = {}
    if "mjcf" in formats:
        from splat2sim.scene.mjcf import write_mjcf

        written["mjcf"] = write_mjcf(scene, out_dir / "mjcf")
    if "urdf" in formats:
        from splat2sim.scene.urdf import write_urdf

        written["urdf"] = write_urdf(scene, out_dir / "urdf")
    if "usd" in formats:
        from splat2sim.scene.usd import write_usd

        written["usd"] = write_usd(scene, out_dir / "usd")
    if "sdf" in formats:
        from splat2sim.scene.sdf import write_sdf

        written["sdf"] = write_sdf(scene, out_dir / "sdf")
    return written


def load(workspace_or_scene) -> Scene:
    """The best scene of a workspace (check's repaired scene if there is one, else export's),
    or a scene.json / its folder."""
    path = Path(workspace_or_scene)
    for candidate in (path / "check" / "scene.json", path / "export" / "scene.json", path / "scene.json", path):
        if candidate.is_file():
            return load_scene(candidate)
    return load_scene(path)


__all__ = ["Body", "FORMATS", "Scene", "load", "load_scene", "quat_angle_deg", "save_scene", "validate_scene", "write_formats"]
