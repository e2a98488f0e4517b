"""Mass from two sides: an estimate of the mass itself (VLM, user) and density x the measured
material volume, combined in log space with honest ranges; shell-aware mass properties for
hollow and thin-walled objects (mugs, bowls, empty boxes and bottles).

The material volume of an object depends on how it is filled:
- solid / bulk: the volume the closed mesh encloses (bulk = a container with contents, whose
  density is the average over the whole object);
- shell: thin walls. If the mesh already models the walls (a mug with its cavity, as a good
  reconstruction gives), the enclosed volume *is* the wall volume, and it is less than
  surface area x wall thickness (both faces of the wall are counted in the area). If the
  mesh is a closed outer surface with the cavity filled in (as reconstructions often are),
  area x thickness is much less than the enclosed volume: the shell is what has mass.
  So the material volume is min(enclosed volume, wall area x thickness), and inertia
  follows the same choice.
  The wall area is the mesh's area, but at most its convex hull's: a scan that models the
  cavity has both faces of the wall (about twice the wall's area), while its hull has the
  outer face and a lid over the opening. Either way a cup scanned with or without its
  cavity gets about the same shell mass, and never a double-counted wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from splat2sim.geometry.inertia import box_inertia, check_inertia, mass_properties, shell_mass_properties


@dataclass
class Geometry:
    vertices: np.ndarray  # [V,3] object frame, metres
    faces: np.ndarray  # [F,3]
    volume: float  # enclosed volume (m^3)
    area: float  # surface area (m^2)
    extents: np.ndarray  # [3] axis-aligned size in the object frame (m)
    bounds: np.ndarray  # [2,3]
    watertight: bool
    volume_sigma: float = 0.1  # log-space uncertainty of the measured volume
    notes: list[str] = field(default_factory=list)
    hull_area: float | None = None  # convex hull's surface area (m^2); None when degenerate

    @property
    def wall_area(self) -> float:
        """Area of a thin wall's outer face: the mesh's area, at most its convex hull's."""
        return min(self.area, self.hull_area) if self.hull_area else self.area

    def scaled(self, s: float) -> "Geometry":
        return Geometry(self.vertices * s, self.faces, self.volume * s**3, self.area * s**2, self.extents * s,
                        self.bounds * s, self.watertight, self.volume_sigma, list(self.notes),
                        None if self.hull_area is None else self.hull_area * s**2)  # fmt: skip


def geometry_from_mesh(vertices, faces, *, watertight: bool | None = None, volume: float | None = None) -> Geometry:
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())
    bounds = np.stack([v.min(0), v.max(0)])
    extents = bounds[1] - bounds[0]
    notes = []
    if watertight is None:
        watertight = _closed(f)
    if volume is None or not volume > 0:
        try:
            volume = abs(mass_properties(v, f).volume)
        except ValueError:
            volume = 0.0
    sigma = 0.1
    box = float(np.prod(np.maximum(extents, 1e-9)))
    hull, hull_area = _hull_measures(v)
    if not watertight or not volume > 0 or volume > box * 1.01:
        notes.append(f"mesh is not watertight: volume {volume:.3g} m^3 is unreliable; using 0.75 x convex hull {hull:.3g} m^3")
        volume = 0.75 * hull if hull > 0 else 0.5 * box
        sigma = 0.35
    return Geometry(v, f, float(volume), area, extents, bounds, bool(watertight), sigma, notes, hull_area or None)


def _closed(faces: np.ndarray) -> bool:
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


def _hull_measures(v: np.ndarray) -> tuple[float, float]:
    """Volume and surface area of the convex hull of points [V,3] (zeros when degenerate)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(v)
        return float(hull.volume), float(hull.area)
    except (QhullError, ValueError):
        return 0.0, 0.0


# ----------------------------------------------------------------------------- log-space numbers
def log_sigma(value: float, lo: float, hi: float, floor: float = 0.03) -> float:
    """A range read as about +-2 sigma in log space."""
    lo, hi = max(lo, 1e-12), max(hi, 1e-12)
    width = max(math.log(hi / max(value, 1e-12)), math.log(max(value, 1e-12) / lo), 0.0)
    return max(width / 2.0, floor)


def quantity(value: float, lo: float, hi: float, **extra) -> dict:
    lo, hi = min(lo, value), max(hi, value)
    return {"value": float(value), "range": [float(lo), float(hi)], **extra}


@dataclass
class MaterialVolume:
    volume: float  # m^3 of material (walls for shells)
    low: float
    high: float
    mode: str  # solid | shell | walls_in_mesh


def material_volume(geom: Geometry, fill: str, thickness: dict | None) -> MaterialVolume:
    v = geom.volume
    if fill != "shell" or not thickness:
        return MaterialVolume(v, v, v, "solid")
    t, (tlo, thi) = thickness["value"], thickness["range"]
    wall = geom.wall_area
    shell = wall * t
    if shell >= v:
        return MaterialVolume(v, v, v, "walls_in_mesh")
    return MaterialVolume(shell, min(wall * tlo, v), min(wall * thi, v), "shell")


@dataclass
class MassResult:
    mass: dict
    density: dict
    material: MaterialVolume
    geometric: dict  # density x volume estimate {value, range}
    agreement: float | None  # estimate / geometric (None without an estimate)
    notes: list[str]


def reconcile_mass(
    geom: Geometry, fill: str, density: dict, thickness: dict | None, estimate: dict | None, *, extra_sigma: float = 0.0
) -> MassResult:
    """Combine a direct mass estimate (or none) with density x material volume."""
    mv = material_volume(geom, fill, thickness)
    rho, (rlo, rhi) = density["value"], density["range"]
    notes = []
    vol_sigma = math.hypot(geom.volume_sigma, extra_sigma)
    geo_value = rho * mv.volume
    spread = math.exp(2 * vol_sigma)
    geo = quantity(geo_value, rlo * mv.low / spread, rhi * mv.high * spread)
    mu_g, s_g = math.log(geo_value), log_sigma(geo_value, *geo["range"])
    if estimate is None:
        mass = geo
        agreement = None
    else:
        m, (lo, hi) = estimate["value"], estimate["range"]
        mu_e, s_e = math.log(m), log_sigma(m, lo, hi)
        w_e, w_g = 1 / s_e**2, 1 / s_g**2
        mu = (w_e * mu_e + w_g * mu_g) / (w_e + w_g)
        sigma = 1 / math.sqrt(w_e + w_g)
        value = math.exp(mu)
        low, high = math.exp(mu - 2 * sigma), math.exp(mu + 2 * sigma)
        agreement = m / geo_value
        if abs(mu_e - mu_g) > 2 * math.hypot(s_e, s_g):
            notes.append(f"mass estimate {m:.3g} kg and density x volume {geo_value:.3g} kg disagree ({agreement:.2f}x): range widened to cover both")
            low, high = min(lo, geo["range"][0], low), max(hi, geo["range"][1], high)
        mass = quantity(value, low, high)
    eff = mass["value"] / mv.volume
    dens = quantity(eff, min(rlo, mass["range"][0] / mv.high), max(rhi, mass["range"][1] / max(mv.low, 1e-12)))
    return MassResult(mass, dens, mv, geo, agreement, notes)


# ----------------------------------------------------------------------------- inertia
def inertial(geom: Geometry, mode: str, mass: float, thickness: float | None) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """Centre of mass [3] (object frame), inertia [3,3] about it (kg m^2), method, notes."""
    notes: list[str] = []
    props = None
    method = "mesh_solid"
    try:
        if mode == "shell" and thickness:
            props = shell_mass_properties(geom.vertices, geom.faces, thickness, 1.0)
            method = "mesh_shell"
        elif geom.watertight:
            props = mass_properties(geom.vertices, geom.faces, 1.0)
    except ValueError as exc:
        notes.append(f"mesh mass properties failed ({exc})")
        props = None
    if props is not None:
        inertia = props.inertia * (mass / props.mass)
        com = props.center_of_mass
        problems = check_inertia(inertia, mass)
        if not problems and np.all(com >= geom.bounds[0] - 1e-6) and np.all(com <= geom.bounds[1] + 1e-6):
            return com, 0.5 * (inertia + inertia.T), method, notes
        notes.append("mesh inertia is unphysical (" + "; ".join(problems or ["centre of mass outside the bounds"]) + ")")
    com = geom.bounds.mean(axis=0)
    if mode == "shell":
        inertia = _box_shell_inertia(mass, geom.extents)
        method = "box_shell"
    else:
        inertia = box_inertia(mass, np.maximum(geom.extents, 1e-6))
        method = "box_solid"
    if not geom.watertight and mode != "shell":
        notes.append("inertia of the bounding box (the mesh is not watertight)")
    return com, inertia, method, notes


def _box_shell_inertia(mass: float, size: np.ndarray) -> np.ndarray:
    """A thin-walled box of the given extents: each face a plate, mass shared by area."""
    x, y, z = np.maximum(np.asarray(size, np.float64), 1e-6)
    faces = [(y * z, 0, (0, y, z)), (x * z, 1, (x, 0, z)), (x * y, 2, (x, y, 0))]  # pairs of faces normal to each axis
    total = 2 * (y * z + x * z + x * y)
    inertia = np.zeros(3)
    half = np.array([x, y, z]) / 2
    for area, axis, dims in faces:
        m = mass * 2 * area / total  # the pair
        d = np.asarray(dims, np.float64)
        for k in range(3):
            others = [j for j in range(3) if j != k]
            own = m / 12.0 * sum(d[j] ** 2 for j in others)
            offset = m * half[axis] ** 2 if axis != k else 0.0
            inertia[k] += own + offset
    return np.diag(inertia)
