"""How solid each object looks in the keyframes, from the rasterizer's exact blending weights.

A solid object covers the pixels inside its silhouette on its own: there its Gaussians carry
nearly all of each pixel's blending weight. Fog that a coarse splat leaves over a support it
cannot resolve (a far, grazing view of a repetitive table top) stands above the support like
an object, yet every view sees the support through it: at its most covered pixels it carries
half of the weight or less. This measures that, per object: the segment stage rejects a
cluster below ``segment.min_solidity`` and lowers an object's confidence below
``confidence.SOLID`` (segment.run, segment.confidence); this module only measures.

    solidity = view_solidity(gaussians, cameras, labels, count)   # [count] in [0, 1], nan: unseen

Per view, an object's pixels are those where it carries at least ``TOUCH`` of the weight; its
solidity in that view is the 90th percentile of its weight over them (the interior of a
silhouette, not its blurred rim); over the views, the median.
"""

from __future__ import annotations

import numpy as np

TOUCH = 0.1  # a pixel an object touches carries at least this share of its blending weight
MIN_PIXELS = 4  # fewer touched pixels in a view: no evidence from that view
PERCENTILE = 90


def view_solidity(gaussians, cameras, labels: np.ndarray, count: int, *, backend: str = "auto") -> np.ndarray:
    """[count] per object label 0..count-1 of ``labels`` [N] (-1: background): the median
    over ``cameras`` of its weight at its most covered pixels; nan where no view sees it."""
    import torch

    from splat2sim.render import Cameras, render_features

    labels = np.asarray(labels)
    if count == 0:
        return np.zeros(0)
    onehot = torch.zeros(gaussians.num, count, dtype=gaussians.dtype)
    mine = np.flatnonzero((labels >= 0) & (labels < count))
    onehot[torch.from_numpy(mine), torch.from_numpy(labels[mine].astype(np.int64))] = 1.0
    per_view: list[list[float]] = [[] for _ in range(count)]
    for c in range(cameras.num):
        cam = Cameras(cameras.world_from_camera[c : c + 1], cameras.intrinsics[c : c + 1], cameras.width, cameras.height)
        with torch.no_grad():
            _, share = render_features(gaussians, cam, onehot, backend=backend)
        share = share[0].reshape(-1, count).cpu().numpy()  # [H*W, count]
        for k in range(count):
            w = share[:, k]
            touched = w[w >= TOUCH]
            if len(touched) >= MIN_PIXELS:
                per_view[k].append(float(np.percentile(touched, PERCENTILE)))
    return np.array([float(np.median(v)) if v else np.nan for v in per_view])
