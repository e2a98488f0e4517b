"""A build that runs without error but finds no object has missed its purpose: the result
says so (and `splat2sim build` exits 7), instead of a quiet success."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splat2sim.stages import STAGES, StageSpec
from tests.stages.export_fixtures import GTConfig, base_workspace, clone_workspace


def empty_segment(ctx) -> None:
    """A segment stage that finds nothing (as on a textureless desk where SfM saw no support)."""
    count = len(np.load(ctx.workspace.root / "_imports" / "owner.npy"))
    np.save(ctx.out_dir / "gaussian_labels.npy", np.full(count, -1, np.int32))
    (ctx.out_dir / "objects.json").write_text(json.dumps({"schema_version": 1, "method": "geometric", "objects": []}))
    ctx.metrics["objects"] = 0
    ctx.warn("no object was found above the support surface")


def test_no_object_found_is_a_problem_of_the_build(tmp_path_factory, monkeypatch):
    from splat2sim import api
    from splat2sim.cli import NO_OBJECTS_EXIT_CODE

    ws = clone_workspace(base_workspace(tmp_path_factory), tmp_path_factory.mktemp("no_objects") / "ws")
    monkeypatch.setitem(
        STAGES, "segment", StageSpec("segment", 1, "finds nothing (test)", ("splat",), GTConfig, "tests.stages.test_no_objects:empty_segment")
    )
    result = api.build(None, ws, until="scale")
    assert result.problems and "no object was found" in result.problems[0]
    scale = json.loads((ws / "scale" / "scale.json").read_text())
    assert scale["source"] == "imported_metric"  # the scale stage needs no object when poses were metric
    again = api.build(None, ws, until="segment")  # a fresh, skipped segment still counts
    assert again.problems == result.problems and again.ran == []
    assert NO_OBJECTS_EXIT_CODE == 7


def test_inverted_stage_range_is_an_error(tmp_path):
    from splat2sim import api
    from splat2sim.errors import ConfigError

    with pytest.raises(ConfigError, match="--from splat comes after --until frames"):
        api.build(tmp_path / "missing.mp4", tmp_path / "ws", from_stage="splat", until="frames")
