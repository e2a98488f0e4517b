"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.collision.config import CollisionConfig
from splat2sim.stages.frames.config import FramesConfig
from splat2sim.stages.mesh.config import MeshConfig
from splat2sim.stages.splat.config import SplatConfig
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
            name="mesh",
            version=1,
            description="watertight visual meshes per object, background mesh, support plane",
            upstream=("poses", "splat", "segment"),
            config_cls=MeshConfig,
            runner="splat2sim.stages.mesh.run:run",
        ),
        StageSpec(
            name="collision",
            version=1,
            description="convex collision hulls per object (CoACD)",
            upstream=("mesh",),
            config_cls=CollisionConfig,
            runner="splat2sim.stages.collision.run:run",
            global_keys=("seed",),
        ),
    ]
}

__all__ = ["STAGES", "StageSpec", "StageContext"]
