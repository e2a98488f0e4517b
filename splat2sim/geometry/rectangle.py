"""A rectangle on a horizontal plane, as the support surface is written (``mesh.json`` and
``scene.json``'s ``support_plane``): ``center`` [x, y, z], ``size`` [sx, sy] and ``yaw``.

Conventions, once: z up; ``yaw`` in radians, counter-clockwise about +z from the world x
axis to the rectangle's first side (the one ``sx`` long); a missing ``yaw`` is 0 (files
written before it existed); written in (-pi/4, pi/4], so an axis-aligned table keeps yaw 0
and its x/y sizes.
"""

from __future__ import annotations

import math

import numpy as np


def canonical_yaw(size, yaw: float) -> tuple[tuple[float, float], float]:
    """The same rectangle with its yaw in (-pi/4, pi/4]: each quarter turn swaps the sides."""
    sx, sy = float(size[0]), float(size[1])
    yaw = math.remainder(float(yaw), math.pi)  # a half turn is the same rectangle
    while yaw > math.pi / 4:
        yaw, sx, sy = yaw - math.pi / 2, sy, sx
    while yaw <= -math.pi / 4:
        yaw, sx, sy = yaw + math.pi / 2, sy, sx
    return (sx, sy), yaw


def local_xy(plane: dict, xy: np.ndarray) -> np.ndarray:
    """Points ``xy`` [M,2] (world) in the support rectangle's own axes, its centre at 0."""
    c, s = math.cos(plane.get("yaw", 0.0)), math.sin(plane.get("yaw", 0.0))
    d = np.asarray(xy, np.float64).reshape(-1, 2) - np.asarray(plane["center"][:2], np.float64)
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], axis=1)


def world_xy(plane: dict, local: np.ndarray) -> np.ndarray:
    """The inverse of :func:`local_xy`."""
    c, s = math.cos(plane.get("yaw", 0.0)), math.sin(plane.get("yaw", 0.0))
    p = np.asarray(local, np.float64).reshape(-1, 2)
    return np.stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1]], axis=1) + np.asarray(plane["center"][:2], np.float64)


def inside(plane: dict, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """[M] bool: the points ``xy`` [M,2] lie on the rectangle shrunk by ``margin``."""
    half = np.asarray(plane["size"], np.float64) / 2 - margin
    return np.all(np.abs(local_xy(plane, xy)) <= half, axis=1)


def corners(plane: dict) -> np.ndarray:
    """[4,2] world xy of the rectangle's corners, counter-clockwise."""
    hx, hy = np.asarray(plane["size"], np.float64) / 2
    return world_xy(plane, np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]]))


def polygon_area(poly: np.ndarray) -> float:
    """Area of a simple polygon [K,2] (shoelace)."""
    x, y = np.asarray(poly, np.float64).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def convex_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The intersection [K,2] of two convex polygons given counter-clockwise (Sutherland-
    Hodgman: ``a`` clipped by each edge of ``b``); empty [0,2] when they do not overlap."""
    out = [np.asarray(p, np.float64) for p in a]
    b = np.asarray(b, np.float64)
    for i in range(len(b)):
        p, q = b[i], b[(i + 1) % len(b)]
        edge = q - p
        side = lambda v: edge[0] * (v[1] - p[1]) - edge[1] * (v[0] - p[0])  # noqa: E731 - >= 0: left of the edge, inside
        clipped = []
        for j in range(len(out)):
            cur, nxt = out[j], out[(j + 1) % len(out)]
            sc, sn = side(cur), side(nxt)
            if sc >= 0:
                clipped.append(cur)
            if (sc >= 0) != (sn >= 0):
                clipped.append(cur + (nxt - cur) * (sc / (sc - sn)))
        out = clipped
        if not out:
            return np.zeros((0, 2))
    return np.asarray(out)


def rectangle_iou(a: dict, b_corners: np.ndarray) -> dict:
    """IoU of rectangle ``a`` with the convex polygon ``b_corners`` [K,2] (counter-clockwise),
    and ``a``'s area over ``b``'s, and the share of ``b`` that ``a`` covers."""
    inter = convex_intersection(corners(a), b_corners)
    common = polygon_area(inter) if len(inter) >= 3 else 0.0
    area_a, area_b = polygon_area(corners(a)), polygon_area(b_corners)
    return {"iou": common / (area_a + area_b - common), "area_ratio": area_a / area_b, "covered": common / area_b}
