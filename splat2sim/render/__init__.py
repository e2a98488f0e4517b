"""splat2sim.render: a differentiable Gaussian-splat rasterizer with several backends.

    out = render(gaussians, cameras, backend="auto")   # -> RenderOutput
    out.rgb [C,H,W,3], out.alpha / out.depth / out.median_depth [C,H,W,1],
    out.means2d [C,N,2] (grad retained), out.radii [C,N], out.backend, out.backend_reason

Backends (``resolve_backend(name, device) -> (backend, reason)``):
    torch   pure PyTorch reference (torch_ref.py), tile based; the oracle for the others.
    native  C++ kernels in csrc/ (CPU, OpenMP; forward and backward), built on first use
            or ahead of time with build_native() / ``make native``.
    gsplat  adapter over gsplat.rasterization, CUDA only.
    auto    native CUDA (not written yet) -> gsplat on CUDA -> native CPU -> torch.

Lifting 2D masks to Gaussians: ``render(..., return_contributions=True)`` gives per-pixel
top-K Gaussian ids and blending weights (``out.contributions.weights_per_gaussian(mask, N)``),
and ``mask_weights(gaussians, cameras, masks)`` gives the exact per-Gaussian sum of
mask * blending weight.

CONVENTIONS: see splat2sim.render.conventions (frames, parameterization, projection,
compositing, depth definitions); the native kernels share its constants.
"""

from splat2sim.render.api import BACKENDS, mask_weights, render, resolve_backend
from splat2sim.render.native import build_native
from splat2sim.render.types import Cameras, Contributions, Gaussians, RenderOutput

__all__ = [
    "BACKENDS",
    "Cameras",
    "Contributions",
    "Gaussians",
    "RenderOutput",
    "build_native",
    "mask_weights",
    "render",
    "resolve_backend",
]
