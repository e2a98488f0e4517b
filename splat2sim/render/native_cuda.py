"""The native backend's CUDA kernels: csrc/cuda/*.cu (no PyTorch headers) bound to torch
by csrc/cuda_ext.cpp, built on first use with torch.utils.cpp_extension and loaded
lazily: nothing is compiled or loaded until tensors on a CUDA device are rendered with
backend ``native`` or ``auto``. The autograd wrappers are shared with the CPU kernels
(splat2sim.render.native picks the extension by the tensors' device).

Needs a CUDA build of torch, a visible GPU and nvcc of the CUDA major version torch was
built with; without any of them :func:`load_native_cuda` raises DependencyError naming
the cause and the fix (never returns None).

Architectures: sm_80, sm_86, sm_89 and sm_90, PTX of the newest for later GPUs, and the
architecture of every visible GPU that is not among them. ``SPLAT2SIM_CUDA_ARCH_LIST``
overrides the list (TORCH_CUDA_ARCH_LIST syntax, e.g. ``"9.0"`` builds for an H100 only,
which is faster). The build goes to ``<build_dir()>/cuda-<arch list>``
(``$SPLAT2SIM_EXT_DIR`` or ``~/.cache/splat2sim/torch_extensions/...``).

Build ahead of time: ``python -m splat2sim.render.native_cuda`` or
:func:`build_native_cuda`.
"""

from __future__ import annotations

import os
import re
import shutil
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

EXT_NAME = "splat2sim_native_cuda"
SOURCES = (
    "cuda_ext.cpp",
    "cuda/projection.cu",
    "cuda/sh.cu",
    "cuda/binning.cu",
    "cuda/sort.cu",
    "cuda/rasterize.cu",
)
DEFAULT_ARCHS = ("8.0", "8.6", "8.9", "9.0")
CFLAGS = ("-O3",)
CUDA_CFLAGS = ("-O3", "-lineinfo")
ON_CPU_HINT = "or render on the CPU (backend='native' or 'torch' with CPU tensors)"

# State of the lazily built extension (see extension_build.load_once).
_lock = threading.Lock()
_module: ModuleType | None = None
_error: DependencyError | None = None
_arch: int = 0  # compute capability of the kernels that run on the current GPU, e.g. 900


def arch_list() -> str:
    """The TORCH_CUDA_ARCH_LIST the extension is built for (see the module docstring)."""
    env = os.environ.get("SPLAT2SIM_CUDA_ARCH_LIST", "").strip()
    if env:
        return env
    archs = set(DEFAULT_ARCHS)
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            archs.add(f"{major}.{minor}")
    ordered = sorted(archs, key=lambda a: tuple(int(p) for p in a.split(".")))
    return ";".join(ordered[:-1] + [ordered[-1] + "+PTX"])


def cuda_build_dir(archs: str | None = None) -> Path:
    """Where the CUDA extension for ``archs`` (default: :func:`arch_list`) is cached."""
    tag = re.sub(r"[^0-9A-Za-z]+", "_", archs or arch_list()).strip("_")
    return build_dir() / f"cuda-{tag}"


def _nvcc() -> str | None:
    from torch.utils.cpp_extension import CUDA_HOME

    if CUDA_HOME:
        candidate = Path(CUDA_HOME) / "bin" / "nvcc"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("nvcc")


def unavailable_reason() -> DependencyError | None:
    """Why the CUDA kernels cannot be built or run here (None when nothing is missing
    before trying the build): CPU-only torch, no visible GPU, no nvcc, no sources."""
    if torch.version.cuda is None:
        return DependencyError(
            f"The native CUDA kernels need a CUDA build of torch; this torch ({torch.__version__}) is CPU-only.",
            hint="install a CUDA build of torch (pip install torch --index-url "
            "https://download.pytorch.org/whl/cu<version>) and the CUDA toolkit of the same major version; " + ON_CPU_HINT,
        )
    if not torch.cuda.is_available():
        return DependencyError(
            f"The native CUDA kernels need a CUDA GPU, and torch (CUDA {torch.version.cuda}) sees none (torch.cuda.is_available() is False).",
            hint="check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES; " + ON_CPU_HINT,
        )
    if _nvcc() is None:
        return DependencyError(
            "The native CUDA kernels are compiled on first use, and nvcc (the CUDA toolkit) was not found: "
            "CUDA_HOME is not set and nvcc is not on PATH.",
            hint=f"install the CUDA toolkit {torch.version.cuda} (the version torch was built with) and set "
            "CUDA_HOME, then run `python -m splat2sim.render.native_cuda`; or use backend='gsplat' or 'torch'",
        )
    src = csrc_dir()
    missing = missing_sources(SOURCES, src)
    if missing:
        return DependencyError(
            f"The native backend's CUDA sources are missing under {src}: {', '.join(missing)}.",
            hint="use a source checkout (pip install -e .) or set SPLAT2SIM_CSRC to the csrc/ folder; or use backend='gsplat' or 'torch'",
        )
    return None


def _hint_for(text: str) -> str:
    low = text.lower()
    if "ninja is required" in low:
        return "install ninja (pip install ninja), then run `python -m splat2sim.render.native_cuda`"
    if "mismatches the version that was used to compile pytorch" in low:
        return (
            f"install the CUDA toolkit whose major version matches torch's (CUDA {torch.version.cuda}) and point "
            "CUDA_HOME at it; or use backend='gsplat' or 'torch'"
        )
    if "cuda_runtime" in low and ("no such file" in low or "not found" in low):
        return "set CUDA_HOME to the CUDA toolkit folder (the one with include/cuda_runtime.h); or use backend='torch'"
    if "unsupported gpu architecture" in low or "nvcc fatal" in low:
        return (
            "this nvcc does not know one of the architectures in "
            f"{arch_list()!r}: set SPLAT2SIM_CUDA_ARCH_LIST to the ones it supports (e.g. your GPU's, '9.0'); "
            "or use backend='gsplat' or 'torch'"
        )
    return (
        "fix the compiler error above (nvcc, a host compiler it supports, ninja and the torch headers are needed), "
        "then run `python -m splat2sim.render.native_cuda`; or use backend='gsplat' or 'torch'"
    )


def _load(build: bool, verbose: bool) -> ModuleType:
    global _arch
    why = unavailable_reason()
    if why is not None:
        raise why
    archs = arch_list()
    out = cuda_build_dir(archs)
    if not build and not is_built(out, EXT_NAME):
        raise NotBuiltError(
            "The native CUDA extension is not built yet.",
            hint="run `python -m splat2sim.render.native_cuda` (or splat2sim.render.build_native_cuda())",
        )
    spec = ExtensionBuild(EXT_NAME, SOURCES, out, cflags=CFLAGS, cuda_cflags=CUDA_CFLAGS, env={"TORCH_CUDA_ARCH_LIST": archs})
    try:
        module = compile_and_load(spec, verbose=verbose)
    except Exception as exc:  # noqa: BLE001 - every build or load failure is reported the same way
        raise build_failure("The native CUDA kernels", exc, f"{out} (architectures {archs})", _hint_for) from exc
    device = torch.cuda.current_device()
    arch = int(module.compiled_arch(device))
    if arch == 0:
        major, minor = torch.cuda.get_device_capability(device)
        raise DependencyError(
            f"The native CUDA extension in {out} was built for {archs} and holds no kernels for this GPU "
            f"({torch.cuda.get_device_name(device)}, sm_{major}{minor}).",
            hint=f"set SPLAT2SIM_CUDA_ARCH_LIST='{major}.{minor}' and run `python -m splat2sim.render.native_cuda`",
        )
    _arch = arch
    return module


def load_native_cuda(*, build: bool = True, verbose: bool = False) -> ModuleType:
    """Load the compiled CUDA extension, building it first when needed. Raises
    DependencyError naming the cause and the fix (cached: not retried in this process)."""
    return load_once(sys.modules[__name__], lambda: _load(build, verbose))


def build_native_cuda(verbose: bool = False) -> Path:
    """Build (or find up to date) the CUDA extension now; return its build folder.
    Raises DependencyError with the cause and the fix."""
    load_native_cuda(build=True, verbose=verbose)
    return cuda_build_dir()


def native_cuda_status() -> tuple[bool, str]:
    """(available, reason) for the native CUDA kernels; builds them on the first call."""
    try:
        load_native_cuda()
    except DependencyError as exc:
        return False, str(exc)
    return True, f"native CUDA extension (sm_{_arch // 10} kernels) loaded from {cuda_build_dir()}"


if __name__ == "__main__":  # python -m splat2sim.render.native_cuda [-v]
    try:
        path = build_native_cuda(verbose="-v" in sys.argv[1:])
    except DependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    print(f"native CUDA extension ({arch_list()}): {path}")
