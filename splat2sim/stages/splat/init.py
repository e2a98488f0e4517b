"""Initial Gaussian centres: the SfM points, filled out with points back-projected from the
training views where structure-from-motion left the scene sparse.

A sparse SfM cloud (a few thousand points on a real capture at CPU resolution) leaves walls,
floors and low-texture surfaces without any Gaussian, and densification grows into them
only slowly. Filling the cloud from the images themselves gives every region a start: each
sampled pixel is lifted along its ray to a depth interpolated from the SfM points that
project near it in that view, and takes the pixel's colour.
"""

from __future__ import annotations

import math

import numpy as np


def fill_from_views(
    points: np.ndarray,  # [P,3] SfM points, world frame
    images: np.ndarray,  # [F,H,W,3] float in [0, 1]
    world_from_camera: np.ndarray,  # [F,4,4] OpenCV camera axes
    intrinsics: np.ndarray,  # [F,4] (fx, fy, cx, cy) pixels
    views: list[int],  # the training views to sample
    count: int,
    rng: np.random.Generator,
    *,
    neighbours: int = 8,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """``count`` new points [M,3] and their colours [M,3], sampled evenly over ``views``.

    A pixel's depth interpolates (inverse depth, inverse-distance weights) those of its
    ``neighbours`` nearest projected SfM points that are at most 25 % deeper than the
    nearest of them: points hidden behind a nearer surface project into the view too (SfM
    points carry no per-view visibility here). Inverse depth because it is what varies
    linearly across a plane's image. Pixels farther from the projected points than they are from each other are not
    used, nor pixels with all their neighbours on one side: the cloud is interpolated, never
    extrapolated."""
    from scipy.spatial import cKDTree

    stats = {"views_used": 0, "views_skipped": 0}
    empty = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), stats
    if count <= 0 or not views or len(points) < neighbours + 1:
        return empty
    h, w = images.shape[1:3]
    per_view = math.ceil(count / len(views))
    out_points, out_colours = [], []
    for i in views:
        rot, centre = world_from_camera[i, :3, :3], world_from_camera[i, :3, 3]
        fx, fy, cx, cy = intrinsics[i]
        cam = (points - centre) @ rot  # rows: R^T (x - c)
        z = cam[:, 2]
        front = z > 1e-6
        u = fx * cam[front, 0] / z[front] + cx
        v = fy * cam[front, 1] / z[front] + cy
        inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
        if inside.sum() <= neighbours:
            stats["views_skipped"] += 1
            continue
        uv, depth = np.stack([u[inside], v[inside]], 1), z[front][inside]
        tree = cKDTree(uv)
        reach = 2.0 * float(np.median(tree.query(uv, k=neighbours + 1)[0][:, -1]))
        samples = np.stack([rng.uniform(0, w, 3 * per_view), rng.uniform(0, h, 3 * per_view)], 1)
        dist, idx = tree.query(samples, k=neighbours)
        # interpolate only: close to the projected points and surrounded by them (the
        # neighbours' mean offset small against their distance; at the cloud's edge, or past
        # it, they all lie on one side)
        offset = np.linalg.norm((uv[idx] - samples[:, None]).mean(1), axis=1)
        near = (dist[:, -1] <= reach) & (offset < 0.5 * dist.mean(1))
        samples, dist, idx = samples[near][:per_view], dist[near][:per_view], idx[near][:per_view]
        if not len(samples):
            stats["views_skipped"] += 1
            continue
        d = depth[idx]
        # a neighbour much deeper than the nearest is likely behind a nearer surface
        weight = (d <= 1.25 * d.min(axis=1, keepdims=True)) / (dist**2 + 1e-6)
        z_sample = weight.sum(1) / (weight / d).sum(1)
        ray = np.stack([(samples[:, 0] - cx) / fx, (samples[:, 1] - cy) / fy, np.ones(len(samples))], 1)
        out_points.append((ray * z_sample[:, None]) @ rot.T + centre)
        cols, rows = samples[:, 0].astype(int).clip(0, w - 1), samples[:, 1].astype(int).clip(0, h - 1)
        out_colours.append(images[i, rows, cols])
        stats["views_used"] += 1
    if not out_points:
        return empty
    new_points, new_colours = np.concatenate(out_points), np.concatenate(out_colours)
    if len(new_points) > count:
        pick = rng.choice(len(new_points), count, replace=False)
        new_points, new_colours = new_points[pick], new_colours[pick]
    return new_points.astype(np.float32), new_colours.astype(np.float32), stats
