"""Gravity and origin: the main support plane, found by RANSAC on the sparse points.

The method, and why it should carry over to other rooms:
1. A prior for "up": phones are held level and upright, so the direction orthogonal to
   the cameras' x axes (or, when they all point alike, the mean of the cameras' -y axes)
   points roughly against gravity. The prior only
   restricts which planes count as horizontal (``max_tilt_deg``); it never sets gravity
   when a plane is found.
2. The scene centre: the point closest to all optical axes (where the cameras look). When
   the views are nearly parallel that point is ill-defined, and the median of the points
   in front of the cameras is used instead.
3. Candidate planes: sequential RANSAC over the points near the scene (within a few camera
   distances), keeping planes that are near-horizontal under the prior. The inlier
   distance is a fraction of the median camera-to-scene distance, so it has no unit and
   no scene-specific size.
4. The support plane is the candidate with the most inliers near the scene centre (within
   half a camera distance of the centre's foot on the plane: a table beats a larger floor
   around it) among those that most cameras are above and that the scene centre is not
   below; its normal is refined by least
   squares on its inliers and signed so that the cameras are on its +z side.
5. Origin: the scene centre projected onto that plane. World x is the first registered
   camera's x axis projected onto the plane, so the first view looks along world +y.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SupportPlane:
    normal: np.ndarray  # unit, in SfM coordinates, pointing to the cameras' side
    offset: float  # plane: normal . x + offset = 0
    inliers: int
    rms: float  # RMS distance of inliers to the refined plane (SfM units)
    threshold: float  # RANSAC inlier distance (SfM units)
    prior_angle_deg: float  # angle between the plane normal and the cameras' up prior
    cameras_above: float  # fraction of cameras on the +normal side
    candidates: list[dict] = field(default_factory=list)
    found: bool = True  # False: no plane, the prior's up and the lowest points were used

    def distance(self, points: np.ndarray) -> np.ndarray:
        return points @ self.normal + self.offset


@dataclass
class WorldFrame:
    rotation: np.ndarray  # world_from_sfm rotation (3x3)
    origin_sfm: np.ndarray  # the world origin, in SfM coordinates
    plane: SupportPlane
    scene_centre_sfm: np.ndarray
    scene_centre_method: str
    camera_distance: float  # median camera to scene-centre distance (SfM units)


def camera_up_prior(world_from_camera: np.ndarray) -> np.ndarray:
    """Roughly "up" from how people hold cameras: level (x axes horizontal) and upright.

    The direction most orthogonal to every camera's x axis does not depend on how far the
    cameras look down; it is used when the x axes span a plane (the camera turned around
    the scene). Otherwise (x axes all alike) the mean of the cameras' -y axes is used."""
    mean_up = -world_from_camera[:, :3, 1].sum(axis=0)
    norm = np.linalg.norm(mean_up)
    mean_up = mean_up / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    xs = world_from_camera[:, :3, 0]
    if len(xs) >= 3:
        eigval, eigvec = np.linalg.eigh(xs.T @ xs / len(xs))
        # Needs a clear smallest direction and a spread of x axes (>~15 degrees of turning).
        if eigval[1] > 0.02 and eigval[0] < 0.25 * eigval[1]:
            up = eigvec[:, 0]
            return up if up @ mean_up >= 0 else -up
    return mean_up


def look_at_point(centers: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares point closest to the rays; returns it and the smallest eigenvalue of
    the normal matrix divided by the number of rays (0 = parallel rays)."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for c, d in zip(centers, directions):
        d = d / np.linalg.norm(d)
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ c
    eig = np.linalg.eigvalsh(A / max(1, len(centers)))
    if eig[0] < 1e-9:
        return centers.mean(axis=0), 0.0
    return np.linalg.solve(A, b), float(eig[0])


def fit_plane_lsq(points: np.ndarray) -> tuple[np.ndarray, float]:
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    return normal, -float(normal @ centroid)


def ransac_plane(
    points: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    *,
    up: np.ndarray | None = None,
    max_tilt_deg: float = 90.0,
    iterations: int = 500,
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """The plane with most inliers whose normal is within ``max_tilt_deg`` of ``up``,
    refined by least squares on its inliers. Returns (normal, offset, inlier mask)."""
    n = len(points)
    if n < 3:
        return None
    cos_tilt = np.cos(np.radians(max_tilt_deg))
    best = None
    best_count = 0
    for i, j, k in rng.integers(0, n, size=(iterations, 3)):
        if i == j or j == k or i == k:
            continue
        normal = np.cross(points[j] - points[i], points[k] - points[i])
        norm = np.linalg.norm(normal)
        if norm < 1e-12:
            continue
        normal /= norm
        if up is not None and abs(normal @ up) < cos_tilt:
            continue
        offset = -normal @ points[i]
        count = int((np.abs(points @ normal + offset) < threshold).sum())
        if count > best_count:
            best_count, best = count, (normal, offset)
    if best is None:
        return None
    normal, offset = best
    for _ in range(3):  # the inlier set moves a little as the plane is refined
        mask = np.abs(points @ normal + offset) < threshold
        if mask.sum() < 3:
            break
        new_normal, new_offset = fit_plane_lsq(points[mask])
        if new_normal @ normal < 0:
            new_normal, new_offset = -new_normal, -new_offset
        normal, offset = new_normal, new_offset
    mask = np.abs(points @ normal + offset) < threshold
    return normal, float(offset), mask


def find_world_frame(
    points: np.ndarray,
    world_from_camera: np.ndarray,
    *,
    threshold_fraction: float = 0.01,
    max_tilt_deg: float = 45.0,
    seed: int = 0,
    max_planes: int = 4,
) -> WorldFrame:
    """``world_from_camera``: (R, 4, 4) of the registered cameras, in SfM coordinates."""
    rng = np.random.default_rng(seed)
    points = np.asarray(points, float).reshape(-1, 3)
    centers = world_from_camera[:, :3, 3]
    forward = world_from_camera[:, :3, 2]
    up_prior = camera_up_prior(world_from_camera)

    centre, method = _scene_centre(points, centers, forward)
    cam_dist = float(np.median(np.linalg.norm(centers - centre, axis=1))) if len(centers) else 1.0
    cam_dist = cam_dist if cam_dist > 0 else 1.0
    threshold = threshold_fraction * cam_dist

    near = points[np.linalg.norm(points - centre, axis=1) < 3.0 * cam_dist]
    candidates = _candidate_planes(near, centers, centre, cam_dist, threshold, up_prior, rng, max_tilt_deg=max_tilt_deg, max_planes=max_planes)
    plane = _support_plane(candidates, near, centers, up_prior, threshold)
    rotation, origin = _world_axes(plane, centre, world_from_camera)
    return WorldFrame(rotation, origin, plane, centre, method, cam_dist)


def _scene_centre(points: np.ndarray, centers: np.ndarray, forward: np.ndarray) -> tuple[np.ndarray, str]:
    """Where the cameras look (step 2 of the module docstring), and how it was found."""
    look, conditioning = look_at_point(centers, forward)
    in_front = float(np.mean(np.einsum("ij,ij->i", look - centers, forward) > 0)) if len(centers) else 0.0
    if conditioning > 0.02 and in_front > 0.8:
        return look, "optical axes"
    depth_ok = np.zeros(len(points), bool)
    if len(points):
        rel = points[:, None, :] - centers[None, :, :]
        depth_ok = (np.einsum("pcj,cj->pc", rel, forward) > 0).mean(axis=1) > 0.5
    centre = np.median(points[depth_ok], axis=0) if depth_ok.any() else centers.mean(axis=0)
    return centre, "median of the points in view"


def _candidate_planes(
    near: np.ndarray,
    centers: np.ndarray,
    centre: np.ndarray,
    cam_dist: float,
    threshold: float,
    up_prior: np.ndarray,
    rng: np.random.Generator,
    *,
    max_tilt_deg: float,
    max_planes: int,
) -> list[dict]:
    """Near-horizontal planes by sequential RANSAC (step 3), each signed so that most cameras
    are on its +normal side, with what step 4 chooses by."""
    candidates = []
    remaining = near
    min_inliers = max(20, int(0.05 * len(near)))
    for _ in range(max_planes):
        if len(remaining) < min_inliers:
            break
        fit = ransac_plane(remaining, threshold, rng, up=up_prior, max_tilt_deg=max_tilt_deg)
        if fit is None:
            break
        normal, offset, mask = fit
        if mask.sum() < min_inliers:
            break
        if np.mean(centers @ normal + offset > 0) < 0.5:
            normal, offset = -normal, -offset
        inl = remaining[mask]
        foot = centre - (centre @ normal + offset) * normal  # the scene centre on this plane
        near_centre = int((np.linalg.norm(inl - foot, axis=1) < 0.5 * cam_dist).sum())
        candidates.append(
            {
                "normal": normal,
                "offset": float(offset),
                "inliers": int(mask.sum()),
                "inliers_near_centre": near_centre,
                "rms": float(np.sqrt(np.mean((inl @ normal + offset) ** 2))),
                "cameras_above": float(np.mean(centers @ normal + offset > 0)),
                "centre_height": float(centre @ normal + offset),
                "prior_angle_deg": float(np.degrees(np.arccos(np.clip(normal @ up_prior, -1, 1)))),
            }
        )
        remaining = remaining[~mask]
    return candidates


def _support_plane(candidates: list[dict], near: np.ndarray, centers: np.ndarray, up_prior: np.ndarray, threshold: float) -> SupportPlane:
    """The candidate that most cameras are above with the most inliers near the scene centre
    (step 4); without one, the up prior through the lowest points (``found=False``)."""
    usable = [c for c in candidates if c["cameras_above"] >= 0.75 and c["centre_height"] > -3 * threshold]
    if usable:
        best = max(usable, key=lambda c: (c["inliers_near_centre"], c["inliers"]))
        return SupportPlane(
            normal=best["normal"],
            offset=best["offset"],
            inliers=best["inliers"],
            rms=best["rms"],
            threshold=threshold,
            prior_angle_deg=best["prior_angle_deg"],
            cameras_above=best["cameras_above"],
            candidates=[_plain(c) for c in candidates],
        )
    # No plane: gravity from the cameras' up prior, the support at the lowest points.
    heights = near @ up_prior if len(near) else np.array([0.0])
    floor = float(np.percentile(heights, 2))
    return SupportPlane(
        normal=up_prior,
        offset=-floor,
        inliers=0,
        rms=float("nan"),
        threshold=threshold,
        prior_angle_deg=0.0,
        cameras_above=float(np.mean(centers @ up_prior - floor > 0)) if len(centers) else 0.0,
        candidates=[_plain(c) for c in candidates],
        found=False,
    )


def _world_axes(plane: SupportPlane, centre: np.ndarray, world_from_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """world_from_sfm rotation and the origin in SfM coordinates (step 5)."""
    z = plane.normal / np.linalg.norm(plane.normal)
    origin = centre - plane.distance(centre[None])[0] * z
    x = world_from_camera[0, :3, 0].copy() if len(world_from_camera) else np.array([1.0, 0, 0])
    x = x - (x @ z) * z
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(z, [0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.cross(z, [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z]), origin  # rows = world axes in SfM coordinates: world_from_sfm


def _plain(candidate: dict) -> dict:
    out = dict(candidate)
    out["normal"] = [round(float(v), 6) for v in candidate["normal"]]
    for key in ("offset", "rms", "cameras_above", "centre_height", "prior_angle_deg"):
        out[key] = round(float(out[key]), 6)
    return out
