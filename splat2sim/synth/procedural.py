"""The procedural objects of a synthetic scene, each in its own frame (origin at the centre
of its base, +z up) with a realistic mass: the everyday kinds (box, can, ball, bottle, bowl,
mug) and the hard ones segmentation and meshing must also handle (a spatula-like slab
under 2 cm thick, a plate, a ball under 4.5 cm across, a bottle lying on its side)."""

from __future__ import annotations

import numpy as np

from splat2sim.synth.mesh_builders import box, extrude, lathe, swept_tube
from splat2sim.synth.mesh_core import Mesh, concatenate, signed_volume


def _bevel_cylinder_profile(radius: float, height: float, bevel: float) -> list[tuple[float, float]]:
    return [(0, 0), (radius - bevel, 0), (radius, bevel), (radius, height - bevel), (radius - bevel, height), (0, height)]


def make_box(rng: np.random.Generator) -> tuple[Mesh, dict]:
    size = (rng.uniform(0.05, 0.12), rng.uniform(0.04, 0.09), rng.uniform(0.04, 0.16))
    return box(size), {"size": list(size), "mass_density_range": (150.0, 450.0)}


def make_can(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.028, 0.04), rng.uniform(0.09, 0.13)
    profile = np.array(_bevel_cylinder_profile(r, h, 0.003))
    return lathe(profile), {"radius": r, "height": h, "mass_density_range": (850.0, 1000.0)}


def make_ball(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r = rng.uniform(0.03, 0.05)
    a = np.linspace(-np.pi / 2, np.pi / 2, 17)
    profile = np.stack([r * np.cos(a), r + r * np.sin(a)], -1)
    profile[0, 0] = profile[-1, 0] = 0.0
    return lathe(profile, 32), {"radius": r, "mass_density_range": (250.0, 700.0)}


def make_bottle(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.03, 0.04), rng.uniform(0.18, 0.24)
    neck = rng.uniform(0.012, 0.016)
    shoulder0, shoulder1 = 0.6 * h, 0.8 * h
    s = np.linspace(0, 1, 8)[1:-1]
    shoulder = [(neck + (r - neck) * (0.5 + 0.5 * np.cos(np.pi * t)), shoulder0 + (shoulder1 - shoulder0) * t) for t in s]
    profile = [(0, 0), (r - 0.004, 0), (r, 0.004), (r, shoulder0)] + shoulder + [(neck, shoulder1), (neck, h - 0.002), (neck - 0.002, h), (0, h)]
    return lathe(np.array(profile)), {"radius": r, "height": h, "neck_radius": neck, "mass_density_range": (700.0, 950.0)}


def make_bowl(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.065, 0.085), rng.uniform(0.045, 0.065)
    t, foot = 0.005, 0.55 * r
    a = np.linspace(0, 1, 10)
    outer = [(foot + (r - foot) * np.sin(x * np.pi / 2), h * (1 - np.cos(x * np.pi / 2))) for x in a]
    inner = [(foot - t + (r - t - foot + t) * np.sin(x * np.pi / 2), t + (h - t) * (1 - np.cos(x * np.pi / 2))) for x in a[::-1]]
    profile = [(0, 0)] + outer + inner + [(0, t)]
    return lathe(np.array(profile)), {"radius": r, "height": h, "wall": t, "mass_density_range": None, "mass_range": (0.2, 0.45)}


def make_mug(rng: np.random.Generator) -> tuple[Mesh, dict]:
    r, h = rng.uniform(0.037, 0.045), rng.uniform(0.085, 0.105)
    t, tb = 0.005, 0.008  # wall and base thickness
    profile = [(0, 0), (r - 0.004, 0), (r, 0.004), (r, h), (r - t, h), (r - t, tb + 0.003), (r - t - 0.003, tb), (0, tb)]
    body = lathe(np.array(profile))
    # Handle: a D-shaped tube whose capped ends sit inside the wall (not in the cavity),
    # so the union stays closed and the cavity stays open.
    z_top, z_bot = 0.8 * h, 0.3 * h
    tube_r = min(0.0065, 0.2 * (z_top - z_bot))
    reach = rng.uniform(0.022, 0.03)
    x_in, x_out = r - t / 2, r + 0.006
    zc, half = (z_top + z_bot) / 2, (z_top - z_bot) / 2
    ang = np.linspace(np.pi / 2, -np.pi / 2, 21)
    arc = np.stack([x_out + reach * np.cos(ang), np.zeros_like(ang), zc + half * np.sin(ang)], -1)
    lead_in = np.stack([np.linspace(x_in, x_out, 4)[:-1], np.zeros(3), np.full(3, z_top)], -1)
    lead_out = np.stack([np.linspace(x_out, x_in, 4)[1:], np.zeros(3), np.full(3, z_bot)], -1)
    handle = swept_tube(np.concatenate([lead_in, arc, lead_out]), tube_r)
    # The handle takes the top-right corner of the texture's v range: scale its UVs.
    handle.uvs = handle.uvs * [1.0, 0.2] + [0.0, 0.8]
    return concatenate([body, handle]), {
        "radius": r,
        "height": h,
        "wall": t,
        "handle_reach": reach,
        "mass_density_range": None,
        "mass_range": (0.3, 0.4),
    }


def make_spatula(rng: np.random.Generator) -> tuple[Mesh, dict]:
    """A flat spatula lying on the table: a blade and a narrower handle, one slab 8-15 mm thick."""
    blade_l, blade_w = rng.uniform(0.06, 0.085), rng.uniform(0.05, 0.07)
    handle_l, handle_w = rng.uniform(0.12, 0.17), rng.uniform(0.018, 0.028)
    t = rng.uniform(0.008, 0.015)
    x0 = -(blade_l + handle_l) / 2  # centre the outline on the origin
    xb = x0 + handle_l  # where handle meets blade
    hw, bw = handle_w / 2, blade_w / 2
    # Counter-clockwise: handle end, handle/blade joint, blade, back along the other side.
    outline = [(x0, -hw), (xb, -hw), (xb, -bw), (xb + blade_l, -bw), (xb + blade_l, bw), (xb, bw), (xb, hw), (x0, hw)]
    # Handle as two triangles; the blade as a fan from its far corner over all six of its
    # corners (the joint's two points lie on the blade's near edge), so no T-junction.
    tris = [(0, 1, 6), (0, 6, 7), (3, 4, 5), (3, 5, 6), (3, 6, 1), (3, 1, 2)]
    return extrude(np.array(outline), np.array(tris), t), {
        "length": blade_l + handle_l,
        "blade_width": blade_w,
        "handle_width": handle_w,
        "thickness": t,
        "mass_density_range": (500.0, 900.0),
    }


def make_plate(rng: np.random.Generator) -> tuple[Mesh, dict]:
    """A shallow plate 14-18 mm high with a dished top and a foot ring."""
    r, h = rng.uniform(0.075, 0.1), rng.uniform(0.014, 0.018)
    foot, t = 0.6 * r, 0.005
    profile = [(0, 0.002), (foot, 0.002), (foot + 0.004, 0), (r - 0.006, 0.006), (r, h), (r - 0.006, h), (0.75 * r, t + 0.004), (0, t + 0.004)]
    mesh = lathe(np.array(profile))
    mesh.vertices[:, 2] -= mesh.vertices[:, 2].min()
    return mesh, {"radius": r, "height": h, "mass_density_range": (1800.0, 2400.0)}


def make_small_ball(rng: np.random.Generator) -> tuple[Mesh, dict]:
    """A ball 3.6-4.5 cm across (a ping-pong or golf ball): the smallest object a capture holds."""
    r = rng.uniform(0.018, 0.0225)
    a = np.linspace(-np.pi / 2, np.pi / 2, 13)
    profile = np.stack([r * np.cos(a), r + r * np.sin(a)], -1)
    profile[0, 0] = profile[-1, 0] = 0.0
    return lathe(profile, 24), {"radius": r, "mass_density_range": (100.0, 1100.0)}


def make_bottle_lying(rng: np.random.Generator) -> tuple[Mesh, dict]:
    """A bottle lying on its side: the upright bottle turned about y so its axis is +x,
    with the lowest point of its body on z = 0 and its centre of length on the origin."""
    mesh, dims = make_bottle(rng)
    v = mesh.vertices
    v = np.stack([v[:, 2], v[:, 1], -v[:, 0]], -1)  # z (axis) -> x; x -> -z
    v[:, 0] -= (v[:, 0].min() + v[:, 0].max()) / 2
    v[:, 2] -= v[:, 2].min()
    mesh.vertices = v
    return mesh, dims


BUILDERS = {
    "box": make_box,
    "can": make_can,
    "mug": make_mug,
    "bowl": make_bowl,
    "ball": make_ball,
    "bottle": make_bottle,
    "spatula": make_spatula,
    "plate": make_plate,
    "small_ball": make_small_ball,
    "bottle_lying": make_bottle_lying,
}


def make_object(kind: str, rng: np.random.Generator) -> tuple[Mesh, dict, float]:
    """Build one procedural object in its own frame (origin at the centre of its base,
    +z up); return the mesh, its dimensions and a realistic mass in kg."""
    mesh, dims = BUILDERS[kind](rng)
    dens = dims.pop("mass_density_range")
    mrange = dims.pop("mass_range", None)
    if dens is not None:
        mass = signed_volume(mesh) * rng.uniform(*dens)
    else:
        mass = rng.uniform(*mrange)
    return mesh, dims, float(round(mass, 4))
