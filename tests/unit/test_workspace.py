"""Stage records, fingerprint chaining, atomic commits, repair and locking."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from splat2sim import api
from splat2sim.errors import StageError, WorkspaceError
from splat2sim.stages import STAGES, StageSpec
from splat2sim.workspace import Workspace, layout
from tests.conftest import tree_state


@dataclass
class CountConfig:
    multiplier: int = field(default=1, metadata={"min": 1})
    fail: bool = False


def count_frames(ctx):
    """A real downstream stage for tests: reads frames.json, writes counts."""
    frames = json.loads((ctx.upstream_dir("frames") / "frames.json").read_text())
    (ctx.out_dir / "partial.txt").write_text("started")
    if ctx.config.fail:
        raise StageError("asked to fail", hint="set fail=false")
    (ctx.out_dir / "count.json").write_text(json.dumps({"count": len(frames["frames"]) * ctx.config.multiplier}))
    ctx.metrics["count"] = len(frames["frames"])
    ctx.warn("a warning for the record")
    ctx.fallback("counting", "plain counting", "test")


@pytest.fixture()
def with_poses_stage(monkeypatch):
    """Register a test stage in the 'poses' slot so the chain frames -> poses exists."""
    spec = StageSpec(
        name="poses",
        version=1,
        description="test stage",
        upstream=("frames",),
        config_cls=CountConfig,
        runner="tests.unit.test_workspace:count_frames",
    )
    monkeypatch.setitem(STAGES, "poses", spec)
    return spec


def build(video, ws, **kw):
    # a new workspace would start from the machine's preset, whose keys the toy stages'
    # sections do not have: start it from the bare defaults (later builds keep its config)
    if not (Path(ws) / layout.WORKSPACE_CONFIG).is_file():
        kw.setdefault("preset", "defaults")
    return api.build(video, ws, until=kw.pop("until", "poses"), **kw)


def test_record_written_last_with_contract_fields(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    result = build(pan_video, ws, overrides=["frames.target_count=10"])
    assert result.ran == ["frames", "poses"]
    record = json.loads((ws / "poses" / layout.RECORD_NAME).read_text())
    for key in (
        "schema_version",
        "stage",
        "stage_version",
        "status",
        "config",
        "fingerprint",
        "output_id",
        "upstream",
        "inputs",
        "metrics",
        "warnings",
        "fallbacks",
        "backend",
        "timings",
    ):
        assert key in record, key
    assert record["status"] == "complete"
    assert record["upstream"]["frames"] == json.loads((ws / "frames" / layout.RECORD_NAME).read_text())["output_id"]
    assert record["fallbacks"][0]["used"] == "plain counting"
    frames_record = json.loads((ws / "frames" / layout.RECORD_NAME).read_text())
    assert list(frames_record["inputs"]) == ["video"]
    # the record is the newest file of its stage: written last
    newest = max((ws / "frames").rglob("*"), key=lambda p: p.stat().st_mtime_ns)
    assert newest.name == layout.RECORD_NAME


def test_rerun_of_fresh_stages_does_nothing(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    build(pan_video, ws, overrides=["frames.target_count=10"])
    before = tree_state(ws / "frames") | {"p/" + k: v for k, v in tree_state(ws / "poses").items()}
    again = build(pan_video, ws)
    assert [o.action for o in again.outcomes] == ["skipped", "skipped"]
    after = tree_state(ws / "frames") | {"p/" + k: v for k, v in tree_state(ws / "poses").items()}
    assert before == after


def test_config_change_makes_that_stage_and_downstream_stale(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    build(pan_video, ws, overrides=["frames.target_count=10"])
    rows = {r.stage: r for r in api.status(ws, overrides=["poses.multiplier=2"])}
    assert rows["frames"].state == "fresh"
    assert rows["poses"].state == "stale" and "poses.multiplier" in rows["poses"].reason
    rows = {r.stage: r for r in api.status(ws, overrides=["frames.target_count=8"])}
    assert rows["frames"].state == "stale" and "frames.target_count" in rows["frames"].reason
    result = build(pan_video, ws, overrides=["frames.target_count=8"])
    assert result.ran == ["frames", "poses"]
    assert json.loads((ws / "poses" / "count.json").read_text())["count"] == 8


def test_upstream_rerun_makes_downstream_stale(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    build(pan_video, ws, overrides=["frames.target_count=10"])
    api.run_stage(ws, "frames", force=True)
    rows = {r.stage: r for r in api.status(ws)}
    assert rows["frames"].state == "fresh"
    assert rows["poses"].state == "stale" and "upstream 'frames' changed" in rows["poses"].reason
    assert build(pan_video, ws).ran == ["poses"]


def test_input_change_is_detected(pan_video, tmp_path, with_poses_stage):
    video = tmp_path / "input.mp4"
    video.write_bytes(pan_video.read_bytes())
    ws = tmp_path / "ws"
    build(video, ws, overrides=["frames.target_count=10"])
    from tests.conftest import panning_frames, write_video

    write_video(video, panning_frames(60, seed=3))
    rows = {r.stage: r for r in api.status(ws)}
    assert rows["frames"].state == "stale" and "input changed" in rows["frames"].reason


def test_from_until_force(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    assert build(pan_video, ws, until="frames", overrides=["frames.target_count=10"]).ran == ["frames"]
    assert not (ws / "poses").exists()
    assert build(pan_video, ws, force=["frames"]).ran == ["frames", "poses"]  # poses was missing
    assert build(pan_video, ws, from_stage="poses").ran == ["poses"]
    assert build(pan_video, ws, force=["poses"]).ran == ["poses"]
    with pytest.raises(Exception, match="unknown stage 'posse'"):
        build(pan_video, ws, force=["posse"])


def test_failed_stage_keeps_previous_result_and_upstream(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    build(pan_video, ws, overrides=["frames.target_count=10"])
    frames_before, poses_before = tree_state(ws / "frames"), tree_state(ws / "poses")
    with pytest.raises(StageError, match="asked to fail"):
        build(pan_video, ws, overrides=["poses.fail=true"])
    assert tree_state(ws / "frames") == frames_before
    assert tree_state(ws / "poses") == poses_before  # the old complete result, not partial.txt-only
    assert not any((ws / layout.STAGING_DIR).iterdir())
    rows = {r.stage: r for r in api.status(ws)}
    # the workspace keeps the config of what was built; the failed attempt is remembered
    assert rows["poses"].state == "fresh" and "a later re-run failed: asked to fail" in rows["poses"].reason
    assert api.status(ws, overrides=["poses.fail=true"])[1].state == "stale"
    failure = json.loads((ws / layout.LOG_DIR / "poses.failed.json").read_text())
    assert failure["message"] == "asked to fail"
    assert build(pan_video, ws, overrides=["poses.fail=false"]).ran == []  # the old result fits again
    assert not (ws / layout.LOG_DIR / "poses.failed.json").exists()


def test_interrupted_commit_is_repaired(pan_video, tmp_path, with_poses_stage):
    """A crash between the two renames of a commit: the old result sits in .trash."""
    ws_path = tmp_path / "ws"
    build(pan_video, ws_path, overrides=["frames.target_count=10"])
    state = tree_state(ws_path / "poses")
    trash = ws_path / layout.TRASH_DIR
    trash.mkdir()
    os.rename(ws_path / "poses", trash / "poses.deadbeef")
    (ws_path / layout.STAGING_DIR / "poses.cafe").mkdir(parents=True)
    (ws_path / layout.STAGING_DIR / "poses.cafe" / "partial.txt").write_text("x")
    ws = Workspace.open(ws_path)
    with ws.locked():
        pass
    assert tree_state(ws_path / "poses") == state
    assert not list(trash.iterdir()) and not list((ws_path / layout.STAGING_DIR).iterdir())
    assert {r.stage: r.state for r in api.status(ws_path)}["poses"] == "fresh"


def test_half_written_stage_folder_is_not_complete(pan_video, tmp_path, with_poses_stage):
    ws = tmp_path / "ws"
    build(pan_video, ws, overrides=["frames.target_count=10"])
    (ws / "poses" / layout.RECORD_NAME).unlink()
    rows = {r.stage: r for r in api.status(ws)}
    assert rows["poses"].state == "incomplete"
    assert build(pan_video, ws).ran == ["poses"]


def test_lock_refuses_a_second_writer(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    with ws.locked():
        with pytest.raises(WorkspaceError, match="in use by another splat2sim process"):
            with Workspace.open(tmp_path / "ws").locked():
                pass


def test_stage_needs_its_upstream(tmp_path, with_poses_stage):
    Workspace.open(tmp_path / "ws", create=True)
    with pytest.raises(WorkspaceError, match="needs 'frames'"):
        api.run_stage(tmp_path / "ws", "poses", preset="defaults")


def test_unknown_stage_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="(?s)unknown stage 'reprot'.*did you mean 'report'"):
        api.run_stage(tmp_path / "ws", "reprot")
