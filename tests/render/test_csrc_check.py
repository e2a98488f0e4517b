"""The shared kernel headers compile as CUDA device code (nvcc, no GPU needed) and the
CPU kernels compile warning-free without PyTorch headers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("nvcc") is None or shutil.which("g++") is None, reason="needs nvcc and g++")
def test_headers_compile_with_nvcc_and_gxx():
    res = subprocess.run(["sh", str(ROOT / "csrc" / "check" / "check.sh")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK" in res.stdout
