"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.frames.config import FramesConfig
from splat2sim.stages.poses.config import PosesConfig


def _frames_inputs(ctx: StageContext) -> dict[str, str]:
    from splat2sim.stages.frames.inputs import input_fingerprint

    return input_fingerprint(ctx)


def _poses_inputs(ctx: StageContext) -> dict[str, str]:
    if not ctx.config.import_path:
        return {}
    from splat2sim.stages.poses.importers import import_hash_files

    return {"import": ctx.workspace.hashes.tree_hash(import_hash_files(ctx.config.import_path))}


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
    ]
}

__all__ = ["STAGES", "StageSpec", "StageContext"]
