"""Depth, alpha and colour renders of (subsets of) the splat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Renders:
    rgb: np.ndarray  # [C,H,W,3] float32 in [0,1]
    alpha: np.ndarray  # [C,H,W]
    depth: np.ndarray  # [C,H,W] expected camera-frame z (0 where empty)
    median_depth: np.ndarray | None = None  # [C,H,W] z where transmittance crosses 0.5 (0 where it never does)


def load_gaussians(path, frame=None):
    """The splat as torch Gaussians (float32, CPU), in metres when given the MetricFrame."""
    import torch

    from splat2sim.io.gaussians_ply import read_gaussians_ply
    from splat2sim.render import Gaussians

    data = read_gaussians_ply(path)
    if frame is not None and not frame.identity:
        data["means"], data["log_scales"] = frame.gaussians(data["means"], data["log_scales"])
    return Gaussians(*(torch.tensor(np.ascontiguousarray(data[k]), dtype=torch.float32)
                       for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))  # fmt: skip


def subset(gaussians, mask: np.ndarray):
    import torch

    from splat2sim.render import Gaussians

    idx = torch.from_numpy(np.flatnonzero(mask))
    return Gaussians(*(t[idx] for t in (gaussians.means, gaussians.log_scales, gaussians.quats,
                                         gaussians.opacity_logits, gaussians.sh)))  # fmt: skip


def render_views(gaussians, views, backend: str, batch: int = 8, near: float = 0.005) -> Renders:
    """Render every camera of ``views`` (a ViewSet) in batches; no gradients."""
    import torch

    from splat2sim.render import render

    rgbs, alphas, depths, medians = [], [], [], []
    with torch.no_grad():
        for start in range(0, views.num, batch):
            index = np.arange(start, min(views.num, start + batch))
            if gaussians.num == 0:
                shape = (len(index), views.height, views.width)
                (
                    rgbs.append(np.zeros(shape + (3,), np.float32)),
                    alphas.append(np.zeros(shape, np.float32)),
                    depths.append(np.zeros(shape, np.float32)),
                    medians.append(np.zeros(shape, np.float32)),
                )
                continue
            out = render(gaussians, views.torch(index), backend=backend, near=near)
            rgbs.append(out.rgb.clamp(0, 1).numpy())
            alphas.append(out.alpha[..., 0].numpy())
            depths.append(out.depth[..., 0].numpy())
            medians.append(out.median_depth[..., 0].numpy())
    return Renders(np.concatenate(rgbs), np.concatenate(alphas), np.concatenate(depths), np.concatenate(medians))
