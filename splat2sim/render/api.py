"""render(), backend resolution and mask lifting."""

from __future__ import annotations

from types import ModuleType

import torch

from splat2sim.errors import ConfigError, DependencyError, InputError
from splat2sim.render import conventions as cv
from splat2sim.render.types import Cameras, Contributions, Gaussians, RenderOutput

BACKENDS = ("auto", "torch", "native", "gsplat")
DEFAULT_TOP_K = 8


def _as_device(device) -> torch.device:
    return torch.device(device) if not isinstance(device, torch.device) else device


def _raise_from_status(why: str) -> None:
    """Re-raise a status string ("message\n  hint: fix") as a DependencyError."""
    message, _, hint = why.partition("\n  hint: ")
    raise DependencyError(message, hint=hint or None)


def resolve_backend(name: str = "auto", device: torch.device | str = "cpu") -> tuple[str, str]:
    """Pick the backend for tensors on ``device``: returns (backend, reason).

    auto: on CUDA the native CUDA kernels (built on first use), else gsplat, else torch;
    on the CPU the native CPU kernels, else torch. ``native`` runs the CPU or the CUDA
    kernels by the device (the reason says which). A named backend that cannot run
    raises DependencyError naming the cause and the fix; an unknown name raises
    ConfigError."""
    from splat2sim.render.gsplat_backend import gsplat_status, require_gsplat
    from splat2sim.render.native import native_status

    dev = _as_device(device)
    if name not in BACKENDS:
        raise ConfigError(f"Unknown render backend {name!r}.", hint=f"choose one of: {', '.join(BACKENDS)}")
    if name == "torch":
        return "torch", "requested: pure PyTorch reference"
    if name == "gsplat":
        require_gsplat(dev)
        _require_self_check("gsplat", dev)
        return "gsplat", "requested: gsplat on CUDA"
    if name == "native":
        if dev.type == "cuda":
            from splat2sim.render.native_cuda import native_cuda_status

            ok, why = native_cuda_status()
        elif dev.type == "cpu":
            ok, why = native_status()
        else:
            raise DependencyError(
                f"The native backend has CPU and CUDA kernels only; tensors are on {dev}.",
                hint="use backend='torch', or render on the CPU or a CUDA device",
            )
        if not ok:
            _raise_from_status(why)
        _require_self_check("native", dev)
        return "native", f"requested: {why}"
    # auto
    reasons = []
    if dev.type == "cuda":
        from splat2sim.render.native_cuda import native_cuda_status

        ok, why = native_cuda_status()
        if ok and _self_check_passes("native", dev, reasons):
            return "native", f"auto: {why}"
        if not ok:
            reasons.append("native CUDA: " + why.partition("\n  hint: ")[0].replace("\n", " ").rstrip("."))
        ok, why = gsplat_status(dev)
        if ok and _self_check_passes("gsplat", dev, reasons):
            return "gsplat", f"auto: {why}" + (f" ({'; '.join(reasons)})" if reasons else "")
        if not ok:
            reasons.append(why)
    elif dev.type == "cpu":
        ok, why = native_status()
        if ok and _self_check_passes("native", dev, reasons):
            return "native", f"auto: {why}"
        if not ok:
            reasons.append(why.replace("\n", " "))
    else:
        reasons.append(f"no native or gsplat kernels for device {dev}")
    return "torch", "auto: pure PyTorch reference, because " + "; ".join(reasons)


def _self_check_passes(name: str, dev: torch.device, reasons: list[str]) -> bool:
    """Whether ``name`` passed its self-check on ``dev`` (run on first use); a failure is
    added to ``reasons``. Inside the check itself the backend is taken as it is."""
    from splat2sim.render import selfcheck

    if selfcheck.checking(name, dev):
        return True
    result = selfcheck.self_check(name, dev, render)
    if not result.ok:
        reasons.append(f"{name} on {dev} failed its self-check against the torch reference: {result.detail}")
    return result.ok


def _require_self_check(name: str, dev: torch.device) -> None:
    reasons: list[str] = []
    if not _self_check_passes(name, dev, reasons):
        raise DependencyError(
            f"The {name} backend does not reproduce the torch reference on {dev}: {reasons[0]}",
            hint="use backend='torch' (or 'auto', which falls back), and report this with `splat2sim doctor`'s output",
        )


def _ops(name: str) -> ModuleType:
    if name == "torch":
        from splat2sim.render import torch_ref

        return torch_ref
    from splat2sim.render import native

    return native


def _background(background, c: int, dtype, device) -> torch.Tensor:
    if background is None:
        return torch.zeros(c, 3, dtype=dtype, device=device)
    bg = torch.as_tensor(background, dtype=dtype, device=device)
    if bg.shape == (3,):
        bg = bg.expand(c, 3)
    if tuple(bg.shape) != (c, 3):
        raise InputError(f"background has shape {tuple(bg.shape)}, expected [3] or [{c}, 3].")
    return bg


def _sh_degree(gaussians: Gaussians, sh_degree: int | None) -> int:
    have = gaussians.sh_degree
    if sh_degree is None:
        return have
    if not 0 <= int(sh_degree) <= have:
        raise InputError(f"sh_degree={sh_degree} is outside 0..{have} (the Gaussians hold degree {have}).")
    return int(sh_degree)


def render(
    gaussians: Gaussians,
    cameras: Cameras,
    *,
    backend: str = "auto",
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,  # [3] or [C,3]; default black
    near: float = 0.01,
    far: float = 1e4,
    return_contributions: bool = False,
    top_k: int = DEFAULT_TOP_K,
) -> RenderOutput:
    """Render C views of N Gaussians; differentiable w.r.t. means, log_scales, quats,
    opacity_logits and sh (not the cameras). Conventions: splat2sim.render.conventions."""
    out, _ = _render(
        gaussians, cameras, backend=backend, sh_degree=sh_degree, background=background,
        near=near, far=far, top_k=top_k if return_contributions else 0, extra=None,
    )  # fmt: skip
    return out


def render_features(
    gaussians: Gaussians,
    cameras: Cameras,
    features: torch.Tensor,  # [N,E] or [C,N,E]: per-Gaussian features to composite
    *,
    backend: str = "auto",
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,  # [3] or [C,3]; default black
    near: float = 0.01,
    far: float = 1e4,
) -> tuple[RenderOutput, torch.Tensor]:
    """Render and, in the same pass, alpha-composite per-Gaussian ``features``: returns
    (the render, [C,H,W,E] sum over Gaussians of blending weight * feature). No background
    is added to the features (a pixel nothing covers composites to 0). A one-hot feature
    per group of Gaussians gives each group's share of every pixel's opacity, e.g. which
    object a pixel shows. Backends: torch and native (gsplat raises DependencyError)."""
    C, N = cameras.num, gaussians.num
    f = torch.as_tensor(features, dtype=gaussians.dtype, device=gaussians.device)
    if f.dim() == 2:
        f = f[None].expand(C, *f.shape)
    if f.dim() != 3 or tuple(f.shape[:2]) != (C, N):
        raise InputError(f"features has shape {tuple(features.shape)}, expected [{N},E] or [{C},{N},E].")
    return _render(gaussians, cameras, backend=backend, sh_degree=sh_degree, background=background,
                   near=near, far=far, top_k=0, extra=f.contiguous())  # fmt: skip


def _render(gaussians, cameras, *, backend, sh_degree, background, near, far, top_k, extra):
    gaussians.validate()
    cameras.validate()
    dev, dt = gaussians.device, gaussians.dtype
    name, reason = resolve_backend(backend, dev)
    cams = cameras.to(dev, dt)
    C, N, W, H = cams.num, gaussians.num, int(cams.width), int(cams.height)
    deg = _sh_degree(gaussians, sh_degree)
    bg = _background(background, C, dt, dev)
    viewmats = cams.camera_from_world()  # [C,4,4]

    if name == "gsplat":
        if extra is not None:
            raise DependencyError(
                "render_features and mask_weights need per-Gaussian feature channels, which the gsplat adapter does not expose.",
                hint="use backend='native' (CPU or CUDA) or 'torch'",
            )
        return _render_gsplat(gaussians, cams, viewmats, deg, bg, near, far, top_k, name, reason), None

    ops = _ops(name)
    g = gaussians
    means2d, conics, depths, radii = ops.project(
        g.means, g.quats, g.log_scales, viewmats, cams.intrinsics, W, H, near, far
    )  # [C,N,2], [C,N,3], [C,N], [C,N]
    if means2d.requires_grad:
        means2d.retain_grad()
    dirs = g.means[None, :, :] - cams.centers()[:, None, :]  # [C,N,3]
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    colors = torch.clamp_min(ops.eval_sh(deg, dirs, g.sh) + 0.5, 0.0)  # [C,N,3]
    opacities = torch.sigmoid(g.opacity_logits)[None, :].expand(C, N)  # [C,N]
    offsets, flat_ids = ops.bin_tiles(means2d.detach(), radii, depths.detach(), W, H)
    parts = [colors, depths[..., None]]
    if extra is not None:
        parts.append(extra)  # [C,N,E]
    feats = torch.cat(parts, dim=-1)  # [C,N,4(+E)]
    out, alpha, median_ids, k_ids, k_w = ops.rasterize(means2d, conics, feats, opacities, offsets, flat_ids, W, H, top_k)
    result = _finish(out, alpha, median_ids, k_ids, k_w, means2d, depths, radii, bg, top_k, name, reason)
    return result, (out[..., 4:] if extra is not None else None)


def _finish(out, alpha, median_ids, k_ids, k_w, means2d, depths, radii, bg, top_k, name, reason):
    rgb = out[..., :3] + (1 - alpha) * bg[:, None, None, :]
    has = alpha > cv.DEPTH_ALPHA_EPS
    depth = torch.where(has, out[..., 3:4] / torch.where(has, alpha, torch.ones_like(alpha)),
                        torch.zeros_like(alpha))  # fmt: skip
    C = depths.shape[0]
    med = median_ids.clamp_min(0).reshape(C, -1)  # [C,H*W]
    padded = torch.cat([depths, depths.new_zeros(C, 1)], dim=1)  # [C,N+1]: N = 0 stays valid
    median = torch.gather(padded, 1, med).reshape(median_ids.shape)
    median = torch.where(median_ids >= 0, median, torch.zeros_like(median))[..., None]
    contrib = Contributions(ids=k_ids.long(), weights=k_w) if top_k > 0 else None
    return RenderOutput(
        rgb=rgb, alpha=alpha, depth=depth, median_depth=median, means2d=means2d, radii=radii,
        depths=depths, backend=name, backend_reason=reason, contributions=contrib,
    )  # fmt: skip


def _render_gsplat(g, cams, viewmats, deg, bg, near, far, top_k, name, reason):
    from splat2sim.render import torch_ref
    from splat2sim.render.gsplat_backend import render_gsplat

    W, H = int(cams.width), int(cams.height)
    colors, alpha, means2d, conics, depths, radii, opac = render_gsplat(
        g.means, g.quats, g.log_scales, g.opacity_logits, g.sh, viewmats, cams.K(), W, H, deg,
        near, far, top_k,
    )  # fmt: skip
    if means2d.requires_grad:
        means2d.retain_grad()
    with torch.no_grad():  # median depth and contributions: reference compositor, no grad
        offsets, flat_ids = torch_ref.bin_tiles(means2d, radii, depths, W, H)
        feats = depths[..., None].contiguous()
        _, _, median_ids, k_ids, k_w = torch_ref.rasterize(
            means2d.detach(), conics.detach(), feats.detach(), opac.detach(), offsets, flat_ids, W, H, top_k
        )
    # gsplat's "D" channel is the accumulated depth sum(w z); background is added here.
    out = torch.cat([colors[..., :3], colors[..., 3:4]], dim=-1)
    return _finish(out, alpha, median_ids, k_ids, k_w, means2d, depths, radii, bg, top_k, name, reason)


def mask_weights(
    gaussians: Gaussians,
    cameras: Cameras,
    masks: torch.Tensor,  # [C,H,W] or [H,W], bool or float (soft masks allowed)
    *,
    backend: str = "auto",
    sh_degree: int | None = None,
    near: float = 0.01,
    far: float = 1e4,
    per_camera: bool = False,
) -> torch.Tensor:
    """Exact per-Gaussian mask weight: sum over pixels p of mask[p] * w_i(p), the blending
    weight Gaussian i has at p. [N] (summed over cameras) or [C,N] with per_camera.

    Divide by the unmasked total (mask of ones) for the fraction of a Gaussian's
    visible weight that falls inside the mask. Computed exactly as the gradient of
    sum(mask * out) w.r.t. a zero per-Gaussian feature channel, so it works with every
    backend that differentiates features (torch, native)."""
    C, H, W = cameras.num, int(cameras.height), int(cameras.width)
    m = masks.to(device=gaussians.device, dtype=gaussians.dtype)
    if m.dim() == 2:
        m = m.expand(C, H, W)
    if tuple(m.shape) != (C, H, W):
        raise InputError(f"masks has shape {tuple(masks.shape)}, expected [{C},{H},{W}] or [{H},{W}].")
    g = Gaussians(*(t.detach() for t in (gaussians.means, gaussians.log_scales, gaussians.quats,
                                         gaussians.opacity_logits, gaussians.sh)))  # fmt: skip
    probe = torch.zeros(C, g.num, 1, dtype=g.dtype, device=g.device, requires_grad=True)
    with torch.enable_grad():
        _, extra_out = _render(
            g, cameras, backend=backend, sh_degree=sh_degree, background=None, near=near, far=far,
            top_k=0, extra=probe,
        )  # fmt: skip
        (grad,) = torch.autograd.grad((extra_out[..., 0] * m).sum(), probe)
    grad = grad[..., 0]  # [C,N]
    return grad if per_camera else grad.sum(0)
