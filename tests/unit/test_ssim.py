"""The training loss's SSIM (separable window, stacked statistics) against the textbook
form: one 11x11 2-D Gaussian window per statistic (Wang et al. 2004)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from splat2sim.stages.splat.ssim import _C1, _C2, gaussian_taps, ssim


def _ssim_2d_window(a, b, size=11, sigma=1.5):
    x, y = a.permute(0, 3, 1, 2), b.permute(0, 3, 1, 2)
    c = x.shape[1]
    g = gaussian_taps(size, sigma, dtype=x.dtype)
    w = (g[:, None] * g[None, :]).expand(c, 1, size, size).contiguous()

    def blur(t):
        return F.conv2d(t, w, padding=size // 2, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    return (((2 * mu_x * mu_y + _C1) * (2 * sxy + _C2)) / ((mu_x**2 + mu_y**2 + _C1) * (sxx + syy + _C2))).mean()


def test_ssim_equals_the_2d_window_form_in_value_and_gradient():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 37, 53, 3, generator=gen, dtype=torch.float64)
    render = (target + 0.2 * torch.randn(target.shape, generator=gen, dtype=torch.float64)).clamp(0, 1).requires_grad_(True)
    ours = ssim(render, target)
    (g_ours,) = torch.autograd.grad(ours, render)
    ref = _ssim_2d_window(render, target)
    (g_ref,) = torch.autograd.grad(ref, render)
    # float64: only the order of the sums differs
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-15, rtol=1e-9)
    assert 0.2 < float(ours.detach()) < 0.9  # noisy, not equal: a value in between


def test_ssim_of_an_image_with_itself_is_one():
    img = torch.rand(1, 24, 32, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert abs(float(ssim(img, img)) - 1) < 1e-12
