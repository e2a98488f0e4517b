"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.frames.config import FramesConfig
from splat2sim.stages.splat.config import SplatConfig
from splat2sim.stages.physics.config import PhysicsConfig
from splat2sim.stages.poses.config import PosesConfig


def _frames_inputs(ctx: StageContext) -> dict[str, str]:
    from splat2sim.stages.frames.inputs import input_fingerprint

    return input_fingerprint(ctx)


def _poses_inputs(ctx: StageContext) -> dict[str, str]:
    if not ctx.config.import_path:
        return {}
    from splat2sim.stages.poses.importers import import_hash_files

    return {"import": ctx.workspace.hashes.tree_hash(import_hash_files(ctx.config.import_path))}


def _splat_inputs(ctx: StageContext) -> dict[str, str]:
    from pathlib import Path

    from splat2sim.errors import InputError

    if not ctx.config.import_ply:
        return {}
    path = Path(ctx.config.import_ply).expanduser()
    if not path.is_file():
        raise InputError(f"splat file {path} does not exist", hint="check splat.import_ply (or --splat)")
    return {"import_ply": ctx.workspace.hashes.file_hash(path)}


def _physics_inputs(ctx: StageContext) -> dict[str, str]:
    """The material table, the prompt and a user overrides file are inputs from outside."""
    from pathlib import Path

    from splat2sim.errors import ConfigError

    assets = Path(__file__).resolve().parents[1] / "assets"
    files = {"materials": assets / "materials.yaml", "prompt": assets / "prompts" / f"{ctx.config.prompt}.txt"}
    if ctx.config.overrides_file:
        files["overrides_file"] = Path(ctx.config.overrides_file).expanduser()
        if not files["overrides_file"].is_file():
            raise ConfigError(f"overrides file {files['overrides_file']} does not exist", hint="check physics.overrides_file")
    return {k: ctx.workspace.hashes.file_hash(p) for k, p in files.items() if p.is_file()}


STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in [
        StageSpec(
            name="frames",
            version=1,
            description="keyframes from the video or image folder",
            upstream=(),
            config_cls=FramesConfig,
            runner="splat2sim.stages.frames.run:run",
            input_hashes=_frames_inputs,
        ),
        StageSpec(
            name="poses",
            version=1,
            description="camera poses, gravity, origin and metric scale",
            upstream=("frames",),
            config_cls=PosesConfig,
            runner="splat2sim.stages.poses.run:run",
            input_hashes=_poses_inputs,
            global_keys=("seed",),
        ),
        StageSpec(
            name="splat",
            version=1,
            description="a Gaussian splat trained on the posed keyframes",
            upstream=("frames", "poses"),
            config_cls=SplatConfig,
            runner="splat2sim.stages.splat.run:run",
            input_hashes=_splat_inputs,
            global_keys=("seed", "device"),
        ),
        StageSpec(
            name="physics",
            version=1,
            description="material, mass, inertia, friction and restitution per object, with ranges",
            upstream=("frames", "poses", "segment", "mesh"),
            config_cls=PhysicsConfig,
            runner="splat2sim.stages.physics.run:run",
            input_hashes=_physics_inputs,
        ),
    ]
}

__all__ = ["STAGES", "StageSpec", "StageContext"]
