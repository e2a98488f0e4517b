"""`splat2sim batch` with the local executor, through the real CLI: a corrupt scan among good
ones, resume by freshness, and a batch killed with SIGKILL that the next run completes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splat2sim import api
from splat2sim.errors import ConfigError, InputError
from tests.batch.conftest import SET_ARGS, UNTIL, scan_folder
from tests.conftest import tree_state

GOOD = ("site_a", "site_b", "site_c")


def _batch(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def _scans(out: Path) -> dict[str, dict]:
    return {s["name"]: s for s in _batch(out)["scans"]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, captures):
    """One batch of three good scans and a corrupt one (a text file named .mp4)."""
    root = tmp_path_factory.mktemp("batch_local")
    scans = scan_folder(root / "scans", captures)
    out = root / "out"
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "splat2sim", "batch", str(scans), "-o", str(out), "--until", UNTIL, *SET_ARGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    return scans, out, done


def test_corrupt_scan_is_isolated_and_reported(first_run):
    scans, out, done = first_run
    assert done.returncode == 1, done.stderr  # non-zero, but only after every scan ran
    batch = _batch(out)
    assert batch["state"] == "finished" and batch["executor"]["executor"] == "local"
    assert batch["totals"]["done"] == 3 and batch["totals"]["failed"] == 1 and batch["totals"]["scans"] == 4
    assert batch["executor"]["workers"] * batch["executor"]["threads_per_worker"] <= max(os.cpu_count(), batch["executor"]["workers"])
    by_name = _scans(out)
    for name in GOOD:
        scan = by_name[name]
        assert scan["status"] == "done" and scan["error"] is None and scan["workspace"] == str(out / name)
        assert scan["input"] == str(scans / f"{name}.mp4")
        assert set(scan["stages"]) == {"frames", "poses"} and all(s["action"] == "ran" and s["seconds"] > 0 for s in scan["stages"].values())
        assert scan["metrics"]["keyframes"] == 8 and scan["metrics"]["registered"] > 0 and "scale_source" in scan["metrics"]
        assert isinstance(scan["warnings"], int)
        rows = {row.stage: row.state for row in api.status(out / name)}
        assert rows["frames"] == rows["poses"] == "fresh"
    bad = by_name["corrupt"]
    assert bad["status"] == "failed" and bad["failed_stage"] == "frames"
    assert bad["error"]["class"] == "InputError" and bad["error"]["exit_code"] == InputError.exit_code
    assert "not a readable video" in bad["error"]["message"] and bad["error"]["hint"]
    assert not (out / "corrupt" / "frames").exists()
    # the terminal: a summary table, the error with its class, stage and hint, and no traceback
    assert "corrupt" in done.stdout and "InputError in frames" in done.stdout and "site_a" in done.stdout
    assert "not a readable video" in done.stderr and "hint:" in done.stderr and "1 of 4 scans failed: corrupt" in done.stderr
    assert "Traceback" not in done.stderr


def test_second_run_skips_fresh_scans(first_run, run_cli):
    scans, out, _ = first_run
    before = {name: tree_state(out / name / "poses") for name in GOOD}
    done = run_cli("batch", scans, "-o", out, "--until", UNTIL, *SET_ARGS)
    assert done.returncode == 1, done.stderr  # the corrupt scan still fails
    by_name = _scans(out)
    for name in GOOD:
        assert by_name[name]["status"] == "skipped-fresh", by_name[name]
        assert {s["action"] for s in by_name[name]["stages"].values()} == {"fresh"}
        assert by_name[name]["metrics"]["keyframes"] == 8  # read back from the stage records
        assert tree_state(out / name / "poses") == before[name]
    assert by_name["corrupt"]["status"] == "failed"


def test_freshness_is_by_fingerprint_not_existence(first_run, tmp_path, run_cli):
    """A manifest that changes one scan's settings rebuilds that scan (from the stale stage on)."""
    scans, out, _ = first_run
    manifest = tmp_path / "batch.csv"
    manifest.write_text(f"input,name,poses.max_features\n{scans / 'site_a.mp4'},site_a,\n{scans / 'site_b.mp4'},site_b,2048\n")
    before = tree_state(out / "site_a")
    done = run_cli("batch", manifest, "-o", out, "--until", UNTIL, *SET_ARGS)
    assert done.returncode == 0, done.stderr
    by_name = _scans(out)
    assert set(by_name) == {"site_a", "site_b"}
    assert by_name["site_a"]["status"] == "skipped-fresh"
    assert by_name["site_b"]["status"] == "done" and "poses" in by_name["site_b"]["why"]
    assert by_name["site_b"]["stages"]["frames"]["action"] == "fresh" and by_name["site_b"]["stages"]["poses"]["action"] == "ran"
    assert {k: v for k, v in tree_state(out / "site_a").items() if not k.startswith((".cache", "logs", ".lock"))} == {
        k: v for k, v in before.items() if not k.startswith((".cache", "logs", ".lock"))
    }


def test_bad_manifest_fails_before_anything_runs(tmp_path, run_cli, captures):
    manifest = tmp_path / "batch.csv"
    manifest.write_text(f"input,marker_size\n{captures['site_a']},0.08\n{captures['site_b']},eight\n")
    done = run_cli("batch", manifest, "-o", tmp_path / "out")
    assert done.returncode == ConfigError.exit_code
    assert "batch.csv line 3, field 'marker_size'" in done.stderr and "hint:" in done.stderr
    assert not (tmp_path / "out").exists()


def _wait_for(predicate, timeout: float = 120.0, what: str = ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def _read(out: Path):
    try:
        return _scans(out)
    except (OSError, ValueError):
        return None


def test_killed_batch_resumes_only_what_was_missing(tmp_path, captures, run_cli):
    scans = scan_folder(tmp_path / "scans", captures, corrupt=False)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "splat2sim", "batch", str(scans), "-o", str(out), "--until", UNTIL, "--workers", "1", *SET_ARGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # kill the batch process while the second scan is being built (the first one done)
        _wait_for(lambda: (s := _read(out)) and s["site_a"]["status"] == "done" and s["site_b"]["status"] == "running", what="scan 2 to start")
        lock = out / "site_b" / ".lock"
        _wait_for(lambda: lock.is_file() and re.fullmatch(r"pid \d+", lock.read_text().strip()), what="the worker to lock its workspace")
        worker_pid = int(lock.read_text().split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the worker dies with the batch (no orphan keeps building or holding the lock)
    _wait_for(
        lambda: not Path(f"/proc/{worker_pid}").exists() or "Z" in Path(f"/proc/{worker_pid}/stat").read_text().split()[2], 30, "the worker to die"
    )
    record = _scans(out)  # the partial record is valid JSON and accurate
    assert record["site_a"]["status"] == "done" and record["site_b"]["status"] == "running" and record["site_c"]["status"] == "pending"
    assert _batch(out)["state"] == "running"
    finished_a = tree_state(out / "site_a" / "poses")
    b_frames_done = (out / "site_b" / "frames" / "_stage.json").is_file()

    done = run_cli("batch", scans, "-o", out, "--until", UNTIL, *SET_ARGS, timeout=600)
    assert done.returncode == 0, done.stderr
    batch = _batch(out)
    by_name = {s["name"]: s for s in batch["scans"]}
    assert batch["state"] == "finished" and batch["totals"]["complete"] == 3
    assert by_name["site_a"]["status"] == "skipped-fresh" and tree_state(out / "site_a" / "poses") == finished_a
    assert by_name["site_b"]["status"] == "done" and by_name["site_c"]["status"] == "done"
    if b_frames_done:  # the killed scan resumes at the stage it was in
        assert by_name["site_b"]["stages"]["frames"]["action"] == "fresh"
    assert by_name["site_b"]["stages"]["poses"]["action"] == "ran"
    assert not list((out / "site_b" / ".staging").glob("*")) if (out / "site_b" / ".staging").exists() else True


def test_crashed_worker_fails_only_its_scan(tmp_path, captures):
    """A worker killed from outside (as the out-of-memory killer would) fails its scan only."""
    scans = scan_folder(tmp_path / "scans", captures, corrupt=False, names=("site_a", "site_b"))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "splat2sim", "batch", str(scans), "-o", str(out), "--until", UNTIL, "--workers", "2", *SET_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        lock, staging = out / "site_a" / ".lock", out / "site_a" / ".staging"
        _wait_for(
            lambda: lock.is_file() and re.fullmatch(r"pid \d+", lock.read_text().strip()) and staging.is_dir() and any(staging.iterdir()),
            what="site_a to start a stage",
        )
        os.kill(int(lock.read_text().split()[1]), signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, stderr
    by_name = _scans(out)
    assert by_name["site_b"]["status"] == "done"
    crashed = by_name["site_a"]
    assert crashed["status"] == "failed" and crashed["error"]["class"] == "WorkerCrashed"
    assert "SIGKILL" in crashed["error"]["message"] and crashed["failed_stage"] in ("frames", "poses")
    assert "WorkerCrashed" in stdout and "1 of 2 scans failed: site_a" in stderr
