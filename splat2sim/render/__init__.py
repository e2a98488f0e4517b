"""splat2sim.render: a differentiable Gaussian-splat rasterizer with several backends.

    out = render(gaussians, cameras, backend="auto")   # -> RenderOutput
    out.rgb [C,H,W,3], out.alpha / out.depth / out.median_depth [C,H,W,1],
    out.means2d [C,N,2] (grad retained), out.radii [C,N], out.backend, out.backend_reason

Backends (``resolve_backend(name, device) -> (backend, reason)``):
    torch   pure PyTorch reference (torch_ref.py), tile based; the oracle for the others.
    native  the project's kernels in csrc/ (forward and backward), by the tensors' device:
            CPU (OpenMP), built on first use or with build_native() / ``make native``;
            CUDA (csrc/cuda), built on first use on a CUDA machine or with
            build_native_cuda() / ``python -m splat2sim.render.native_cuda``.
    gsplat  adapter over gsplat.rasterization, CUDA only.
    auto    on CUDA: native CUDA -> gsplat -> torch; on the CPU: native CPU -> torch.
            ``out.backend_reason`` says which kernels ran (CPU or CUDA) and why.

Lifting 2D masks to Gaussians: ``render(..., return_contributions=True)`` gives per-pixel
top-K Gaussian ids and blending weights (``out.contributions.weights_per_gaussian(mask, N)``),
and ``mask_weights(gaussians, cameras, masks)`` gives the exact per-Gaussian sum of
mask * blending weight. ``render_features(gaussians, cameras, features)`` composites
per-Gaussian feature channels [N,E] with the colours (e.g. one-hot object ids).

CONVENTIONS: see splat2sim.render.conventions (frames, parameterization, projection,
compositing, depth definitions); the native kernels share its constants.
"""

from splat2sim.render.api import BACKENDS, mask_weights, render, render_features, resolve_backend
from splat2sim.render.native import build_native
from splat2sim.render.native_cuda import build_native_cuda
from splat2sim.render.types import Cameras, Contributions, Gaussians, RenderOutput

__all__ = [
    "BACKENDS",
    "Cameras",
    "Contributions",
    "Gaussians",
    "RenderOutput",
    "build_native",
    "build_native_cuda",
    "mask_weights",
    "render",
    "render_features",
    "resolve_backend",
]
