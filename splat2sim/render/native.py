"""The native backend: C++ kernels in csrc/, built on first use with
torch.utils.cpp_extension and wrapped here in autograd Functions.

Two extensions with the same functions: the CPU kernels (csrc/cpu, OpenMP; built here)
and the CUDA kernels (csrc/cuda; built and loaded by splat2sim.render.native_cuda only
when tensors are on a CUDA device). The wrappers below pick one by the tensors' device.

Build the CPU one ahead of time with :func:`build_native` (``make native``). The build
goes to ``$SPLAT2SIM_EXT_DIR`` or ``~/.cache/splat2sim/torch_extensions/<torch>-<python>``;
building, locking and error reports are shared with the CUDA kernels
(splat2sim.render.extension_build).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import ModuleType

import torch

from splat2sim.errors import DependencyError
from splat2sim.render.extension_build import (
    ExtensionBuild,
    NotBuiltError,
    build_dir,
    build_failure,
    compile_and_load,
    csrc_dir,
    is_built,
    load_once,
    missing_sources,
)

EXT_NAME = "splat2sim_native"
SOURCES = ("ext.cpp", "cpu/projection.cpp", "cpu/sh.cpp", "cpu/rasterize.cpp")
CFLAGS = ("-O3", "-fopenmp", "-std=c++17")
LDFLAGS = ("-fopenmp",)

# State of the lazily built extension (see extension_build.load_once).
_lock = threading.Lock()
_module: ModuleType | None = None
_error: DependencyError | None = None


def _hint_for(text: str) -> str:
    low = text.lower()
    if "ninja is required" in low:
        return "install ninja (pip install ninja), then run `make native`; or use backend='torch'"
    if "c++: not found" in low or "g++: not found" in low or "no such file or directory: 'c++'" in low:
        return "install a C++ compiler (apt-get install g++), then run `make native`; or use backend='torch'"
    if "omp.h" in low or "fopenmp" in low:
        return "install a compiler with OpenMP (g++ with libgomp), then run `make native`; or use backend='torch'"
    return (
        "fix the compiler error above (g++ >= 9, ninja and the torch headers are needed), then "
        "run `make native` (python -c 'from splat2sim.render import build_native; build_native()'); "
        "or use backend='torch'"
    )


def _load(build: bool, verbose: bool) -> ModuleType:
    src = csrc_dir()
    missing = missing_sources(SOURCES, src)
    if missing:
        raise DependencyError(
            f"The native backend's C++ sources are missing under {src}: {', '.join(missing)}.",
            hint="use a source checkout (pip install -e .) or set SPLAT2SIM_CSRC to the csrc/ folder; or use backend='torch'",
        )
    out = build_dir()
    if not build and not is_built(out, EXT_NAME):
        raise NotBuiltError(
            "The native backend is not built yet.",
            hint="run `make native` (or splat2sim.render.build_native())",
        )
    spec = ExtensionBuild(EXT_NAME, SOURCES, out, cflags=CFLAGS, ldflags=LDFLAGS)
    try:
        return compile_and_load(spec, verbose=verbose)
    except Exception as exc:  # noqa: BLE001 - every build or load failure is reported the same way
        raise build_failure("The native backend", exc, str(out), _hint_for) from exc


def load_native(*, build: bool = True, verbose: bool = False) -> ModuleType:
    """Load the compiled extension, building it first when needed. Raises
    DependencyError (cached: a failed build is not retried in the same process)."""
    return load_once(sys.modules[__name__], lambda: _load(build, verbose))


def build_native(verbose: bool = False) -> Path:
    """Build (or find up to date) the native extension now; return its build folder.
    Raises DependencyError with the compiler's error summary and the fix."""
    load_native(build=True, verbose=verbose)
    return build_dir()


def native_status() -> tuple[bool, str]:
    """(available, reason) for the CPU native backend; builds on first call."""
    try:
        load_native()
    except DependencyError as exc:
        return False, str(exc)
    return True, f"native CPU extension loaded from {build_dir()}"


# ---------------------------------------------------------------------------------------
# autograd wrappers


def _ext(t: torch.Tensor) -> ModuleType:
    """The extension for ``t``'s device: CUDA kernels for CUDA tensors, else CPU kernels."""
    if t.device.type == "cuda":
        from splat2sim.render.native_cuda import load_native_cuda

        return load_native_cuda()
    return load_native()


def _c(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous()


def _or_zeros(g: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if g is None else g.contiguous()


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, quats, log_scales, viewmats, intrinsics, width, height, near, far):
        ext = _ext(means)
        args = (_c(means), _c(quats), _c(log_scales), _c(viewmats), _c(intrinsics))
        means2d, conics, depths, radii = ext.project_forward(*args, width, height, near, far)
        ctx.save_for_backward(*args, radii)
        ctx.cfg = (width, height, near, far)
        ctx.mark_non_differentiable(radii)
        return means2d, conics, depths, radii

    @staticmethod
    def backward(ctx, g_means2d, g_conics, g_depths, _g_radii):
        means, quats, log_scales, viewmats, intrinsics, radii = ctx.saved_tensors
        c, n = radii.shape
        like2 = means.new_zeros(c, n, 2)
        g_m, g_q, g_s = _ext(means).project_backward(
            means, quats, log_scales, viewmats, intrinsics, *ctx.cfg, radii,
            _or_zeros(g_means2d, like2), _or_zeros(g_conics, means.new_zeros(c, n, 3)),
            _or_zeros(g_depths, means.new_zeros(c, n)),
        )  # fmt: skip
        return g_m, g_q, g_s, None, None, None, None, None, None


class _SH(torch.autograd.Function):
    @staticmethod
    def forward(ctx, degree, dirs, coeffs):
        dirs, coeffs = _c(dirs), _c(coeffs)
        ctx.degree = degree
        ctx.save_for_backward(dirs, coeffs)
        return _ext(dirs).sh_forward(degree, dirs, coeffs)

    @staticmethod
    def backward(ctx, g_colors):
        dirs, coeffs = ctx.saved_tensors
        g_dirs, g_coeffs = _ext(dirs).sh_backward(ctx.degree, dirs, coeffs, g_colors.contiguous())
        return None, g_dirs, g_coeffs


class _Rasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, top_k):
        ext = _ext(means2d)
        args = (_c(means2d), _c(conics), _c(feats), _c(opacities), _c(tile_offsets), _c(flat_ids))
        out, alpha, last, median, k_ids, k_w = ext.rasterize_forward(*args, width, height, top_k)
        ctx.save_for_backward(*args, alpha, last)
        ctx.size = (width, height)
        median, k_ids = median.long(), k_ids.long()
        ctx.mark_non_differentiable(median, k_ids, k_w)
        return out, alpha, median, k_ids, k_w

    @staticmethod
    def backward(ctx, g_out, g_alpha, _g_median, _g_ids, _g_w):
        means2d, conics, feats, opacities, offsets, flat_ids, alpha, last = ctx.saved_tensors
        g_m2, g_con, g_ft, g_op = _ext(means2d).rasterize_backward(
            means2d, conics, feats, opacities, offsets, flat_ids, *ctx.size, alpha, last,
            _or_zeros(g_out, alpha.new_zeros(*alpha.shape[:3], feats.shape[2])),
            _or_zeros(g_alpha, alpha),
        )  # fmt: skip
        return g_m2, g_con, g_ft, g_op, None, None, None, None, None


# ---------------------------------------------------------------------------------------
# the op set the renderer calls (same signatures as splat2sim.render.torch_ref)


def _check_device(*ts: torch.Tensor) -> None:
    for t in ts:
        if t.device.type not in ("cpu", "cuda"):
            raise DependencyError(
                f"The native backend has CPU and CUDA kernels only; got a tensor on {t.device}.",
                hint="use backend='torch', or move the tensors to the CPU or a CUDA device",
            )


def project(means, quats, log_scales, viewmats, intrinsics, width, height, near, far):
    """See torch_ref.project."""
    _check_device(means)
    return _Project.apply(means, quats, log_scales, viewmats, intrinsics, int(width), int(height),
                          float(near), float(far))  # fmt: skip


def eval_sh(degree, dirs, coeffs):
    """See torch_ref.eval_sh."""
    _check_device(dirs)
    return _SH.apply(int(degree), dirs, coeffs)


@torch.no_grad()
def bin_tiles(means2d, radii, depths, width, height):
    """See torch_ref.bin_tiles (flat_ids are int32 here)."""
    _check_device(means2d)
    return _ext(means2d).bin_gaussians(_c(means2d), _c(radii), _c(depths), int(width), int(height))


def rasterize(means2d, conics, feats, opacities, tile_offsets, flat_ids, width, height, top_k=0):
    """See torch_ref.rasterize."""
    _check_device(means2d)
    return _Rasterize.apply(means2d, conics, feats, opacities, tile_offsets, flat_ids.to(torch.int32),
                            int(width), int(height), int(top_k))  # fmt: skip
