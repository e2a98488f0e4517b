"""The native CUDA kernels against the torch reference (on the CPU): the scenes of
test_native_conformance.py and test_conformance_1k.py, outputs and gradients, float64
(tight) and float32 (rel err < 1e-4), plus what only the GPU path has (feature channels
in several passes, many Gaussians per tile, agreement with the CPU kernels) and a short
training run. GPU machines only: ``make test-gpu`` or ``pytest -m gpu tests/render``."""

from __future__ import annotations

import math

import pytest
import torch

from splat2sim.render import Gaussians, mask_weights, native, render, resolve_backend, torch_ref

from .scenes import PARAM_NAMES, identity_cameras, overlapping_pair_scene, params, random_scene, single_gaussian_scene, with_grad

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.usefixtures("native_cuda_ok"),
]

TOL = {torch.float64: dict(atol=1e-9, rtol=1e-9), torch.float32: dict(atol=1e-4, rtol=1e-4)}
GRAD_TOL = {torch.float64: dict(atol=1e-8, rtol=1e-7), torch.float32: dict(atol=2e-3, rtol=2e-3)}
CUDA = torch.device("cuda")


def cuda(g: Gaussians) -> Gaussians:
    return Gaussians(*(t.to(CUDA) for t in params(g)))


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return (torch.linalg.norm(a - b) / torch.linalg.norm(b).clamp_min(1e-30)).item()


def _render_and_grad(g: Gaussians, cams, backend, background=None, top_k=8):
    g = with_grad(g)
    out = render(g, cams, backend=backend, background=background, return_contributions=True, top_k=top_k)
    gen = torch.Generator().manual_seed(7)
    w = torch.randn(*out.rgb.shape[:3], 6, generator=gen, dtype=torch.float64).to(out.rgb)
    stacked = torch.cat([out.rgb, out.alpha, out.depth, out.median_depth], -1)
    (stacked * w).sum().backward()
    return out, [t.grad.cpu() for t in params(g)]


def _compare(g, cams, dtype, background=None):
    """torch reference on the CPU vs native CUDA, everything compared on the CPU."""
    ref, ref_g = _render_and_grad(g, cams, "torch", background)
    nat, nat_g = _render_and_grad(cuda(g), cams, "native", background)
    assert nat.backend == "native" and "CUDA" in nat.backend_reason
    assert nat.rgb.is_cuda
    for k in ("rgb", "alpha", "depth", "median_depth", "means2d", "depths"):
        torch.testing.assert_close(getattr(nat, k).cpu(), getattr(ref, k), **TOL[dtype], msg=k)
    assert torch.equal(nat.radii.cpu(), ref.radii)
    torch.testing.assert_close(nat.means2d.grad.cpu(), ref.means2d.grad, **GRAD_TOL[dtype])
    for name, a, b in zip(PARAM_NAMES, nat_g, ref_g):
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a, b, atol=GRAD_TOL[dtype]["atol"] * scale, rtol=GRAD_TOL[dtype]["rtol"],
                                   msg=lambda m, name=name: f"grad {name}: {m}")  # fmt: skip
    return ref, nat


def test_auto_on_cuda_picks_native_cuda():
    name, reason = resolve_backend("auto", "cuda")
    assert name == "native" and "native CUDA extension" in reason and reason.startswith("auto:")
    assert resolve_backend("native", "cuda")[1].startswith("requested: native CUDA extension")


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
    assert (ref.radii[0, :10] == 0).all()
    same = (nat.contributions.ids.cpu() == ref.contributions.ids).float().mean().item()
    assert same > 0.999
    torch.testing.assert_close(nat.contributions.weights.cpu(), ref.contributions.weights, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_partial_tiles_odd_image_size(dtype):
    g, cams = random_scene(8, n=250, sh_degree=2, dtype=dtype, width=50, height=37)
    ref, nat = _compare(g, cams, dtype)
    assert nat.rgb.shape == (2, 37, 50, 3)


def _vjp(fn, inputs, n_out, dt):
    inputs = [t.detach().clone().requires_grad_(True) for t in inputs]
    outs = fn(*inputs)[:n_out]
    wgen = torch.Generator().manual_seed(0)  # same weights for both backends
    ws = [torch.randn(o.shape, generator=wgen, dtype=dt).to(o.device) for o in outs]
    loss = sum((o * w).sum() for o, w in zip(outs, ws))
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    grads = tuple(torch.zeros_like(t) if gr is None else gr for t, gr in zip(inputs, grads))
    return [o.detach().cpu() for o in outs], [gr.cpu() for gr in grads]


def test_ops_one_by_one_float64():
    """project, SH, binning and rasterize separately, values and VJPs, CUDA vs reference."""
    dt = torch.float64
    g, cams = random_scene(5, n=200, sh_degree=3, dtype=dt)
    W, H = cams.width, cams.height
    vm, K = cams.camera_from_world(), cams.intrinsics
    vm_c, K_c = vm.to(CUDA), K.to(CUDA)
    gen = torch.Generator().manual_seed(0)

    args = (g.means, g.quats, g.log_scales)
    o_r, g_r = _vjp(lambda m, q, s: torch_ref.project(m, q, s, vm, K, W, H, 0.01, 1e4), args, 3, dt)
    o_n, g_n = _vjp(lambda m, q, s: native.project(m, q, s, vm_c, K_c, W, H, 0.01, 1e4),
                    [a.to(CUDA) for a in args], 3, dt)  # fmt: skip
    for a, b in zip(o_n + g_n, o_r + g_r):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
    m2, con, dep, radii = (t.detach() for t in torch_ref.project(*args, vm, K, W, H, 0.01, 1e4))
    radii_c = native.project(*(a.to(CUDA) for a in args), vm_c, K_c, W, H, 0.01, 1e4)[3]
    assert torch.equal(radii, radii_c.cpu())

    dirs = torch.nn.functional.normalize(torch.randn(2, 200, 3, generator=gen, dtype=dt), dim=-1)
    for deg in range(4):
        o_r, g_r = _vjp(lambda d, c: (torch_ref.eval_sh(deg, d, c),), (dirs, g.sh), 1, dt)
        o_n, g_n = _vjp(lambda d, c: (native.eval_sh(deg, d, c),), (dirs.to(CUDA), g.sh.to(CUDA)), 1, dt)
        for a, b in zip(o_n + g_n, o_r + g_r):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)

    # binning: same tiles, same order (depth ties by id) as the reference and the CPU kernels
    off_r, ids_r = torch_ref.bin_tiles(m2, radii, dep, W, H)
    off_n, ids_n = native.bin_tiles(m2.to(CUDA), radii.to(CUDA), dep.to(CUDA), W, H)
    assert off_n.is_cuda and ids_n.dtype == torch.int32
    assert torch.equal(off_r, off_n.cpu()) and torch.equal(ids_r, ids_n.cpu().long())
    off32, ids32 = native.bin_tiles(m2.float().to(CUDA), radii.to(CUDA), dep.float().to(CUDA), W, H)
    off_cpu32, ids_cpu32 = native.bin_tiles(m2.float(), radii, dep.float(), W, H)
    assert torch.equal(off32.cpu(), off_cpu32) and torch.equal(ids32.cpu(), ids_cpu32)

    feats = torch.rand(2, 200, 5, generator=gen, dtype=dt)
    opac = torch.rand(2, 200, generator=gen, dtype=dt)
    rin = (m2, con, feats, opac)
    f_r = lambda a, b, c, d: torch_ref.rasterize(a, b, c, d, off_r, ids_r, W, H, 4)  # noqa: E731
    f_n = lambda a, b, c, d: native.rasterize(a, b, c, d, off_n, ids_n, W, H, 4)  # noqa: E731
    o_r, g_r = _vjp(f_r, rin, 2, dt)
    o_n, g_n = _vjp(f_n, [t.to(CUDA) for t in rin], 2, dt)
    for a, b in zip(o_n + g_n, o_r + g_r):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
    _, _, med_r, kid_r, kw_r = f_r(*rin)
    _, _, med_n, kid_n, kw_n = f_n(*(t.to(CUDA) for t in rin))
    assert torch.equal(med_r, med_n.cpu()) and torch.equal(kid_r, kid_n.cpu())
    torch.testing.assert_close(kw_n.cpu(), kw_r)


@pytest.mark.parametrize("channels", [1, 8, 13])
def test_feature_channels_in_several_passes(channels):
    """The CUDA compositor holds at most 8 channels in registers and does more in passes;
    outputs and VJPs must not depend on that."""
    dt = torch.float64
    g, cams = random_scene(9, n=300, sh_degree=0, dtype=dt)
    W, H = cams.width, cams.height
    m2, con, dep, radii = (t.detach() for t in torch_ref.project(g.means, g.quats, g.log_scales,
                                                                 cams.camera_from_world(), cams.intrinsics, W, H, 0.01, 1e4))  # fmt: skip
    off, ids = torch_ref.bin_tiles(m2, radii, dep, W, H)
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 300, channels, generator=gen, dtype=dt)
    opac = torch.rand(2, 300, generator=gen, dtype=dt)
    rin = (m2, con, feats, opac)
    o_r, g_r = _vjp(lambda a, b, c, d: torch_ref.rasterize(a, b, c, d, off, ids, W, H, 3), rin, 2, dt)
    off_c, ids_c = off.to(CUDA), ids.to(CUDA)
    o_n, g_n = _vjp(lambda a, b, c, d: native.rasterize(a, b, c, d, off_c, ids_c, W, H, 3),
                    [t.to(CUDA) for t in rin], 2, dt)  # fmt: skip
    for a, b in zip(o_n + g_n, o_r + g_r):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def test_gradcheck_float64_on_cuda():
    gen = torch.Generator().manual_seed(4)
    n = 5
    means = torch.tensor([[0.0, 0.0, 2.0], [0.1, 0.05, 2.4], [-0.15, 0.1, 3.0], [0.05, -0.12, 1.8], [0.0, 0.0, -1.0]],
                         dtype=torch.float64)  # fmt: skip
    log_scales = -2.3 + 0.3 * torch.randn(n, 3, generator=gen, dtype=torch.float64)
    quats = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    opac = torch.tensor([0.5, -0.3, 1.0, 0.0, 0.2], dtype=torch.float64)
    sh = 0.3 * torch.randn(n, 9, 3, generator=gen, dtype=torch.float64)
    cams = identity_cameras(20, 16, 25.0)
    w = torch.randn(1, 16, 20, 6, generator=gen, dtype=torch.float64).to(CUDA)

    def f(m, ls, q, o, s):
        out = render(Gaussians(m, ls, q, o, s), cams, backend="native")
        return (torch.cat([out.rgb, out.alpha, out.depth, out.median_depth], -1) * w).sum()

    inputs = tuple(t.to(CUDA).requires_grad_(True) for t in (means, log_scales, quats, opac, sh))
    # nondet_tol: gradients are summed with atomics, so two backward passes may differ in the last bits
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, nondet_tol=1e-12)


def test_mask_weights_exact_and_topk_helper():
    g, cams = random_scene(6, n=150, sh_degree=1, dtype=torch.float64)
    gc = cuda(g)
    H, W = cams.height, cams.width
    total = mask_weights(gc, cams, torch.ones(2, H, W), backend="native", per_camera=True)
    out = render(gc, cams, backend="native", return_contributions=True, top_k=64)
    torch.testing.assert_close(total.sum(1), out.alpha.sum(dim=(1, 2, 3)))
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[10:30, 20:50] = True
    exact = mask_weights(gc, cams, mask, backend="native")
    assert exact.is_cuda
    approx = out.contributions.weights_per_gaussian(mask, g.num)
    torch.testing.assert_close(approx, exact, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(exact.cpu(), mask_weights(g, cams, mask, backend="torch"))


def test_means2d_grad_is_retained_for_densification():
    g, cams = random_scene(0, n=100, dtype=torch.float32)
    g = with_grad(cuda(g))
    out = render(g, cams, backend="native")
    out.rgb.sum().backward()
    assert out.means2d.grad is not None and out.means2d.grad.shape == (2, 100, 2)
    assert out.means2d.grad[out.radii > 0].abs().sum() > 0
    assert (out.means2d.grad[out.radii == 0] == 0).all()


def test_empty_scene_renders_background():
    z = torch.zeros
    g = Gaussians(z(0, 3), z(0, 3), z(0, 4), z(0), z(0, 1, 3))
    out = render(cuda(g), identity_cameras(dtype=torch.float32), backend="native",
                 background=torch.tensor([0.1, 0.2, 0.3]), return_contributions=True)  # fmt: skip
    assert out.alpha.abs().max().item() == 0.0
    torch.testing.assert_close(out.rgb[0, 5, 7].cpu(), torch.tensor([0.1, 0.2, 0.3]))
    assert out.means2d.shape == (1, 0, 2) and (out.contributions.ids == -1).all()


# ---- issue 4's bar (test_conformance_1k.py) on the GPU ----


def _run(g, cams, backend):
    g = with_grad(g)
    out = render(g, cams, backend=backend, background=torch.tensor([0.2, 0.3, 0.4]))
    gen = torch.Generator().manual_seed(3)
    stacked = torch.cat([out.rgb, out.alpha, out.depth], -1)
    weights = torch.randn(stacked.shape, generator=gen, dtype=torch.float64).to(stacked)
    (stacked * weights).sum().backward()
    return out, {name: t.grad for name, t in zip(PARAM_NAMES, params(g))}


@pytest.mark.parametrize("seed", [0, 1])
def test_1k_gaussians_float32_relative_error(seed):
    g, cams = random_scene(seed, n=1000, sh_degree=3, dtype=torch.float32, width=96, height=72)
    ref, ref_grads = _run(g, cams, "torch")
    nat, nat_grads = _run(cuda(g), cams, "native")
    assert (ref.radii > 0).sum() > 1500
    for key in ("rgb", "alpha", "depth"):
        assert _relative(getattr(nat, key), getattr(ref, key)) < 1e-4, key
    for name in PARAM_NAMES:
        assert _relative(nat_grads[name], ref_grads[name]) < 1e-4, f"gradient of {name}"


def test_many_gaussians_per_tile_matches_cpu_kernels():
    """20k Gaussians at 640x360: long tile lists (several shared-memory batches), early
    termination, many atomics. The CPU kernels are the reference here (the torch
    reference is too slow at this size); float32, relative error < 1e-4."""
    g, cams = random_scene(11, n=20000, sh_degree=3, dtype=torch.float32, width=640, height=360)
    cpu, cpu_grads = _run(g, cams, "native")
    gpu, gpu_grads = _run(cuda(g), cams, "native")
    assert "CPU" in cpu.backend_reason and "CUDA" in gpu.backend_reason
    assert torch.equal(cpu.radii, gpu.radii.cpu())
    for key in ("rgb", "alpha", "depth", "median_depth"):
        assert _relative(getattr(gpu, key), getattr(cpu, key)) < 1e-4, key
    for name in PARAM_NAMES:
        assert _relative(gpu_grads[name], cpu_grads[name]) < 1e-4, f"gradient of {name}"


def test_training_smoke_on_cuda():
    """A few hundred Adam steps on CUDA fit a small splat to views of a known one."""
    torch.manual_seed(0)
    truth, cams = random_scene(12, n=400, sh_degree=1, dtype=torch.float32, width=128, height=96)
    truth = cuda(truth)
    with torch.no_grad():
        target = render(truth, cams, backend="native").rgb
    start = Gaussians(truth.means + 0.02 * torch.randn_like(truth.means), truth.log_scales + 0.3,
                      truth.quats, torch.zeros_like(truth.opacity_logits), torch.zeros_like(truth.sh))  # fmt: skip
    g = with_grad(start)
    opt = torch.optim.Adam([{"params": [g.means], "lr": 1e-3}, {"params": [g.log_scales, g.quats], "lr": 5e-3},
                            {"params": [g.opacity_logits, g.sh], "lr": 2e-2}])  # fmt: skip

    def psnr() -> float:
        with torch.no_grad():
            mse = ((render(g, cams, backend="native").rgb - target) ** 2).mean().item()
        return -10 * math.log10(max(mse, 1e-12))

    before = psnr()
    for _ in range(300):
        out = render(g, cams, backend="native")
        loss = (out.rgb - target).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    after = psnr()
    assert out.backend == "native" and "CUDA" in out.backend_reason
    assert after > before + 6.0, (before, after)
