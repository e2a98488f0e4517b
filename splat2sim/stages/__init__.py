"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.frames.config import FramesConfig
from splat2sim.stages.splat.config import SplatConfig
from splat2sim.stages.poses.config import PosesConfig
from splat2sim.stages.export.config import ExportConfig
from splat2sim.stages.check.config import CheckConfig


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
    ]
}


# The simulation stages. Each is registered once every stage it reads is registered, so that
# `build` lists it as not implemented (instead of failing) while an upstream stage is missing.
SIMULATION_STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in [
        StageSpec(
            name="export",
            version=1,
            description="scene.json and MJCF, URDF, USD, SDFormat scenes, the splat, provenance",
            upstream=("poses", "splat", "segment", "mesh", "collision", "physics"),
            config_cls=ExportConfig,
            runner="splat2sim.stages.export.run:run",
        ),
        StageSpec(
            name="check",
            version=1,
            description="load and settle every format; repair what is repairable",
            upstream=("export",),
            config_cls=CheckConfig,
            runner="splat2sim.stages.check.run:run",
        ),
    ]
}
for _spec in SIMULATION_STAGES.values():
    if all(name in STAGES for name in _spec.upstream):
        STAGES[_spec.name] = _spec

__all__ = ["SIMULATION_STAGES", "STAGES", "StageSpec", "StageContext"]
