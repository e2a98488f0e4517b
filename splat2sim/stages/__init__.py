"""The stage registry. Importing it is cheap: runners are imported only when they run."""

from __future__ import annotations

from splat2sim.stages.base import StageContext, StageSpec
from splat2sim.stages.check.config import CheckConfig
from splat2sim.stages.collision.config import CollisionConfig
from splat2sim.stages.export.config import ExportConfig
from splat2sim.stages.frames.config import FramesConfig
from splat2sim.stages.mesh.config import MeshConfig
from splat2sim.stages.physics.config import PhysicsConfig
from splat2sim.stages.poses.config import PosesConfig
from splat2sim.stages.report.config import ReportConfig
from splat2sim.stages.scale.config import ScaleConfig
from splat2sim.stages.segment.config import SegmentConfig
from splat2sim.stages.splat.config import SplatConfig
from splat2sim.stages.variants.config import VariantsConfig


def _frames_inputs(ctx: StageContext) -> dict[str, str]:
    from splat2sim.stages.frames.inputs import input_fingerprint

    return input_fingerprint(ctx)


def _poses_inputs(ctx: StageContext) -> dict[str, str]:
    if not ctx.config.import_path:
        return {}
    from splat2sim.stages.poses.importers import import_hash_files

    return {"import": ctx.workspace.hashes.tree_hash(import_hash_files(ctx.config.import_path))}


def _segment_inputs(ctx: StageContext) -> dict[str, str]:
    from splat2sim.stages.segment.inputs import input_hashes

    return input_hashes(ctx)


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
            version=2,  # 2: sparse SfM clouds filled with points back-projected from the views
            description="a Gaussian splat trained on the posed keyframes",
            upstream=("frames", "poses"),
            config_cls=SplatConfig,
            runner="splat2sim.stages.splat.run:run",
            input_hashes=_splat_inputs,
            global_keys=("seed", "device"),
        ),
        StageSpec(
            name="segment",
            version=16,  # 16: a broad, compact top is a peak of its own at half the prominence (segment.peak_broad: touching objects of different heights split); 15: solidity in the views per object: below segment.min_solidity (0.7) a cluster is rejected as seen through, below 0.8 an object has low confidence; 14: a height-map peak's prominence counts against its height above the margin, not above the support (a low bowl next to a ball splits); 13: objects lying flat are opt-in (segment.flat_objects), the colour split of 12 removed (it split a bowl in two on seed 111); 12: a flat region of two colours is split in two; 11: objects lying flat (raised and of another colour than the support: segment.flat); 10: a low cluster as high as it is wide stands (small balls), only a wide low one is a flat patch; 9: a stray or two past the support edge does not reject an object, standing_share in rejections; 8: extent_robust per object; 7: objects split in the views' fused height map, rejected by evidence (edge, density); 6: confidence
            description="objects split from the background, labelled",
            upstream=("frames", "poses", "splat"),
            config_cls=SegmentConfig,
            runner="splat2sim.stages.segment.run:run",
            input_hashes=_segment_inputs,
            global_keys=("device",),
        ),
        StageSpec(
            name="scale",
            version=4,  # 4: weak cues fused (object sizes + the camera's distance to the scene), a marker's sigma counts its square's irregularity; 3: a scale poses measured gets a range (marker views' spread, at least 2 %); 2: objects lying flat give no size cue
            description="the world's metric scale: from poses, or from weak cues (object sizes, camera distance), with a range",
            upstream=("poses", "segment"),
            config_cls=ScaleConfig,
            runner="splat2sim.stages.scale.run:run",
        ),
        StageSpec(
            name="mesh",
            version=9,  # 9: the support rectangle is the support layer's region under the objects, any yaw (it was the whole layer's extent, walls included: ~10x the table), and the background loses every face in the slab of its top; 8: the background keeps its surfaces by area (by volume it kept only closed specks and dropped the table), without the support top (the primitive stands for it); 7: TSDF truncation 5 voxels (was 3); 6: solid = what the whole splat never shows empty (median depth) in the object footprint; 5: meshes in metres (scale/scale.json applied)
            description="watertight visual meshes per object, background mesh, support plane",
            upstream=("poses", "splat", "segment", "scale"),
            config_cls=MeshConfig,
            runner="splat2sim.stages.mesh.run:run",
        ),
        StageSpec(
            name="collision",
            version=4,  # 4: the diagonal share of the convex tolerance applies to any rough surface (no p95/p50 noise test), capped at convex_tolerance_max; 3: CoACD cuts a closed proxy without the reconstruction's tunnels, threshold at least 2 proxy voxels; 2: near-convex objects get their hull without CoACD (decompose=auto)
            description="convex collision hulls per object (its hull, or CoACD where it is concave)",
            upstream=("mesh",),
            config_cls=CollisionConfig,
            runner="splat2sim.stages.collision.run:run",
            global_keys=("seed",),
        ),
        StageSpec(
            name="physics",
            version=3,  # 3: metric inputs, scale from the scale stage; 2: wall area at most the convex hull's; crops avoid hidden views
            description="material, mass, inertia, friction and restitution per object, with ranges",
            upstream=("frames", "poses", "segment", "scale", "mesh"),
            config_cls=PhysicsConfig,
            runner="splat2sim.stages.physics.run:run",
            input_hashes=_physics_inputs,
            caches=("vlm",),
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
            version=5,  # 5: USD as one SimReady prop per object (usd/props/); 4: a MuJoCo camera per keyframe in mjcf/scene.xml; 3: one metric frame (scale stage), keyframe cameras; 2: geometry scaled by physics' scale_from_sizes
            description="scene.json and MJCF, URDF, USD, SDFormat scenes, the splat, the keyframe cameras, provenance",
            upstream=("frames", "poses", "splat", "segment", "scale", "mesh", "collision", "physics"),
            config_cls=ExportConfig,
            runner="splat2sim.stages.export.run:run",
        ),
        StageSpec(
            name="check",
            version=2,  # 2: SimReady validation per prop (check.json simready)
            description="load and settle every format; repair what is repairable",
            upstream=("export",),
            config_cls=CheckConfig,
            runner="splat2sim.stages.check.run:run",
        ),
        StageSpec(
            name="variants",
            version=2,  # 2: an appearance record per variant (splat render: brightness, gain, tints, camera jitter)
            description="domain-randomized scenes in every format, each loaded and settled",
            upstream=("export", "check"),
            config_cls=VariantsConfig,
            runner="splat2sim.stages.variants.run:run",
        ),
        StageSpec(
            name="report",
            version=3,  # 3: metric scale section (its cues and their weights); 2: SimReady section
            description="report/index.html: renders, hulls, objects, scale, checks, warnings",
            upstream=("frames", "poses", "splat", "scale", "export", "check"),
            config_cls=ReportConfig,
            runner="splat2sim.stages.report.run:run",
        ),
    ]
}
for _spec in SIMULATION_STAGES.values():
    if all(name in STAGES for name in _spec.upstream):
        STAGES[_spec.name] = _spec

__all__ = ["SIMULATION_STAGES", "STAGES", "StageSpec", "StageContext"]
