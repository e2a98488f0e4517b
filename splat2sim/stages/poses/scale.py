"""Metric scale: an ArUco / AprilTag marker of known size, or a user-given length.

Marker: corners are detected in every keyframe, then refined by fitting a line to each
side's edge (the 50 % crossing, in linearised intensity, between the black border and
the white surround, sampled
along the side away from the corners) and intersecting neighbouring lines: the window of
OpenCV's corner refinement reaches into the marker's inner cells on small markers and
pulls corners inwards (measured: sides ~1.5 % short at 47 px). Each corner is
triangulated from all registered views that see it (linear DLT on undistorted rays,
views with a large reprojection error dropped), and the scale is the known side length
over the median measured side (4 sides + 2 diagonals / sqrt 2 per marker). The spread
of the per-view-pair estimates is reported as the scale's uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from splat2sim.stages.poses.solved import Solved

#: Dictionaries tried when ``marker_dictionary`` is "auto", most common first.
AUTO_DICTIONARIES = (
    "DICT_4X4_50",
    "DICT_5X5_100",
    "DICT_6X6_250",
    "DICT_7X7_250",
    "DICT_ARUCO_ORIGINAL",
    "DICT_APRILTAG_36h11",
    "DICT_APRILTAG_25h9",
    "DICT_APRILTAG_16h5",
)


@dataclass
class ScaleEstimate:
    scale: float | None  # metres per SfM unit; None when not measurable
    source: str  # marker | known_length | imported_metric | unknown
    detail: dict = field(default_factory=dict)
    problem: str | None = None  # why it could not be measured


# ----------------------------------------------------------------------------- marker
def detect_markers(image_paths: list[Path], dictionary: str) -> tuple[str | None, list[dict[int, np.ndarray]]]:
    """Per image {marker id: 4x2 corners}, in COLMAP pixel convention (+0.5 on OpenCV's)."""
    import cv2

    names = AUTO_DICTIONARIES if dictionary == "auto" else (dictionary,)
    grays = []
    for path in image_paths:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        grays.append(image)
    best_name, best, best_count = None, [dict() for _ in image_paths], 0
    for name in names:
        code = getattr(cv2.aruco, name, None)
        if code is None:
            raise ValueError(f"unknown marker dictionary {name!r} (OpenCV aruco has e.g. DICT_4X4_50, DICT_APRILTAG_36h11)")
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(code), params)
        found: list[dict[int, np.ndarray]] = []
        for gray in grays:
            per_image = {}
            if gray is not None:
                corners, ids, _ = detector.detectMarkers(gray)
                if ids is not None:
                    cells = detector.getDictionary().markerSize + 2
                    for c, marker_id in zip(corners, ids.ravel()):
                        refined = refine_corners_by_edges(gray, c.reshape(4, 2).astype(np.float64), cells)
                        per_image[int(marker_id)] = refined + 0.5
            found.append(per_image)
        count = sum(len(f) for f in found)
        if count > best_count:
            best_name, best, best_count = name, found, count
    return best_name, best


def refine_corners_by_edges(gray: np.ndarray, corners: np.ndarray, cells: int) -> np.ndarray:
    """Corners (4x2, OpenCV pixel convention) as intersections of lines fitted to the
    marker's four edges. ``cells``: marker cells per side including the black border.
    Returns the input unchanged when an edge cannot be measured."""
    from scipy.ndimage import map_coordinates

    # Edges are blurred in linear light; image values are gamma-encoded (sRGB-like), which
    # moves the 50 % crossing towards the dark side. Undo the encoding first.
    img = (gray.astype(np.float32) / 255.0) ** 2.2
    c = np.asarray(corners, np.float64)
    centre = c.mean(axis=0)
    lines = []
    for k in range(4):
        a, b = c[k], c[(k + 1) % 4]
        length = float(np.linalg.norm(b - a))
        if length < 8:
            return corners
        d = (b - a) / length
        n = np.array([-d[1], d[0]])
        if n @ (centre - a) > 0:
            n = -n  # outwards
        half = max(1.0, min(3.0, 0.45 * length / cells))  # stay within the black border cell
        offsets = np.linspace(-half, half, 25)
        points = []
        for t in np.linspace(0.15, 0.85, max(8, int(length / 2))):
            p = a + t * (b - a)
            samples = p[None] + offsets[:, None] * n[None]
            values = map_coordinates(img, [samples[:, 1], samples[:, 0]], order=1, mode="nearest")
            dark, light = values[:3].mean(), values[-3:].mean()
            if light - dark < 0.05:
                continue
            mid = 0.5 * (dark + light)
            above = np.flatnonzero(values >= mid)
            if len(above) == 0 or above[0] == 0:
                continue
            j = above[0]
            f = (mid - values[j - 1]) / (values[j] - values[j - 1] + 1e-9)
            points.append(p + (offsets[j - 1] + f * (offsets[j] - offsets[j - 1])) * n)
        if len(points) < 4:
            return corners
        points = np.asarray(points)
        mean = points.mean(axis=0)
        _, _, vt = np.linalg.svd(points - mean)
        lines.append((mean, vt[0]))
    out = []
    for k in range(4):
        (p1, d1), (p2, d2) = lines[(k - 1) % 4], lines[k]
        A = np.array([d1, -d2]).T
        if abs(np.linalg.det(A)) < 1e-6:
            return corners
        st = np.linalg.solve(A, p2 - p1)
        out.append(p1 + st[0] * d1)
    out = np.asarray(out)
    if np.max(np.linalg.norm(out - c, axis=1)) > 3.0:  # refinement ran off: keep OpenCV's corners
        return corners
    return out


def triangulate(rays_cam: np.ndarray, cam_from_world: np.ndarray) -> np.ndarray:
    """Linear multi-view triangulation. rays_cam: (V, 2) normalized image coordinates;
    cam_from_world: (V, 4, 4)."""
    rows = []
    for (u, v), T in zip(rays_cam, cam_from_world):
        P = T[:3, :4]
        rows.append(u * P[2] - P[0])
        rows.append(v * P[2] - P[1])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    X = vt[-1]
    return X[:3] / X[3]


def _reprojection_px(X: np.ndarray, rays: np.ndarray, cams: np.ndarray, focal: np.ndarray) -> np.ndarray:
    Xc = np.einsum("vij,j->vi", cams[:, :3, :3], X) + cams[:, :3, 3]
    proj = Xc[:, :2] / Xc[:, 2:3]
    return np.linalg.norm(proj - rays, axis=1) * focal


def marker_scale(
    solved: Solved,
    image_paths: list[Path],
    marker_size: float,
    dictionary: str = "DICT_4X4_50",
    marker_id: int | None = None,
    max_reprojection_px: float = 3.0,
) -> ScaleEstimate:
    used_dictionary, detections = detect_markers(image_paths, dictionary)
    views_with = sum(1 for d in detections if d)
    detail: dict = {"dictionary": used_dictionary or dictionary, "frames_with_marker": views_with}
    if views_with == 0:
        return ScaleEstimate(None, "marker", detail, f"no {dictionary} marker was found in any keyframe")
    ids = sorted({m for d in detections for m in d if marker_id is None or m == marker_id})
    detail["marker_ids"] = ids
    sides_all, pair_scales, reproj, per_marker = [], [], [], {}
    for mid in ids:
        views = [i for i, d in enumerate(detections) if mid in d and solved.registered[i]]
        if len(views) < 2:
            continue
        cams = solved.cam_from_world[views]
        rays, focal = [], []
        for i in views:
            camera = solved.pycolmap_camera(i)
            rays.append(camera.cam_from_img(detections[i][mid]))
            focal.append(0.5 * (camera.focal_length_x + camera.focal_length_y))
        rays = np.asarray(rays)  # (V, 4, 2)
        focal = np.asarray(focal)
        corners = []
        keep_all = np.ones(len(views), bool)
        for k in range(4):
            X = triangulate(rays[:, k], cams)
            err = _reprojection_px(X, rays[:, k], cams, focal)
            keep = err < max(max_reprojection_px, 2 * np.median(err))
            keep_all &= keep
        if keep_all.sum() < 2:
            keep_all[:] = True
        for k in range(4):
            X = triangulate(rays[keep_all, k], cams[keep_all])
            reproj.extend(_reprojection_px(X, rays[keep_all, k], cams[keep_all], focal[keep_all]).tolist())
            corners.append(X)
        corners = np.asarray(corners)
        sides = _square_sides(corners)
        sides_all.extend(sides)
        per_marker[mid] = {"views": int(keep_all.sum()), "side_sfm": float(np.median(sides))}
        # Per view pair: a spread that says how far to trust the estimate.
        kept = np.flatnonzero(keep_all)
        for a, b in list(combinations(kept, 2))[:200]:
            pts = np.asarray([triangulate(rays[[a, b], k], cams[[a, b]]) for k in range(4)])
            s = np.median(_square_sides(pts))
            if s > 0:
                pair_scales.append(marker_size / s)
    if not sides_all:
        return ScaleEstimate(None, "marker", detail, "the marker was seen in fewer than two registered keyframes, so it cannot be triangulated")
    side = float(np.median(sides_all))
    scale = marker_size / side
    spread = float(np.median(np.abs(np.asarray(pair_scales) / scale - 1))) if pair_scales else float("nan")
    detail.update(
        {
            "marker_size_m": marker_size,
            "measured_side_sfm": side,
            "side_relative_spread": float(np.std(sides_all) / side),
            "pairwise_relative_mad": spread,
            "corner_reprojection_px": float(np.median(reproj)) if reproj else float("nan"),
            "markers": {str(k): v for k, v in per_marker.items()},
        }
    )
    return ScaleEstimate(scale, "marker", detail)


def _square_sides(corners: np.ndarray) -> list[float]:
    sides = [float(np.linalg.norm(corners[k] - corners[(k + 1) % 4])) for k in range(4)]
    diagonals = [float(np.linalg.norm(corners[0] - corners[2])), float(np.linalg.norm(corners[1] - corners[3]))]
    return sides + [d / np.sqrt(2) for d in diagonals]


# ----------------------------------------------------------------------------- known length
def frame_index(solved: Solved, name: str, aliases: dict[str, int]) -> int:
    """A keyframe named by its file name, its source file name, or its number."""
    name = name.strip()
    if name in aliases:
        return aliases[name]
    base = Path(name).name
    if base in aliases:
        return aliases[base]
    if name.isdigit() and int(name) < solved.count:
        return int(name)
    raise KeyError(name)


def known_length_cameras(solved: Solved, a: int, b: int, length: float) -> ScaleEstimate:
    for i in (a, b):
        if not solved.registered[i]:
            return ScaleEstimate(None, "known_length", {}, f"keyframe {solved.names[i]} is not registered")
    wfc = solved.world_from_camera()
    dist = float(np.linalg.norm(wfc[a, :3, 3] - wfc[b, :3, 3]))
    if dist <= 0:
        return ScaleEstimate(None, "known_length", {}, "the two camera centres coincide")
    return ScaleEstimate(
        length / dist,
        "known_length",
        {"kind": "camera_centres", "frames": [solved.names[a], solved.names[b]], "length_m": length, "measured_sfm": dist},
    )


def known_length_pixels(solved: Solved, frame: int, pa, pb, length: float, plane_normal: np.ndarray, plane_offset: float) -> ScaleEstimate:
    """Two pixels (COLMAP convention) of one keyframe on the support plane."""
    if not solved.registered[frame]:
        return ScaleEstimate(None, "known_length", {}, f"keyframe {solved.names[frame]} is not registered")
    camera = solved.pycolmap_camera(frame)
    wfc = solved.world_from_camera()[frame]
    centre = wfc[:3, 3]
    hits = []
    for p in (pa, pb):
        xy = camera.cam_from_img(np.asarray([p], float))[0]
        ray = wfc[:3, :3] @ np.array([xy[0], xy[1], 1.0])
        denom = plane_normal @ ray
        if abs(denom) < 1e-9:
            return ScaleEstimate(None, "known_length", {}, f"pixel {tuple(p)} looks parallel to the support plane")
        t = -(plane_normal @ centre + plane_offset) / denom
        if t <= 0:
            return ScaleEstimate(None, "known_length", {}, f"pixel {tuple(p)} does not look down at the support plane")
        hits.append(centre + t * ray)
    dist = float(np.linalg.norm(hits[0] - hits[1]))
    if dist <= 0:
        return ScaleEstimate(None, "known_length", {}, "the two pixels are the same point")
    return ScaleEstimate(
        length / dist,
        "known_length",
        {"kind": "pixels_on_support_plane", "frame": solved.names[frame], "pixels": [list(pa), list(pb)], "length_m": length, "measured_sfm": dist},
    )
