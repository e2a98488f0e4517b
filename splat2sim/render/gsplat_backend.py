"""Adapter over gsplat.rasterization (CUDA only). Converts splat2sim's conventions to
gsplat's: viewmats = camera_from_world, Ks [C,3,3], scales = exp(log_scales),
opacities = sigmoid(logits), colours given as SH coefficients with sh_degree.

Differences from the reference, by gsplat's design: gsplat 1.5 bounds the radius with
the opacity as well (tighter tiles) and reports per-axis radii (we return their max).
Median depth and top-K contributions are not gsplat outputs; they come from a no-grad
pass of the reference compositor over gsplat's projected Gaussians.
"""

from __future__ import annotations

import torch

from splat2sim.errors import DependencyError


def gsplat_status(device: torch.device) -> tuple[bool, str]:
    """(available, reason) for gsplat on this device."""
    if device.type != "cuda":
        return False, (f"gsplat has no CPU rasterizer (tensors are on {device}); use backend native or torch")
    if not torch.cuda.is_available():
        return False, "gsplat needs CUDA, and torch.cuda.is_available() is False"
    try:
        import gsplat  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means unavailable
        return False, f"gsplat cannot be imported ({type(exc).__name__}: {exc})"
    return True, "gsplat on CUDA"


def require_gsplat(device: torch.device) -> None:
    ok, reason = gsplat_status(device)
    if not ok:
        if device.type != "cuda":
            hint = "use backend='native' or backend='torch' on the CPU"
        else:
            hint = "pip install 'splat2sim[gpu]' (gsplat) with a CUDA build of torch; or use backend='torch'"
        raise DependencyError(reason, hint=hint)


def render_gsplat(
    means: torch.Tensor,  # [N,3]
    quats: torch.Tensor,  # [N,4]
    log_scales: torch.Tensor,  # [N,3]
    opacity_logits: torch.Tensor,  # [N]
    sh: torch.Tensor,  # [N,K,3]
    viewmats: torch.Tensor,  # [C,4,4]
    Ks: torch.Tensor,  # [C,3,3]
    width: int,
    height: int,
    sh_degree: int,
    near: float,
    far: float,
    top_k: int,
):
    """Returns (rgb_no_bg_with_depth [C,H,W,4], alpha [C,H,W,1], means2d [C,N,2],
    conics [C,N,3], depths [C,N], radii [C,N] int32, opacities [C,N])."""
    from gsplat import rasterization

    nb = (sh_degree + 1) ** 2
    colors, alphas, meta = rasterization(
        means=means,
        quats=quats,
        scales=torch.exp(log_scales),
        opacities=torch.sigmoid(opacity_logits),
        colors=sh[:, :nb, :].contiguous(),
        viewmats=viewmats,
        Ks=Ks,
        width=width,
        height=height,
        near_plane=near,
        far_plane=far,
        sh_degree=sh_degree,
        packed=False,
        render_mode="RGB+D",
        rasterize_mode="classic",
        eps2d=0.3,
        tile_size=16,
    )
    radii = meta["radii"]
    if radii.dim() == 3:
        radii = radii.max(dim=-1).values
    opac = meta.get("opacities")
    if opac is None:
        opac = torch.sigmoid(opacity_logits)[None].expand(viewmats.shape[0], -1)
    return colors, alphas, meta["means2d"], meta["conics"], meta["depths"], radii.to(torch.int32), opac
