"""Slow: default mesh settings against ground truth on four procedural objects."""

from __future__ import annotations

import pytest

from splat2sim import api
from tests.stages.mesh_fixtures import mesh_quality, oracle_with_gt, register_gt_segment


@pytest.mark.slow
def test_mesh_matches_ground_truth(tmp_path, monkeypatch):
    from splat2sim.synth import generate_capture
    from splat2sim.synth.config import SynthConfig

    register_gt_segment(monkeypatch)
    generate_capture(tmp_path / "cap", SynthConfig(seed=3, width=320, height=240, duration_s=2, object_kinds=["mug", "box", "bowl", "can"]))
    ws = oracle_with_gt(tmp_path / "cap", tmp_path / "ws")
    api.build(None, ws, until="mesh")
    rows = mesh_quality(ws, tmp_path / "cap")
    assert len(rows) == 4 and all(r["watertight"] for r in rows), rows
    assert sum(r["chamfer_over_diagonal"] for r in rows) / len(rows) <= 0.02, rows
    assert all(r["fscore_5mm"] >= 0.7 for r in rows), rows
