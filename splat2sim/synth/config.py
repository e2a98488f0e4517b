"""Settings of a synthetic capture: one plain dataclass, nothing imported that is heavy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from splat2sim.errors import ConfigError

#: Everyday object kinds: what a seed draws from unless ``kind_pool`` says otherwise (so the
#: captures of existing seeds never change when a kind is added).
OBJECT_KINDS: tuple[str, ...] = ("box", "can", "mug", "bowl", "ball", "bottle")
#: Kinds that are hard for segmentation and meshing: thin (a spatula-like slab under 2 cm,
#: a plate), small (a ball under 4.5 cm across), long and lying down (a bottle on its side).
HARD_KINDS: tuple[str, ...] = ("spatula", "plate", "small_ball", "bottle_lying")
#: Every kind the generator can build.
ALL_KINDS: tuple[str, ...] = OBJECT_KINDS + HARD_KINDS


@dataclass(frozen=True)
class MeshFile:
    """An object loaded from a mesh file (e.g. YCB ``textured.obj``) with a known mass.

    The mesh is in metres in its own frame; a ``texture_map.png`` (or the PNG its MTL file
    names) beside it is used when present.
    """

    path: str
    mass: float  # kg
    name: str


@dataclass
class SynthConfig:
    seed: int = 0
    # Procedural objects: how many (None = 2-5 chosen by the seed) and of which kinds.
    # ``object_kinds`` given explicitly (e.g. ["mug", "box"]) are built in that order and
    # fix the count; otherwise kinds are drawn by the seed from ``kind_pool`` (None =
    # ``OBJECT_KINDS``; e.g. ``list(ALL_KINDS)`` for the hard captures).
    num_objects: int | None = None
    object_kinds: list[str] | None = None
    kind_pool: list[str] | None = None
    # Extra objects from mesh files: MeshFile or (path, mass, name) tuples.
    mesh_files: list[MeshFile | tuple[str, float, str]] = field(default_factory=list)
    touching: bool = False  # place some objects in contact with a neighbour
    # The gap (metres) a ``touching`` pair is slid to, drawn uniformly from this range:
    # (0.001, 0.001) is contact; (0.001, 0.03) mixes contact with pairs 1-3 cm apart.
    touch_gap_range: tuple[float, float] = (0.001, 0.001)
    near_edge: bool = False  # put one object 2-5 cm from the table's edge
    low_texture: bool = False  # objects in one flat colour (slight shading noise only)
    # ArUco marker lying on the table.
    marker: bool = True
    marker_dictionary: str = "DICT_4X4_50"
    marker_id: int = 0
    marker_size: float = 0.08  # metres, side of the black square (the white border is extra)
    # Video.
    width: int = 640
    height: int = 480
    fps: int = 30
    duration_s: float = 6.0
    fovy_deg: float = 50.0  # vertical field of view (a phone held in landscape)
    crf: int = 16  # x264 constant-rate factor: low enough that the video is near lossless
    # Handheld orbit around the scene centre.
    orbit_radius: float = 0.75  # metres, horizontal distance from the scene centre
    orbit_height: float = 0.45  # metres above the table top
    orbit_arc_deg: float = 120.0  # how much of a circle the phone travels (360 = full orbit)
    shake: float = 1.0  # hand-shake amplitude scale (1 = typical hand, 0 = tripod-smooth)
    # Appearance.
    texture_size: int = 1024  # pixels per side of room textures (objects use half)
    shadows: bool = True
    settle_seconds: float = 1.5  # simulated time for the objects to come to rest

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for kinds in (self.object_kinds, self.kind_pool):
            bad = [k for k in kinds or [] if k not in ALL_KINDS]
            if bad:
                raise ConfigError(f"unknown object kind(s) {bad}", hint=f"choose from {', '.join(ALL_KINDS)}")
        if self.kind_pool is not None and not self.kind_pool:
            raise ConfigError("kind_pool is empty", hint="list at least one kind, or leave it unset for the everyday kinds")
        lo, hi = self.touch_gap_range
        if not 0.0005 <= lo <= hi <= 0.1:
            raise ConfigError(f"touch_gap_range={self.touch_gap_range} is out of range", hint="use 0.0005 <= low <= high <= 0.1 metres")
        if self.num_objects is not None and not 0 <= self.num_objects <= 8:
            raise ConfigError(f"num_objects={self.num_objects} is out of range", hint="use 0-8 objects")
        if self.width < 16 or self.height < 16:
            raise ConfigError(f"image size {self.width}x{self.height} is too small", hint="use at least 16x16")
        if self.width % 2 or self.height % 2:
            raise ConfigError(
                f"image size {self.width}x{self.height} has an odd side",
                hint="H.264 with yuv420p needs even width and height",
            )
        if self.fps <= 0 or self.duration_s <= 0:
            raise ConfigError("fps and duration_s must be positive", hint="e.g. fps=30, duration_s=6")
        if not 0.0 < self.orbit_arc_deg <= 360.0:
            raise ConfigError(f"orbit_arc_deg={self.orbit_arc_deg} is out of range", hint="use (0, 360]")
        if self.orbit_radius <= 0.2 or self.orbit_height <= 0.05:
            raise ConfigError("the orbit is too close to the table", hint="orbit_radius > 0.2 m, orbit_height > 0.05 m")
        if self.marker_size <= 0:
            raise ConfigError("marker_size must be positive", hint="the default is 0.08 m")
        if not 0.0 <= self.shake <= 5.0:
            raise ConfigError(f"shake={self.shake} is out of range", hint="use 0-5 (1 = typical hand)")

    @property
    def num_frames(self) -> int:
        return max(1, int(round(self.duration_s * self.fps)))

    def resolved_mesh_files(self) -> list[MeshFile]:
        out = []
        for item in self.mesh_files:
            if isinstance(item, MeshFile):
                out.append(item)
            else:
                path, mass, name = item
                out.append(MeshFile(str(Path(path)), float(mass), str(name)))
        return out

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["mesh_files"] = [dataclasses.asdict(m) for m in self.resolved_mesh_files()]
        return d
