"""Fixtures for the rasterizer tests (CPU, and CUDA where a GPU is)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def native_ok():
    """Build (or load) the native extension once per session; skip when it cannot build."""
    from splat2sim.errors import DependencyError
    from splat2sim.render.native import load_native

    try:
        load_native()
    except DependencyError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("SPLAT2SIM_REQUIRE_NATIVE") == "1":
            raise
        pytest.skip(f"native extension unavailable: {exc}")
    return True


@pytest.fixture(scope="session")
def native_cuda_ok():
    """Build (or load) the native CUDA extension once per session. Skips without a CUDA
    GPU; on a machine with one, a build failure fails the test (the kernels are expected
    to build wherever a GPU is) unless SPLAT2SIM_ALLOW_NO_NATIVE_CUDA=1 turns it into a skip."""
    import torch

    from splat2sim.errors import DependencyError
    from splat2sim.render.native_cuda import load_native_cuda

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    try:
        load_native_cuda()
    except DependencyError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("SPLAT2SIM_ALLOW_NO_NATIVE_CUDA") == "1":
            pytest.skip(f"native CUDA extension unavailable: {exc}")
        pytest.fail(f"native CUDA extension failed to build or load on a CUDA machine:\n{exc}", pytrace=False)
    return True
