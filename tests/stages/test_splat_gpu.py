"""The whole splat stage on the bundled example with every tensor on an NVIDIA GPU (the
native backend's CUDA kernels). Runs with `make test-gpu`; skips without CUDA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabletop" / "video.mp4"


def test_splat_stage_on_cuda_fits_the_bundled_example(tmp_path):
    from splat2sim import api

    ws = tmp_path / "ws"
    overrides = ["poses.marker_size=0.08", "run.device=cuda", "splat.backend=native"]
    api.build(EXAMPLE, ws, preset="cpu", overrides=overrides, until="splat")
    metrics = json.loads((ws / "splat" / "metrics.json").read_text())
    assert metrics["backend"] == "native" and "CUDA" in metrics["backend_reason"], metrics["backend_reason"]
    assert metrics["held_out"]["psnr"] >= 28.0, metrics["held_out"]
    assert metrics["peak_gpu_memory_mb"] > 0
