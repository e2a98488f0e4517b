"""Scenes for the rasterizer tests: analytic ones and random ones."""

from __future__ import annotations

import math

import torch

from splat2sim.render import Cameras, Gaussians
from splat2sim.render.conventions import SH_C0


def make_gaussians(means, log_scales, quats=None, opacity_logits=None, sh=None, dtype=torch.float64) -> Gaussians:
    means = torch.as_tensor(means, dtype=dtype).reshape(-1, 3)
    n = means.shape[0]
    log_scales = torch.as_tensor(log_scales, dtype=dtype).expand(n, 3).clone()
    quats = torch.tensor([[1.0, 0, 0, 0]], dtype=dtype).repeat(n, 1) if quats is None else torch.as_tensor(quats, dtype=dtype)
    opacity_logits = torch.zeros(n, dtype=dtype) if opacity_logits is None else torch.as_tensor(opacity_logits, dtype=dtype)
    sh = torch.zeros(n, 1, 3, dtype=dtype) if sh is None else torch.as_tensor(sh, dtype=dtype)
    return Gaussians(means, log_scales, quats, opacity_logits, sh)


def dc_for_colour(rgb) -> torch.Tensor:
    """SH DC coefficient that renders as ``rgb`` (before opacity)."""
    return (torch.as_tensor(rgb, dtype=torch.float64) - 0.5) / SH_C0


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def identity_cameras(width=64, height=48, f=60.0, dtype=torch.float64, n=1, on_pixel=False) -> Cameras:
    """Cameras at the origin looking down +z. With on_pixel, the optical axis passes
    through the centre of pixel (row height/2, col width/2) instead of a pixel corner."""
    off = 0.5 if on_pixel else 0.0
    intr = torch.tensor([[f, f, width / 2 + off, height / 2 + off]], dtype=dtype).repeat(n, 1)
    return Cameras(torch.eye(4, dtype=dtype).repeat(n, 1, 1), intr, width, height)


def look_at(eye, target, dtype=torch.float64) -> torch.Tensor:
    """world_from_camera [4,4] of an OpenCV camera at eye looking at target, world +z up."""
    eye = torch.as_tensor(eye, dtype=dtype)
    fwd = torch.as_tensor(target, dtype=dtype) - eye
    fwd = fwd / fwd.norm()
    up = torch.tensor([0.0, 0.0, 1.0], dtype=dtype)
    right = torch.linalg.cross(fwd, up)
    right = right / right.norm()
    down = torch.linalg.cross(fwd, right)
    m = torch.eye(4, dtype=dtype)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, fwd, eye
    return m


def random_scene(seed: int, n: int = 300, sh_degree: int = 3, dtype=torch.float64, width=64, height=48):
    """A few hundred Gaussians around the origin, two cameras looking at them; some
    Gaussians sit behind a camera, off-screen or beyond the far plane."""
    gen = torch.Generator().manual_seed(seed)

    def rn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    means = rn(n, 3) * 0.6
    means[:10] = torch.tensor([0.0, -4.0, 0.5]) + rn(10, 3) * 0.3  # behind camera 0
    means[10:20] = torch.tensor([6.0, 0.0, 0.0]) + rn(10, 3) * 0.3  # off to the side
    log_scales = -2.6 + 0.5 * rn(n, 3)
    quats = rn(n, 4)
    opacity_logits = rn(n) * 1.5
    k = (sh_degree + 1) ** 2
    sh = rn(n, k, 3) * 0.25
    sh[:, 0] = rn(n, 3) * 1.2
    g = Gaussians(*(t.to(dtype) for t in (means, log_scales, quats, opacity_logits, sh)))
    w2c = torch.stack([look_at([0.3, -3.0, 0.8], [0, 0, 0]), look_at([2.5, -1.5, 1.5], [0, 0, 0.1])])
    f = 0.9 * width
    intr = torch.tensor([[f, f, width / 2, height / 2], [0.8 * f, 0.85 * f, width / 2 + 2, height / 2 - 1]])
    return g, Cameras(w2c.to(dtype), intr.to(dtype), width, height)


def params(g: Gaussians):
    return [g.means, g.log_scales, g.quats, g.opacity_logits, g.sh]


PARAM_NAMES = ["means", "log_scales", "quats", "opacity_logits", "sh"]


def with_grad(g: Gaussians) -> Gaussians:
    return Gaussians(*(t.detach().clone().requires_grad_(True) for t in params(g)))


def single_gaussian_scene(dtype=torch.float64):
    """One anisotropic, rotated Gaussian with SH up to degree 2 in front of one camera, and a
    coloured background: (gaussians, cameras, background)."""
    g = make_gaussians([0.1, -0.05, 2.0], [math.log(0.08), math.log(0.05), math.log(0.12)],
                       quats=[[0.9, 0.2, -0.3, 0.1]], opacity_logits=[logit(0.7)],
                       sh=torch.randn(1, 9, 3, dtype=torch.float64) * 0.3, dtype=dtype)  # fmt: skip
    return g, identity_cameras(dtype=dtype), torch.tensor([0.1, 0.5, 0.9])


def overlapping_pair_scene(dtype=torch.float64):
    """A red Gaussian at depth 2 in front of a blue one at depth 4, both on the optical axis
    of a camera whose centre pixel is (32, 24): (gaussians, cameras). Composited, that pixel
    is 0.9 red + 0.09 blue, and its median depth is 2."""
    red, blue = dc_for_colour([1.0, 0, 0]), dc_for_colour([0, 0, 1.0])
    g = make_gaussians([[0, 0, 4.0], [0, 0, 2.0]], math.log(0.2), opacity_logits=[logit(0.9)] * 2,
                       sh=torch.stack([blue, red])[:, None], dtype=dtype)  # fmt: skip
    return g, identity_cameras(dtype=dtype, on_pixel=True)
