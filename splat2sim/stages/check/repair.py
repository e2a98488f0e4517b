"""Repairs of a scene before simulation; every repair is returned as a record."""

from __future__ import annotations

import numpy as np

from splat2sim.scene.model import Scene


def hull_vertices_world(scene: Scene, body) -> np.ndarray:
    import trimesh

    pts = []
    for hull in body.collision:
        m = trimesh.load(scene.asset(hull), process=False, force="mesh")
        pts.append(np.asarray(m.vertices) * body.scale)
    v = np.concatenate(pts)
    T = body.world_from_body()
    return v @ T[:3, :3].T + T[:3, 3]


def repair_inertia(scene: Scene) -> list[dict]:
    """Replace an unphysical inertia by the hulls' inertia at the body's mass."""
    import trimesh

    from splat2sim.geometry.inertia import check_inertia, mass_properties

    repairs = []
    for b in scene.bodies:
        problems = check_inertia(np.asarray(b.inertial["inertia"], np.float64), float(b.inertial["mass"]))
        if not problems:
            continue
        mass = float(b.inertial["mass"]) if b.inertial["mass"] > 0 else 0.1
        parts = []
        for hull in b.collision:
            m = trimesh.load(scene.asset(hull), process=False, force="mesh")
            parts.append(mass_properties(np.asarray(m.vertices) * b.scale, m.faces, 1.0))
        volume = sum(abs(p.volume) for p in parts)
        com = sum(abs(p.volume) * p.center_of_mass for p in parts) / volume
        inertia = np.zeros((3, 3))
        for p in parts:  # parallel axis to the common centre of mass; overlaps count twice (an approximation)
            d = p.center_of_mass - com
            inertia += p.inertia + abs(p.volume) * (d @ d * np.eye(3) - np.outer(d, d))
        inertia *= mass / volume
        repairs.append(
            {
                "body": b.name,
                "kind": "inertia",
                "why": "; ".join(problems),
                "before": {"mass": b.inertial["mass"], "center_of_mass": b.inertial["center_of_mass"], "inertia": b.inertial["inertia"]},
                "after": {"mass": mass, "center_of_mass": com.tolist(), "inertia": inertia.tolist()},
                "how": "inertia of the convex hulls (uniform density) at the body's mass",
            }
        )
        b.inertial = {"mass": mass, "center_of_mass": com.tolist(), "inertia": inertia.tolist()}
    return repairs


def repair_support(scene: Scene, tolerance_m: float) -> list[dict]:
    """Move objects that rest on the support plane (z = 0) so their lowest hull point touches it."""
    repairs = []
    for b in scene.bodies:
        if b.physics_source.get("support", "table") not in ("table", "support", None):
            continue
        low = float(hull_vertices_world(scene, b)[:, 2].min())
        if abs(low) > tolerance_m:
            b.position = [b.position[0], b.position[1], b.position[2] - low]
            repairs.append(
                {
                    "body": b.name,
                    "kind": "lift" if low < 0 else "lower",
                    "delta_mm": round(-low * 1000, 3),
                    "why": f"lowest hull point {low * 1000:+.2f} mm from the support surface",
                    "how": "moved vertically to rest on the support",
                }
            )
    return repairs


def repair_overlaps(scene: Scene, tolerance_m: float, max_rounds: int = 5) -> list[dict]:
    """Push apart objects whose hulls overlap at their exported poses (MuJoCo's collision
    detection finds the depth and normal); the lighter object moves, horizontally."""
    from splat2sim.scene.simulators import load_scene_model
    from splat2sim.sim.mujoco_sim import initial_penetrations

    repairs = []
    names = {b.name for b in scene.bodies}
    for _ in range(max_rounds):
        model, data = load_scene_model(scene)
        pairs = {}
        for c in initial_penetrations(model, data):
            if c["body1"] in names and c["body2"] in names and c["depth_m"] > tolerance_m:
                key = tuple(sorted((c["body1"], c["body2"])))
                if key not in pairs or pairs[key]["depth_m"] < c["depth_m"]:
                    pairs[key] = c
        if not pairs:
            break
        for c in pairs.values():
            b1, b2 = scene.body(c["body1"]), scene.body(c["body2"])
            mover, sign = (b2, 1.0) if b2.inertial["mass"] <= b1.inertial["mass"] else (b1, -1.0)
            n = np.asarray(c["normal"], np.float64)  # from geom1 to geom2
            n[2] = 0.0
            if np.linalg.norm(n) < 1e-6:
                d = np.asarray(b2.position) - np.asarray(b1.position)
                d[2] = 0.0
                n = d if np.linalg.norm(d) > 1e-9 else np.array([1.0, 0.0, 0.0])
            n = n / np.linalg.norm(n)
            step = (c["depth_m"] + 0.0005) * sign * n
            mover.position = (np.asarray(mover.position) + step).tolist()
            repairs.append(
                {
                    "body": mover.name,
                    "kind": "separate",
                    "other": (b1 if mover is b2 else b2).name,
                    "depth_mm": round(c["depth_m"] * 1000, 3),
                    "delta_mm": (step * 1000).round(3).tolist(),
                    "why": f"hulls overlap {c['depth_m'] * 1000:.2f} mm at the exported pose",
                    "how": "moved horizontally out of the overlap (re-decomposing with finer hulls is the alternative)",
                }
            )
    return repairs
