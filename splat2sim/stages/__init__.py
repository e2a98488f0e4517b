"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.frames.config import FramesConfig


def _frames_inputs(ctx: StageContext) -> dict[str, str]:
    from splat2sim.stages.frames.inputs import input_fingerprint

    return input_fingerprint(ctx)


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
    ]
}

__all__ = ["STAGES", "StageSpec", "StageContext"]
