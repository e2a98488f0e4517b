"""The procedural objects of a synthetic scene (box, can, ball, bottle, bowl, mug), each
in its own frame (origin at the centre of its base, +z up) with a realistic mass."""

from __future__ import annotations

import numpy as np

from splat2sim.synth.mesh_builders import box, lathe, swept_tube
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


BUILDERS = {"box": make_box, "can": make_can, "mug": make_mug, "bowl": make_bowl, "ball": make_ball, "bottle": make_bottle}


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
