"""Domain randomization of a Scene: poses resampled on the support surface without overlap
(and settled in MuJoCo), uniform scale jitter, mass / friction / restitution drawn from the
physics ranges, colour and lighting variation. Variant ``i`` of seed ``s`` depends only on
(s, i), so a training loop and the variants stage draw the same scenes.

    for scene in generate(base, seed=0):        # endless
        model, data = scene.to_mujoco()
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from splat2sim.errors import StageError
from splat2sim.geometry.transforms import matrix_to_quat
from splat2sim.scene.schema import SceneData


@dataclass
class RandomizeSettings:
    resample_poses: bool = True
    scale_jitter: float = 0.05  # uniform scale in [1 - j, 1 + j]
    colour_jitter: float = 0.2  # per-channel multiplier in [1 - c, 1 + c]
    light_jitter: float = 0.3  # light intensity multiplier in [1 - l, 1 + l], direction tilt up to l rad
    margin: float = 0.05  # keep objects this far inside the support surface (m)
    gap: float = 0.01  # least gap between object footprints (m)
    settle_seconds: float = 1.0  # MuJoCo settling after placement (0 = do not settle)
    max_tries: int = 500
    brightness_jitter: float = 0.2  # splat render: brightness multiplier in [1 - b, 1 + b]
    camera_jitter_m: float = 0.01  # splat render: camera shift N(0, m) per axis (its own frame)
    camera_jitter_deg: float = 1.0  # splat render: camera rotation vector N(0, deg) per axis


def _footprint(scene: SceneData, body) -> tuple[float, float]:
    """(radius of the hulls around the body origin in xy, lowest hull z) at scale 1."""
    import trimesh

    pts = np.concatenate([np.asarray(trimesh.load(scene.asset(h), process=False, force="mesh").vertices) for h in body.collision])
    return float(np.linalg.norm(pts[:, :2], axis=1).max()), float(pts[:, 2].min())


def _uniform(rng, lo_hi, fallback):
    if not lo_hi:
        return float(fallback)
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    return float(rng.uniform(min(lo, hi), max(lo, hi))) if hi != lo else lo


def sample_variant(
    base: SceneData, seed: int, index: int, settings: RandomizeSettings | None = None, footprints: dict | None = None
) -> tuple[SceneData, dict]:
    """(variant Scene, every sampled value). The variant keeps ``base.root`` (asset paths)."""
    from splat2sim.scene.mjcf import DEFAULT_LIGHTS

    s = settings or RandomizeSettings()
    rng = np.random.default_rng([int(seed), int(index)])
    scene = base.copy()
    footprints = footprints or {b.name: _footprint(base, b) for b in base.bodies}
    sampled: dict = {"seed": int(seed), "index": int(index), "bodies": {}, "lights": []}
    for b in scene.bodies:
        scale = float(rng.uniform(1 - s.scale_jitter, 1 + s.scale_jitter)) if s.scale_jitter > 0 else 1.0
        m0 = float(b.inertial["mass"])
        rel = scale  # relative to the base scene's scale
        mass = _uniform(rng, b.ranges.get("mass"), m0) * rel**3  # the range is for the base size; mass goes with volume
        inertia = np.asarray(b.inertial["inertia"], np.float64) * (mass / m0) * rel**2
        com = (np.asarray(b.inertial["center_of_mass"], np.float64) * rel).tolist()
        friction = _uniform(rng, b.ranges.get("friction"), b.contact.get("friction", 0.5))
        restitution = _uniform(rng, b.ranges.get("restitution"), b.contact.get("restitution", 0.0))
        base_rgba = np.asarray((b.appearance or {}).get("rgba") or [1.0, 1.0, 1.0, 1.0], np.float64)
        tint = rng.uniform(1 - s.colour_jitter, 1 + s.colour_jitter, 3) if s.colour_jitter > 0 else np.ones(3)
        rgba = [*np.clip(base_rgba[:3] * tint, 0.0, 1.0).round(4).tolist(), float(base_rgba[3])]
        b.scale = b.scale * rel
        b.inertial = {"mass": mass, "center_of_mass": com, "inertia": inertia.tolist()}
        b.contact = {**b.contact, "friction": friction, "static_friction": friction, "dynamic_friction": friction, "restitution": restitution}
        b.appearance = {"rgba": rgba}
        sampled["bodies"][b.name] = {"scale": b.scale, "mass": mass, "friction": friction, "restitution": restitution, "rgba": rgba,
                                     "tint": np.round(tint, 5).tolist()}  # fmt: skip
    if s.resample_poses:
        _place(scene, rng, s, footprints, sampled)
    lights = []
    for li in DEFAULT_LIGHTS:
        gain = float(rng.uniform(1 - s.light_jitter, 1 + s.light_jitter))
        tilt = rng.normal(0, s.light_jitter / 2, 2)
        d = np.asarray(li["dir"], np.float64) + np.array([tilt[0], tilt[1], 0.0])
        light = {
            "pos": li["pos"],
            "dir": (d / np.linalg.norm(d)).round(5).tolist(),
            "diffuse": np.clip(np.asarray(li["diffuse"]) * gain, 0, 1).round(4).tolist(),
            "castshadow": li["castshadow"],
        }
        lights.append(light)
        sampled["lights"].append({"gain": gain, "dir": light["dir"]})
    scene.environment = {**scene.environment, "lights": lights}
    from splat2sim.scene.appearance import sample_appearance

    # its own stream, so the physics and mesh draws stay those of (seed, index) without it
    sampled["appearance"] = sample_appearance(np.random.default_rng([int(seed), int(index), 1]), {n: v["tint"] for n, v in sampled["bodies"].items()},
                                              brightness_jitter=s.brightness_jitter, colour_jitter=s.colour_jitter,
                                              camera_jitter_m=s.camera_jitter_m, camera_jitter_deg=s.camera_jitter_deg)  # fmt: skip
    if s.settle_seconds > 0 and scene.bodies:
        sampled["settle"] = settle_in_place(scene, s.settle_seconds)
    sampled["settings"] = asdict(s)
    return scene, sampled


def _place(scene: SceneData, rng, s: RandomizeSettings, footprints: dict, sampled: dict) -> None:
    from splat2sim.geometry.rectangle import world_xy

    plane = scene.environment["support_plane"]
    sx, sy = plane["size"]
    placed: list[tuple[np.ndarray, float]] = []
    left_out: list[dict] = []
    for b in scene.bodies:
        radius, low = footprints[b.name]
        radius *= b.scale
        half = np.array([sx / 2 - s.margin - radius, sy / 2 - s.margin - radius])
        if np.any(half <= 0):  # a crowded or oddly scaled scene places what fits and says what did not
            left_out.append({"body": b.name, "why": f"its footprint (radius {radius:.3g} m) does not fit on the support surface"})
            continue
        for _ in range(s.max_tries):
            xy = world_xy(plane, rng.uniform(-half, half))[0]  # drawn in the support's own axes (it may have a yaw)
            if all(np.linalg.norm(xy - p) >= radius + r + s.gap for p, r in placed):
                break
        else:
            left_out.append({"body": b.name, "why": f"no free place without overlap in {s.max_tries} tries (the support is crowded)"})
            continue
        yaw = float(rng.uniform(-math.pi, math.pi))
        placed.append((xy, radius))
        c, si = math.cos(yaw), math.sin(yaw)
        b.position = [float(xy[0]), float(xy[1]), float(-low * b.scale)]
        b.quaternion = matrix_to_quat(np.array([[c, -si, 0], [si, c, 0], [0, 0, 1.0]]))
        sampled["bodies"][b.name].update({"position": b.position, "yaw": yaw})
    gone = {x["body"] for x in left_out}
    scene.bodies = [b for b in scene.bodies if b.name not in gone]
    sampled["left_out"] = left_out


def settle_in_place(scene: SceneData, seconds: float) -> dict:
    """Settle the scene in MuJoCo and write the rest poses back into it."""
    from splat2sim.scene.simulators import load_scene_model
    from splat2sim.sim.mujoco_sim import settle_mujoco

    model, data = load_scene_model(scene)
    result = settle_mujoco(model, [b.name for b in scene.bodies], seconds, data=data)
    unstable = [b.name for b, r in zip(scene.bodies, result.bodies) if not r.finite]
    if unstable:
        raise StageError(f"variant bodies {', '.join(unstable)} did not settle in MuJoCo (non-finite state)", hint="check the base scene")
    for b, r in zip(scene.bodies, result.bodies):
        b.position = [float(v) for v in r.final_position]
        q = np.asarray(r.final_quaternion, np.float64)
        b.quaternion = (q / np.linalg.norm(q)).tolist()
    return {"seconds": seconds, "max_drift_mm": round(max((r.drift_mm for r in result.bodies), default=0.0), 3)}


def generate(base: SceneData, seed: int = 0, start: int = 0, count: int | None = None, **settings):
    """Yield (forever, or ``count`` times) randomized copies of ``base``; variant i depends only on (seed, i).
    Each yielded Scene carries its sampled values in ``scene.provenance["variant"]``."""
    s = RandomizeSettings(**settings)
    footprints = footprints_of(base)
    index = start
    while count is None or index < start + count:
        yield make_variant(base, seed, index, s, footprints)
        index += 1


def footprints_of(base: SceneData) -> dict:
    """Per body (footprint radius, lowest point) of its hulls: what placement needs."""
    return {b.name: _footprint(base, b) for b in base.bodies}


def make_variant(base: SceneData, seed: int, index: int, settings: RandomizeSettings, footprints: dict):
    """Variant ``index`` of ``base`` (depends only on seed and index), its sampled values in
    ``scene.provenance["variant"]``; raises StageError when MuJoCo cannot settle it."""
    scene, sampled = sample_variant(base, seed, index, settings, footprints)
    scene.provenance = {**base.provenance, "variant": sampled}
    return scene
