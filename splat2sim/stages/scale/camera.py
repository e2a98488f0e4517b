"""Metric scale from how far a handheld phone is from what it films.

A person capturing a table-top scene holds the phone at arm's length or a step back: the
point its views converge on (the scene it frames) is some tens of centimetres away, not
metres, not millimetres. Measured in the world's units, that distance against a prior in
metres is a weak but independent cue: it needs no object and no label, and its error does
not share the object-size prior's.
"""

from __future__ import annotations

import math

import numpy as np

from splat2sim.stages.poses.gravity import look_at_point  # the point poses puts the world origin under

#: Below this, the views' directions are too close to parallel to locate where they
#: converge: the smallest eigenvalue of the mean of (I - d d^T) is sin^2 of roughly the
#: angle the directions spread over (0.01: about 6 degrees). A static or sideways-moving
#: camera lands here, and the cue is skipped.
MIN_DIRECTION_SPREAD = 0.01

#: The focus must be in front of at least this share of the views: an object capture aims
#: at its subject; a walk along a wall or through a room does not converge in front.
MIN_IN_FRONT = 0.9


def focus_point(centres: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The point nearest, in least squares, to every view's optical axis.

    centres (N, 3) camera positions, directions (N, 3) unit viewing directions (+z of the
    OpenCV camera), both in world units. Returns (point (3,), "") or (None, why not)."""
    if len(centres) < 3:
        return None, f"{len(centres)} registered views (at least 3 are needed to see where they converge)"
    point, spread = look_at_point(centres, directions)
    if spread < MIN_DIRECTION_SPREAD:
        return None, f"the views look in nearly one direction (spread {spread:.3g} < {MIN_DIRECTION_SPREAD}): no point they converge on"
    in_front = float(np.mean(np.einsum("ni,ni->n", point[None] - centres, directions) > 0))
    if in_front < MIN_IN_FRONT:
        return None, f"the views do not converge in front of the camera ({in_front:.0%} of them face the nearest point)"
    return point, ""


def camera_distance_cue(world_from_cameras: list, prior_m: float, prior_range_m: tuple[float, float]) -> dict:
    """Scale from the median distance between the cameras and their focus point.

    world_from_cameras: 4x4 matrices (OpenCV axes) of the registered views. ``prior_m`` is
    the typical distance in metres and ``prior_range_m`` its 2-sigma range (log-normal).
    Returns {"scale", "log_sigma", "distance_units", ...} or {"skipped": why}."""
    m = np.asarray(world_from_cameras, float).reshape(-1, 4, 4)
    centres, directions = m[:, :3, 3], m[:, :3, 2]
    directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    point, why = focus_point(centres, directions)
    if point is None:
        return {"skipped": why}
    distance = float(np.median(np.linalg.norm(centres - point, axis=1)))
    if not distance > 0:
        return {"skipped": "the cameras sit on their focus point"}
    lo, hi = prior_range_m
    return {
        "scale": prior_m / distance,
        "log_sigma": math.log(hi / lo) / 4,  # the range is +-2 sigma in log space
        "distance_units": round(distance, 6),
        "prior_m": prior_m,
        "prior_range_m": [lo, hi],
        "focus_point": [round(float(x), 6) for x in point],
    }
