"""Analytic checks of the pure-PyTorch reference rasterizer (the oracle)."""

from __future__ import annotations

import math

import pytest
import torch

from splat2sim.render import Cameras, Gaussians, render, torch_ref
from splat2sim.render.conventions import ALPHA_MIN, EPS2D, SH_C0

from .scenes import dc_for_colour, identity_cameras, logit, make_gaussians, params, random_scene, with_grad


def test_isotropic_gaussian_head_on_footprint():
    # Mean projects to the centre of pixel (row 20, col 30): u = 30.5, v = 20.5.
    f, z, s, o = 60.0, 3.0, 0.05, 0.8
    cams = identity_cameras(64, 48, f)
    x, y = (30.5 - 32) * z / f, (20.5 - 24) * z / f
    g = make_gaussians([x, y, z], math.log(s), opacity_logits=[logit(o)])
    out = render(g, cams, backend="torch")
    assert out.means2d[0, 0].tolist() == pytest.approx([30.5, 20.5], abs=1e-9)
    assert out.depths[0, 0].item() == pytest.approx(z)
    # Off-axis, J adds a tiny anisotropy; compute the expected 2D covariance exactly.
    J = torch.tensor([[f / z, 0, -f * x / z**2], [0, f / z, -f * y / z**2]], dtype=torch.float64)
    cov2d = s**2 * J @ J.T + EPS2D * torch.eye(2, dtype=torch.float64)
    lam = torch.linalg.eigvalsh(cov2d).max().item()
    assert out.radii[0, 0].item() == math.ceil(3 * math.sqrt(lam))
    conic = torch.linalg.inv(cov2d)
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    d = torch.stack([30.5 - (xs + 0.5), 20.5 - (ys + 0.5)], dim=-1).double()
    sigma = 0.5 * torch.einsum("hwi,ij,hwj->hw", d, conic, d)
    expect = o * torch.exp(-sigma)
    r = out.radii[0, 0].item()
    # inside the 3-sigma square (which lies within its tiles) the footprint is exact
    inside = (d.abs() <= r).all(-1)
    expect = torch.where(expect >= ALPHA_MIN, expect, torch.zeros_like(expect))
    got = out.alpha[0, ..., 0]
    torch.testing.assert_close(got[inside], expect[inside], atol=1e-12, rtol=0)
    assert got[20, 30].item() == pytest.approx(o)  # the peak, at the projected pixel
    assert got.argmax().item() == 20 * 64 + 30
    # nothing outside the tiles the radius square touches
    tx0, tx1 = math.floor((30.5 - r) / 16), math.ceil((30.5 + r) / 16)
    ty0, ty1 = math.floor((20.5 - r) / 16), math.ceil((20.5 + r) / 16)
    mask = torch.zeros(48, 64, dtype=torch.bool)
    mask[ty0 * 16 : ty1 * 16, tx0 * 16 : tx1 * 16] = True
    assert got[~mask].abs().max().item() == 0.0
    # expected and median depth of a single Gaussian are its depth where it is visible
    assert out.depth[0, 20, 30, 0].item() == pytest.approx(z)
    assert out.median_depth[0, 20, 30, 0].item() == pytest.approx(z)  # T = 0.2 <= 0.5
    assert out.median_depth[0, 0, 0, 0].item() == 0.0


def test_opacity_and_background_math():
    colour = torch.tensor([0.9, 0.3, 0.1], dtype=torch.float64)
    bg = torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64)
    g = make_gaussians([0.0, 0.0, 2.0], math.log(0.1), opacity_logits=[logit(0.7)], sh=dc_for_colour(colour)[None, None])
    out = render(g, identity_cameras(on_pixel=True), backend="torch", background=bg)
    a = out.alpha[0]  # [H,W,1]
    torch.testing.assert_close(out.rgb[0], a * colour + (1 - a) * bg, atol=1e-12, rtol=0)
    assert a.max().item() == pytest.approx(0.7)
    assert out.rgb[0, 0, 0].tolist() == pytest.approx(bg.tolist())  # empty corner


def test_alpha_clamp_and_early_termination():
    # Three nearly opaque Gaussians on one ray. The second is clamped to alpha 0.99; the
    # third would take T from 2e-4 to 2e-6 (<= 1e-4), so compositing stops without it.
    cols = [dc_for_colour(c) for c in ([1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0])]
    g = make_gaussians([[0, 0, 2.0], [0, 0, 3.0], [0, 0, 4.0]], math.log(0.2),
                       opacity_logits=[logit(0.98), logit(0.999), logit(0.999)],
                       sh=torch.stack(cols)[:, None])  # fmt: skip
    out = render(g, identity_cameras(on_pixel=True), backend="torch", return_contributions=True)
    assert out.rgb[0, 24, 32].tolist() == pytest.approx([0.98, 0.02 * 0.99, 0.0], abs=1e-12)
    assert out.alpha[0, 24, 32, 0].item() == pytest.approx(1 - 0.02 * 0.01, abs=1e-12)
    ids = out.contributions.ids[0, 24, 32].tolist()
    assert ids[:3] == [0, 1, -1]


@pytest.mark.parametrize("swap", [False, True])
def test_overlapping_pair_front_colour_dominates(swap):
    red, blue = dc_for_colour([1.0, 0, 0]), dc_for_colour([0, 0, 1.0])
    means = [[0, 0, 2.0], [0, 0, 4.0]]
    sh = torch.stack([red, blue])[:, None]
    if swap:  # storage order must not matter, depth order does
        means, sh = means[::-1], sh.flip(0)
    g = make_gaussians(means, math.log(0.2), opacity_logits=[logit(0.9)] * 2, sh=sh)
    out = render(g, identity_cameras(on_pixel=True), backend="torch")
    px = out.rgb[0, 24, 32]
    # w_front = 0.9, w_back = 0.9 * (1 - 0.9) = 0.09
    assert px.tolist() == pytest.approx([0.9, 0.0, 0.09], abs=1e-9)
    assert out.depth[0, 24, 32, 0].item() == pytest.approx((0.9 * 2 + 0.09 * 4) / 0.99)
    assert out.median_depth[0, 24, 32, 0].item() == pytest.approx(2.0)


def test_sh_degree_zero_gives_dc_colour():
    colour = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    sh = torch.randn(1, 16, 3, dtype=torch.float64) * 0.3
    sh[0, 0] = dc_for_colour(colour)
    g = make_gaussians([0.3, -0.2, 2.5], math.log(0.1), opacity_logits=[logit(0.6)], sh=sh)
    out0 = render(g, identity_cameras(), backend="torch", sh_degree=0)
    a = out0.alpha[0]
    vis = a[..., 0] > 0.01
    torch.testing.assert_close(out0.rgb[0][vis] / a[vis], colour.expand(int(vis.sum()), 3), atol=1e-12, rtol=0)
    out3 = render(g, identity_cameras(), backend="torch")  # higher degrees change it
    assert (out3.rgb - out0.rgb).abs().max().item() > 1e-3


def test_sh_basis_is_orthonormal():
    n = 20000  # Fibonacci sphere quadrature
    i = torch.arange(n, dtype=torch.float64) + 0.5
    zc = 1 - 2 * i / n
    phi = math.pi * (1 + 5**0.5) * i
    r = torch.sqrt(1 - zc * zc)
    dirs = torch.stack([r * torch.cos(phi), r * torch.sin(phi), zc], -1)
    b = torch_ref.sh_basis(3, dirs)  # [n,16]
    gram = b.T @ b * (4 * math.pi / n)
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=2e-3, rtol=0)
    assert b[0, 0].item() == pytest.approx(SH_C0)


def test_culling_behind_near_far_and_offscreen():
    log_s = [math.log(0.1), math.log(0.05), math.log(0.08)]  # anisotropic: quats matter
    g = make_gaussians([[0, 0, -1.0], [0, 0, 0.005], [0, 0, 50.0], [40.0, 0, 2.0], [0, 0, 2.0]], log_s,
                       opacity_logits=[2.0] * 5, quats=torch.randn(5, 4, dtype=torch.float64))  # fmt: skip
    g = with_grad(g)
    out = render(g, identity_cameras(), backend="torch", far=20.0)
    assert out.radii[0].tolist()[:4] == [0, 0, 0, 0] and out.radii[0, 4].item() > 0
    w = torch.linspace(0.5, 1.5, 48 * 64, dtype=torch.float64).reshape(1, 48, 64, 1)
    loss = (w * (out.rgb + out.depth + out.alpha)).sum()
    loss.backward()
    for t in params(g):
        assert torch.isfinite(t.grad).all()
        assert t.grad[:4].abs().max().item() == 0.0
        assert t.grad[4].abs().max().item() > 0.0
    assert out.means2d.grad is not None and out.means2d.grad.shape == (1, 5, 2)


def test_torch_reference_gradcheck_float64():
    gen = torch.Generator().manual_seed(3)
    n = 4
    means = torch.tensor([[0.0, 0.0, 2.0], [0.1, 0.05, 2.4], [-0.15, 0.1, 3.0], [0.05, -0.12, 1.8]], dtype=torch.float64)
    log_scales = -2.3 + 0.3 * torch.randn(n, 3, generator=gen, dtype=torch.float64)
    quats = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    opac = torch.tensor([0.5, -0.3, 1.0, 0.0], dtype=torch.float64)
    sh = 0.3 * torch.randn(n, 4, 3, generator=gen, dtype=torch.float64)
    cams = identity_cameras(20, 16, 25.0)
    w = torch.randn(1, 16, 20, 5, generator=gen, dtype=torch.float64)

    def f(m, ls, q, o, s):
        out = render(Gaussians(m, ls, q, o, s), cams, backend="torch", background=torch.tensor([0.1, 0.2, 0.3]))
        return (torch.cat([out.rgb, out.alpha, out.depth], -1) * w).sum()

    inputs = tuple(t.clone().requires_grad_(True) for t in (means, log_scales, quats, opac, sh))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_random_scene_is_finite_and_deterministic():
    g, cams = random_scene(0, n=200, dtype=torch.float32)
    a = render(g, cams, backend="torch", return_contributions=True)
    b = render(g, cams, backend="torch", return_contributions=True)
    assert a.rgb.shape == (2, 48, 64, 3) and a.radii.shape == (2, 200)
    for k in ("rgb", "alpha", "depth", "median_depth"):
        assert torch.isfinite(getattr(a, k)).all()
        assert torch.equal(getattr(a, k), getattr(b, k))
    assert (a.radii[0, :10] == 0).all()  # behind camera 0
    assert (a.alpha <= 1).all() and (a.alpha >= 0).all()
    assert a.contributions.ids.shape == (2, 48, 64, 8)


def test_cameras_inverse_and_intrinsics():
    g, cams = random_scene(1, n=30)
    v = cams.camera_from_world()
    torch.testing.assert_close(v @ cams.world_from_camera, torch.eye(4, dtype=torch.float64).expand(2, 4, 4))
    K = cams.K()
    assert K[0, 0, 0] == cams.intrinsics[0, 0] and K[0, 1, 2] == cams.intrinsics[0, 3]
    assert isinstance(cams, Cameras)
