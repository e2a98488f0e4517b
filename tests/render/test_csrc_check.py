"""Compile checks of the native kernels that need no GPU (csrc/check/check.sh): g++ builds
the shared headers on their own, the CPU kernels and the CUDA launcher interface; nvcc
builds the shared headers as device code and the CUDA kernels for sm_80, sm_86, sm_89 and
sm_90 -- so a break shows here before a GPU machine sees it. The slow ones compile cub's
sort for every architecture and the torch binding against torch's headers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "csrc" / "check" / "check.sh"

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not on PATH")
needs_nvcc = pytest.mark.skipif(
    shutil.which("nvcc") is None,
    reason="nvcc (the CUDA toolkit) is not on PATH, so the CUDA kernels cannot be compile-checked here",
)


def _check(*modes: str, **env: str) -> str:
    res = subprocess.run(["sh", str(CHECK), *modes], capture_output=True, text=True, timeout=900,
                         env={**os.environ, **env})  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@needs_gxx
def test_gxx_compiles_shared_headers_cpu_kernels_and_launcher_interface():
    assert "g++: shared headers, CPU kernels and CUDA launcher interface OK" in _check("gxx")


@needs_nvcc
def test_nvcc_compiles_cuda_kernels_for_sm80_sm86_sm89_sm90():
    out = _check("nvcc")
    assert "nvcc: CUDA kernels OK for sm_80, sm_86, sm_89, sm_90" in out
    assert "shared headers alone OK" in out


@pytest.mark.slow
@needs_nvcc
def test_nvcc_compiles_cub_sort_for_every_architecture():
    assert "OK for sm_80, sm_86, sm_89, sm_90" in _check("sort", SORT_ALL_ARCHS="1")


def _torch_has_cuda_headers() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return (Path(torch.__file__).parent / "include" / "c10" / "cuda" / "CUDAGuard.h").is_file()


@pytest.mark.slow
@needs_gxx
@needs_nvcc
@pytest.mark.skipif(not _torch_has_cuda_headers(), reason="this torch ships no c10/cuda headers")
def test_torch_binding_compiles_against_torch_and_cuda_headers():
    assert "binding: csrc/cuda_ext.cpp OK" in _check("binding")
