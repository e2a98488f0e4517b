"""The native CPU backend against the torch reference: every op and the full renderer,
outputs and gradients, in float64 (tight) and float32 (atol ~1e-4)."""

from __future__ import annotations

import pytest
import torch

from splat2sim.render import Gaussians, mask_weights, native, render, torch_ref

from .scenes import PARAM_NAMES, identity_cameras, overlapping_pair_scene, params, random_scene, single_gaussian_scene, with_grad

pytestmark = pytest.mark.usefixtures("native_ok")

TOL = {torch.float64: dict(atol=1e-9, rtol=1e-9), torch.float32: dict(atol=1e-4, rtol=1e-4)}
GRAD_TOL = {torch.float64: dict(atol=1e-8, rtol=1e-7), torch.float32: dict(atol=2e-3, rtol=2e-3)}


def _render_and_grad(g: Gaussians, cams, backend, background=None, top_k=8):
    g = with_grad(g)
    out = render(g, cams, backend=backend, background=background, return_contributions=True, top_k=top_k)
    gen = torch.Generator().manual_seed(7)
    w = torch.randn(*out.rgb.shape[:3], 6, generator=gen, dtype=torch.float64).to(out.rgb.dtype)
    stacked = torch.cat([out.rgb, out.alpha, out.depth, out.median_depth], -1)
    loss = (stacked * w).sum()
    loss.backward()
    return out, [t.grad for t in params(g)]


def _compare(g, cams, dtype, background=None):
    ref, ref_g = _render_and_grad(g, cams, "torch", background)
    nat, nat_g = _render_and_grad(g, cams, "native", background)
    assert nat.backend == "native"
    for k in ("rgb", "alpha", "depth", "median_depth", "means2d", "depths"):
        torch.testing.assert_close(getattr(nat, k), getattr(ref, k), **TOL[dtype], msg=k)
    assert torch.equal(nat.radii, ref.radii)
    torch.testing.assert_close(nat.means2d.grad, ref.means2d.grad, **GRAD_TOL[dtype])
    for name, a, b in zip(PARAM_NAMES, nat_g, ref_g):
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a, b, atol=GRAD_TOL[dtype]["atol"] * scale, rtol=GRAD_TOL[dtype]["rtol"],
                                   msg=lambda m, name=name: f"grad {name}: {m}")  # fmt: skip
    return ref, nat


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_single_gaussian(dtype):
    g, cams, background = single_gaussian_scene(dtype)
    _compare(g, cams, dtype, background=background)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_overlapping_pair_front_colour_dominates(dtype):
    ref, nat = _compare(*overlapping_pair_scene(dtype), dtype)
    assert nat.rgb[0, 24, 32].tolist() == pytest.approx([0.9, 0.0, 0.09], abs=1e-6)
    assert nat.median_depth[0, 24, 32, 0].item() == pytest.approx(2.0)


@pytest.mark.parametrize("seed,sh_degree", [(0, 3), (1, 1), (2, 0), (3, 2)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_random_scenes(seed, sh_degree, dtype):
    g, cams = random_scene(seed, n=300, sh_degree=sh_degree, dtype=dtype)
    ref, nat = _compare(g, cams, dtype, background=torch.tensor([0.3, 0.2, 0.1]))
    assert (ref.radii[0, :10] == 0).all()  # behind camera 0: culled by both
    assert (ref.radii > 0).sum() > 200  # most are visible
    same = (nat.contributions.ids == ref.contributions.ids).float().mean().item()
    assert same > 0.999
    torch.testing.assert_close(nat.contributions.weights, ref.contributions.weights, **TOL[dtype])


def test_ops_one_by_one_float64():
    """project, SH, binning and rasterize separately, values and VJPs (gsplat style)."""
    dt = torch.float64
    g, cams = random_scene(5, n=200, sh_degree=3, dtype=dt)
    W, H = cams.width, cams.height
    viewmats = cams.camera_from_world()
    gen = torch.Generator().manual_seed(0)

    def vjp(fn, inputs, n_out):
        inputs = [t.detach().clone().requires_grad_(True) for t in inputs]
        outs = fn(*inputs)[:n_out]
        wgen = torch.Generator().manual_seed(0)  # same weights for both backends
        ws = [torch.randn(o.shape, generator=wgen, dtype=dt) for o in outs]
        loss = sum((o * w).sum() for o, w in zip(outs, ws))
        grads = torch.autograd.grad(loss, inputs, allow_unused=True)
        return outs, tuple(torch.zeros_like(t) if gr is None else gr for t, gr in zip(inputs, grads))

    # projection
    args = (g.means, g.quats, g.log_scales)
    f_ref = lambda m, q, s: torch_ref.project(m, q, s, viewmats, cams.intrinsics, W, H, 0.01, 1e4)  # noqa: E731
    f_nat = lambda m, q, s: native.project(m, q, s, viewmats, cams.intrinsics, W, H, 0.01, 1e4)  # noqa: E731
    (o_r, g_r), (o_n, g_n) = vjp(f_ref, args, 3), vjp(f_nat, args, 3)
    for a, b in zip(o_n + g_n, o_r + g_r):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
    m2, con, dep, radii = (t.detach() for t in torch_ref.project(*args, viewmats, cams.intrinsics, W, H, 0.01, 1e4))
    assert torch.equal(radii, native.project(*args, viewmats, cams.intrinsics, W, H, 0.01, 1e4)[3])

    # SH, every degree
    dirs = torch.nn.functional.normalize(torch.randn(2, 200, 3, generator=gen, dtype=dt), dim=-1)
    for deg in range(4):
        (o_r, g_r) = vjp(lambda d, c: (torch_ref.eval_sh(deg, d, c),), (dirs, g.sh), 1)
        (o_n, g_n) = vjp(lambda d, c: (native.eval_sh(deg, d, c),), (dirs, g.sh), 1)
        for a, b in zip(o_n + g_n, o_r + g_r):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)

    # binning: same tiles, same order
    off_r, ids_r = torch_ref.bin_tiles(m2, radii, dep, W, H)
    off_n, ids_n = native.bin_tiles(m2, radii, dep, W, H)
    assert torch.equal(off_r, off_n) and torch.equal(ids_r, ids_n.long())

    # rasterize
    feats = torch.rand(2, 200, 5, generator=gen, dtype=dt)
    opac = torch.rand(2, 200, generator=gen, dtype=dt)
    rin = (m2, con, feats, opac)
    f_r = lambda a, b, c, d: torch_ref.rasterize(a, b, c, d, off_r, ids_r, W, H, 4)  # noqa: E731
    f_n = lambda a, b, c, d: native.rasterize(a, b, c, d, off_n, ids_n, W, H, 4)  # noqa: E731
    (o_r, g_r), (o_n, g_n) = vjp(f_r, rin, 2), vjp(f_n, rin, 2)
    for a, b in zip(o_n + g_n, o_r + g_r):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
    _, _, med_r, kid_r, kw_r = f_r(*rin)
    _, _, med_n, kid_n, kw_n = f_n(*rin)
    assert torch.equal(med_r, med_n) and torch.equal(kid_r, kid_n)
    torch.testing.assert_close(kw_n, kw_r)


def test_native_gradcheck_float64():
    gen = torch.Generator().manual_seed(4)
    n = 5
    means = torch.tensor([[0.0, 0.0, 2.0], [0.1, 0.05, 2.4], [-0.15, 0.1, 3.0], [0.05, -0.12, 1.8], [0.0, 0.0, -1.0]],
                         dtype=torch.float64)  # fmt: skip
    log_scales = -2.3 + 0.3 * torch.randn(n, 3, generator=gen, dtype=torch.float64)
    quats = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    opac = torch.tensor([0.5, -0.3, 1.0, 0.0, 0.2], dtype=torch.float64)
    sh = 0.3 * torch.randn(n, 9, 3, generator=gen, dtype=torch.float64)
    cams = identity_cameras(20, 16, 25.0)
    w = torch.randn(1, 16, 20, 6, generator=gen, dtype=torch.float64)

    def f(m, ls, q, o, s):
        out = render(Gaussians(m, ls, q, o, s), cams, backend="native")
        return (torch.cat([out.rgb, out.alpha, out.depth, out.median_depth], -1) * w).sum()

    inputs = tuple(t.clone().requires_grad_(True) for t in (means, log_scales, quats, opac, sh))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("backend", ["torch", "native"])
def test_mask_weights_exact_and_topk_helper(backend):
    g, cams = random_scene(6, n=150, sh_degree=1, dtype=torch.float64)
    H, W = cams.height, cams.width
    ones = torch.ones(2, H, W)
    total = mask_weights(g, cams, ones, backend=backend, per_camera=True)  # [C,N]
    out = render(g, cams, backend=backend, return_contributions=True, top_k=64)
    # the weights of all Gaussians at a pixel add up to its alpha
    torch.testing.assert_close(total.sum(1), out.alpha.sum(dim=(1, 2, 3)))
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[10:30, 20:50] = True
    exact = mask_weights(g, cams, mask, backend=backend)  # [N]
    approx = out.contributions.weights_per_gaussian(mask, g.num)
    torch.testing.assert_close(approx, exact, atol=1e-6, rtol=1e-6)  # 64 slots hold every contributor here
    assert (exact <= total.sum(0) + 1e-12).all()
    if backend == "native":
        torch.testing.assert_close(exact, mask_weights(g, cams, mask, backend="torch"))


def test_means2d_grad_is_retained_for_densification():
    g, cams = random_scene(0, n=100, dtype=torch.float32)
    g = with_grad(g)
    out = render(g, cams, backend="native")
    out.rgb.sum().backward()
    assert out.means2d.grad is not None and out.means2d.grad.shape == (2, 100, 2)
    assert out.means2d.grad[out.radii > 0].abs().sum() > 0
    assert (out.means2d.grad[out.radii == 0] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_partial_tiles_odd_image_size(dtype):
    g, cams = random_scene(8, n=250, sh_degree=2, dtype=dtype, width=50, height=37)
    ref, nat = _compare(g, cams, dtype)
    assert nat.rgb.shape == (2, 37, 50, 3)


@pytest.mark.parametrize("backend", ["torch", "native"])
def test_empty_scene_renders_background(backend):
    g = Gaussians(torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 1, 3))
    cams = identity_cameras(dtype=torch.float32)
    out = render(g, cams, backend=backend, background=torch.tensor([0.1, 0.2, 0.3]), return_contributions=True)
    assert out.alpha.abs().max().item() == 0.0
    torch.testing.assert_close(out.rgb[0, 5, 7], torch.tensor([0.1, 0.2, 0.3]))
    assert out.means2d.shape == (1, 0, 2) and (out.contributions.ids == -1).all()
