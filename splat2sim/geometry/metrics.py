"""Surface-distance metrics between two meshes: Chamfer distance and F-score."""

from __future__ import annotations

import numpy as np


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` points [count,3] uniformly (by area) on a triangle mesh."""
    v = np.asarray(vertices, np.float64)
    tri = v[np.asarray(faces, np.int64)]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if areas.sum() <= 0:
        raise ValueError("the mesh has no surface area")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(tri), size=count, p=areas / areas.sum())
    r1, r2 = rng.random(count), rng.random(count)
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    t = tri[face]
    return t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])


def surface_metrics(
    pred: tuple[np.ndarray, np.ndarray], truth: tuple[np.ndarray, np.ndarray], threshold: float = 0.005, count: int = 20000, seed: int = 0
) -> dict:
    """Compare two meshes (vertices, faces) by points sampled on their surfaces.

    chamfer: mean of the two mean nearest-neighbour distances (metres);
    precision / recall: share of predicted / true points within ``threshold`` of the other
    surface; fscore: their harmonic mean."""
    from scipy.spatial import cKDTree

    p = sample_surface(*pred, count, seed)
    t = sample_surface(*truth, count, seed + 1)
    d_pt, _ = cKDTree(t).query(p)
    d_tp, _ = cKDTree(p).query(t)
    precision = float(np.mean(d_pt < threshold))
    recall = float(np.mean(d_tp < threshold))
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {
        "chamfer": float(0.5 * (d_pt.mean() + d_tp.mean())),
        "precision": precision,
        "recall": recall,
        "fscore": float(f),
        "threshold": threshold,
        "hausdorff_95": float(max(np.percentile(d_pt, 95), np.percentile(d_tp, 95))),
    }
