"""Fixtures for the rasterizer tests (CPU)."""

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
