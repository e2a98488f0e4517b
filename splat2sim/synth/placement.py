"""Where the objects and the marker card go on the table: footprints seen from above that
do not overlap, some of them (with ``touching``) slid against a neighbour until 1 mm (or a
drawn gap) apart, and with ``near_edge`` one of them a few centimetres from the table's edge."""

from __future__ import annotations

import math

import numpy as np

from splat2sim.errors import StageError
from splat2sim.synth.config import SynthConfig
from splat2sim.synth.meshes import Mesh
from splat2sim.synth.scene import DROP_HEIGHT, SceneObject, quat_yaw

GAP_FREE = 0.02  # metres between footprints placed at random
GAP_TOUCH = 0.001  # metres between footprints slid against each other


def _footprint(mesh: Mesh, yaw: float) -> np.ndarray:
    """(K, 2) convex polygon (counter-clockwise) of the mesh seen from above after a yaw."""
    from scipy.spatial import ConvexHull

    c, s = math.cos(yaw), math.sin(yaw)
    xy = mesh.vertices[:, :2] @ np.array([[c, s], [-s, c]])
    hull = ConvexHull(xy)
    return xy[hull.vertices]


def _separation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest gap between two convex polygons (K, 2) along any edge normal (SAT): > 0 means
    apart by at least that much, <= 0 means they overlap."""
    best = -np.inf
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], 1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        pa, pb = a @ normals.T, b @ normals.T
        gap = np.maximum(pb.min(0) - pa.max(0), pa.min(0) - pb.max(0))
        best = max(best, float(gap.max()))
    return best


def place(
    objects: list[SceneObject], marker_half: float, config: SynthConfig, rng: np.random.Generator, table_size: tuple[float, float]
) -> np.ndarray | None:
    """Choose yaw and xy for every object so that footprints do not overlap each other or
    the marker card; with ``touching``, some objects are slid against a neighbour until
    1 mm apart. Returns the marker centre and yaw (3,) (or None). Raises if it cannot fit them."""
    placed: list[np.ndarray] = []  # world footprints
    limit = np.array(table_size) / 2 - 0.08
    marker_pose = None
    if config.marker:
        marker_pose, card = _marker_card(marker_half, rng)
        placed.append(card)
    first_object = 1 if config.marker else 0  # index of the first object footprint in ``placed``
    lo_gap, hi_gap = config.touch_gap_range
    for k, obj in enumerate(objects):
        yaw = float(rng.uniform(-np.pi, np.pi))
        fp = _footprint(obj.mesh, yaw)
        ok = None
        n_obj = len(placed) - first_object
        if config.near_edge and k == 0:
            ok = _edge_offset(fp, placed, np.array(table_size) / 2, rng)
        want_touch = ok is None and config.touching and n_obj > 0 and (n_obj == 1 or rng.random() < 0.5)
        if want_touch:
            # Draw only when the range is open, so seeds without a range keep their layouts.
            gap = float(rng.uniform(lo_gap, hi_gap)) if hi_gap > lo_gap else lo_gap
            ok = _touching_offset(fp, placed, first_object, limit, rng, gap)
        if ok is None:
            ok = _free_offset(fp, placed, limit, rng)
        if ok is None:
            raise StageError(f"could not place object {obj.name!r} on the table without overlap", hint="use fewer objects or a different seed")
        placed.append(fp + ok)
        # Lift so the lowest point of the mesh is DROP_HEIGHT above the surface it starts on.
        obj.position = np.array([ok[0], ok[1], DROP_HEIGHT - obj.mesh.vertices[:, 2].min()])
        obj.quat = quat_yaw(yaw)
    return marker_pose


def _marker_card(marker_half: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The marker card's pose (x, y, yaw) near the table centre and its footprint (4, 2)."""
    ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.14, 0.2)
    marker_xy = np.array([math.cos(ang), math.sin(ang)]) * dist
    yaw = rng.uniform(-np.pi, np.pi)
    c, s = math.cos(yaw), math.sin(yaw)
    sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * marker_half
    return np.array([marker_xy[0], marker_xy[1], yaw]), sq @ np.array([[c, s], [-s, c]]) + marker_xy


def _fits(cand: np.ndarray, placed: list[np.ndarray], limit: np.ndarray, gap: float) -> bool:
    return bool(np.all(np.abs(cand) < limit)) and all(_separation(p, cand) >= gap for p in placed)


def _edge_offset(fp: np.ndarray, placed: list[np.ndarray], table_half: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """An xy offset that puts footprint ``fp`` 2-5 cm from one of the table's edges (clear
    of everything placed), or None."""
    fp_centre = fp.mean(0)
    for _ in range(50):
        axis, sign = int(rng.integers(0, 2)), float(rng.choice([-1.0, 1.0]))
        margin = rng.uniform(0.02, 0.05)
        off = np.empty(2)
        other = 1 - axis
        off[other] = rng.uniform(-0.25, 0.25) - fp_centre[other]
        # The footprint's extreme point along the edge normal lands ``margin`` inside it.
        reach = (fp[:, axis] * sign).max()
        off[axis] = sign * (table_half[axis] - margin - reach)
        if _fits(fp + off, placed, table_half, GAP_FREE):
            return off
    return None


def _touching_offset(
    fp: np.ndarray, placed: list[np.ndarray], first_object: int, limit: np.ndarray, rng: np.random.Generator, gap: float = GAP_TOUCH
) -> np.ndarray | None:
    """An xy offset that puts footprint ``fp`` ``gap`` metres from a random placed object, or None."""
    fp_centre = fp.mean(0)
    for _ in range(60):
        j = int(rng.integers(first_object, len(placed)))
        d = rng.uniform(0, 2 * np.pi)
        u = np.array([math.cos(d), math.sin(d)])
        # Slide along u from far away towards the neighbour until 1 mm apart.
        lo, hi = 0.0, 0.5
        base = placed[j].mean(0) - fp_centre
        if _separation(placed[j], fp + base + u * hi) <= gap:
            continue
        for _ in range(30):
            mid = (lo + hi) / 2
            if _separation(placed[j], fp + base + u * mid) > gap:
                hi = mid
            else:
                lo = mid
        off = base + u * hi
        if _fits(fp + off, placed, limit, min(gap, GAP_FREE) * 0.99):
            return off
    return None


def _free_offset(fp: np.ndarray, placed: list[np.ndarray], limit: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A random xy offset, near the centre first, that keeps ``fp`` clear of all others, or None."""
    fp_centre = fp.mean(0)
    radius = 0.12
    for _ in range(400):
        off = rng.uniform(-radius, radius, 2) - fp_centre
        if _fits(fp + off, placed, limit, GAP_FREE):
            return off
        radius = min(radius * 1.01, float(limit.min()))
    return None
