"""Lifting 2D masks to Gaussians: per-view mask weights, association across views, voting.

    W, T = view_weights(gaussians, cameras, masks_by_view)      # exact, via render.mask_weights
    groups = associate(W, T, masks_by_view, threshold=0.4)       # masks of one object, across views
    labels, score = vote(W, T, groups, threshold=0.5)            # instance per Gaussian, -1 none

W[v] [M_v, N]: sum over the pixels of mask m of view v of each Gaussian's blending weight;
T[v] [N]: the same for a mask of ones (the Gaussian's whole visible weight in view v).
W / T is the share of a Gaussian's visible weight that falls inside a mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def view_weights(gaussians, cameras, masks_by_view: list[np.ndarray], *, backend: str = "auto") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exact per-Gaussian mask weights for every mask of every view (one batched
    ``mask_weights`` call per view: the camera repeated once per mask, plus a mask of ones)."""
    import torch

    from splat2sim.render import Cameras, mask_weights

    W, T = [], []
    for v, masks in enumerate(masks_by_view):
        masks = np.asarray(masks, bool).reshape(-1, int(cameras.height), int(cameras.width))
        m = len(masks)
        rep = Cameras(cameras.world_from_camera[v : v + 1].expand(m + 1, 4, 4), cameras.intrinsics[v : v + 1].expand(m + 1, 4),
                      cameras.width, cameras.height)  # fmt: skip
        stack = torch.cat([torch.from_numpy(masks).float(), torch.ones(1, masks.shape[1], masks.shape[2])])
        with torch.no_grad():
            w = mask_weights(gaussians, rep, stack, backend=backend, per_camera=True).cpu().numpy().astype(np.float64)
        W.append(w[:m])
        T.append(w[m])
    return W, T


def _visible(t: np.ndarray) -> np.ndarray:
    """Gaussians that carry a meaningful share of a view's weight (not numerical dust)."""
    return t > 1e-3 * max(float(t.max()), 1e-12) if len(t) else t.astype(bool)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def lifted_iou(fa: np.ndarray, fb: np.ndarray, common: np.ndarray) -> float:
    """Soft IoU of two per-Gaussian shares on the Gaussians both views see."""
    a, b = fa[common], fb[common]
    den = np.maximum(a, b).sum()
    return float(np.minimum(a, b).sum() / den) if den > 0 else 0.0


def associate(W: list[np.ndarray], T: list[np.ndarray], masks_by_view: list[np.ndarray], threshold: float = 0.4,
              same_view_iou: float = 0.6) -> list[list[tuple[int, int]]]:  # fmt: skip
    """Group masks (view, index) that show the same object: greedy union of the most similar
    pairs first (lifted IoU across views, 2D IoU within a view) above ``threshold``; two
    different masks of one view (2D IoU below ``same_view_iou``) never end in one group,
    which is what keeps touching objects apart when another view merged them."""
    nodes = [(v, m) for v in range(len(W)) for m in range(len(W[v]))]
    if not nodes:
        return []
    shares = {(v, m): np.where(T[v] > 0, W[v][m] / np.maximum(T[v], 1e-30), 0.0) for v, m in nodes}
    vis = [_visible(t) for t in T]
    edges = []
    for a in range(len(nodes)):
        for b in range(a + 1, len(nodes)):
            (va, ma), (vb, mb) = nodes[a], nodes[b]
            if va == vb:
                s = mask_iou(masks_by_view[va][ma], masks_by_view[vb][mb])
                if s >= same_view_iou:
                    edges.append((s, a, b))
                continue
            common = vis[va] & vis[vb]
            s = lifted_iou(shares[nodes[a]], shares[nodes[b]], common)
            if s >= threshold:
                edges.append((s, a, b))
    parent = list(range(len(nodes)))
    members = {i: [i] for i in range(len(nodes))}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def conflict(ra, rb) -> bool:
        for i in members[ra]:
            for j in members[rb]:
                vi, mi = nodes[i]
                vj, mj = nodes[j]
                if vi == vj and mask_iou(masks_by_view[vi][mi], masks_by_view[vj][mj]) < same_view_iou:
                    return True
        return False

    for _, a, b in sorted(edges, reverse=True):
        ra, rb = root(a), root(b)
        if ra == rb or conflict(ra, rb):
            continue
        parent[rb] = ra
        members[ra] += members.pop(rb)
    return [[nodes[i] for i in group] for group in members.values()]


def vote(W: list[np.ndarray], T: list[np.ndarray], groups: list[list[tuple[int, int]]], threshold: float = 0.5,
         min_views: int = 1) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Label each Gaussian with the group holding at least ``threshold`` of its visible
    weight summed over all views (a view where the group has no mask votes against it).
    Returns labels [N] (-1: no group wins, or seen in fewer than ``min_views`` views) and
    scores [G, N]."""
    n = len(T[0]) if T else 0
    total = np.sum(T, axis=0) if T else np.zeros(0)
    seen = np.sum([_visible(t) for t in T], axis=0) if T else np.zeros(0)
    scores = np.zeros((len(groups), n))
    for k, group in enumerate(groups):
        by_view: dict[int, np.ndarray] = {}
        for v, m in group:
            by_view[v] = np.maximum(by_view.get(v, 0.0), W[v][m])
        for w in by_view.values():
            scores[k] += w
    scores = np.where(total > 0, scores / np.maximum(total, 1e-30), 0.0)
    labels = np.full(n, -1, np.int32)
    if len(groups):
        best = scores.argmax(0)
        ok = (scores[best, np.arange(n)] >= threshold) & (seen >= min_views)
        labels[ok] = best[ok]
    return labels, scores


@dataclass
class LiftResult:
    labels: np.ndarray  # [N] instance per Gaussian, -1 none
    scores: np.ndarray  # [G, N]
    groups: list[list[tuple[int, int]]]


def lift_masks(gaussians, cameras, masks_by_view: list[np.ndarray], *, associate_threshold: float = 0.4,
               vote_threshold: float = 0.5, backend: str = "auto") -> LiftResult:  # fmt: skip
    """2D instance masks of several views -> 3D instances over the Gaussians."""
    W, T = view_weights(gaussians, cameras, masks_by_view, backend=backend)
    groups = associate(W, T, masks_by_view, associate_threshold)
    labels, scores = vote(W, T, groups, vote_threshold)
    return LiftResult(labels, scores, groups)


def label_images(gaussians, cameras, labels: np.ndarray, *, backend: str = "auto", top_k: int = 16,
                 min_alpha: float = 0.5) -> np.ndarray:  # fmt: skip
    """[C,H,W] int32 image of the label whose Gaussians carry the most blending weight at
    each pixel (-1: background labels or an empty pixel). Occlusion-aware: a label hidden
    behind another surface does not show."""
    import torch

    from splat2sim.render import render

    lab = torch.from_numpy(np.asarray(labels, np.int64))
    k = int(lab.max()) + 1 if len(lab) and lab.max() >= 0 else 0
    out = []
    for c in range(cameras.num):
        cam = type(cameras)(cameras.world_from_camera[c : c + 1], cameras.intrinsics[c : c + 1], cameras.width, cameras.height)
        with torch.no_grad():
            r = render(gaussians, cam, backend=backend, return_contributions=True, top_k=top_k)
        ids, w = r.contributions.ids[0], r.contributions.weights[0]  # [H,W,K]
        cls = torch.where(ids >= 0, lab[ids.clamp_min(0)], torch.full_like(ids, -1))
        cls = torch.where(cls < 0, torch.full_like(cls, k), cls)  # background class = k
        acc = torch.zeros(*ids.shape[:2], k + 1, dtype=w.dtype)
        acc.scatter_add_(2, cls, torch.where(ids >= 0, w, torch.zeros_like(w)))
        img = acc.argmax(-1)
        img = torch.where((img == k) | (r.alpha[0, ..., 0] < min_alpha), torch.full_like(img, -1), img)
        out.append(img.numpy().astype(np.int32))
    return np.stack(out) if out else np.zeros((0, int(cameras.height), int(cameras.width)), np.int32)
