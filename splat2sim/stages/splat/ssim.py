"""SSIM (Wang et al. 2004) with an 11x11 Gaussian window, differentiable, in PyTorch.

The window is separable, so each local mean is two 1-D convolutions (11 + 11 taps instead of
121), and the five local statistics go through them stacked as channels of one tensor; the
target's own statistics need no gradient. Same value as the direct 2-D window (zero padding
commutes with the separable product): tests/unit/test_ssim.py checks it against one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_C1 = 0.01**2
_C2 = 0.03**2


def gaussian_taps(size: int, sigma: float, device=None, dtype=None) -> torch.Tensor:
    """[size] normalised 1-D Gaussian; the 2-D window is its outer product."""
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(t: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Per-channel Gaussian blur of t [B,C,H,W], zero padding, same size."""
    c, k = t.shape[1], len(taps)
    t = F.conv2d(t, taps.view(1, 1, k, 1).expand(c, 1, k, 1), padding=(k // 2, 0), groups=c)
    return F.conv2d(t, taps.view(1, 1, 1, k).expand(c, 1, 1, k), padding=(0, k // 2), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of images a, b [B,H,W,3] in [0, 1] (same padding, zeros outside).
    Differentiable in ``a``; ``b`` is the target (no gradient flows to it)."""
    x, y = a.permute(0, 3, 1, 2), b.permute(0, 3, 1, 2)
    c = x.shape[1]
    taps = gaussian_taps(window_size, sigma, x.device, x.dtype)
    with torch.no_grad():
        ys = _blur(torch.cat([y, y * y], 1), taps)
    mu_y, e_yy = ys[:, :c], ys[:, c:]
    xs = _blur(torch.cat([x, x * x, x * y], 1), taps)
    mu_x, e_xx, e_xy = xs[:, :c], xs[:, c : 2 * c], xs[:, 2 * c :]
    sxx = e_xx - mu_x**2
    syy = e_yy - mu_y**2
    sxy = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + _C1) * (2 * sxy + _C2)
    den = (mu_x**2 + mu_y**2 + _C1) * (sxx + syy + _C2)
    return (num / den).mean()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()
