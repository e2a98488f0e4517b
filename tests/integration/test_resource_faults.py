"""Resource faults are their own error (exit 8) naming the path and the fix, with a failure
record where one can be written: a real full disk (a tiny tmpfs) and a real read-only file
system (the tmpfs remounted read-only). Skips where this machine may not mount (non-root)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from splat2sim import api
from splat2sim.errors import ResourceError


@contextlib.contextmanager
def _tmpfs(tmp_path, size: str):
    """A real tmpfs of ``size`` mounted under tmp_path, unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture()
def tiny_disk(tmp_path):
    with _tmpfs(tmp_path, "96k") as mount:
        yield mount


@pytest.fixture()
def small_disk(tmp_path):
    """Room for the keyframes, not for the SfM database (~60 MiB for 20 frames)."""
    with _tmpfs(tmp_path, "8m") as mount:
        yield mount


def test_a_full_disk_is_named_as_such(tiny_disk, pan_video, run_cli):
    ws = tiny_disk / "ws"
    with pytest.raises(ResourceError, match="the disk is full") as info:
        api.build(pan_video, ws, until="frames", overrides=["frames.target_count=40"])
    assert "free space" in info.value.hint and info.value.stage == "frames"
    assert not (ws / "frames").exists()  # nothing half-written looks complete
    done = run_cli("build", pan_video, "-o", tiny_disk / "ws2", "--until", "frames", "--set", "frames.target_count=40")
    assert done.returncode == 8 and "disk is full" in done.stderr and "internal error" not in done.stderr


def test_a_read_only_workspace_is_named_as_such(tiny_disk, pan_video, run_cli):
    ws = tiny_disk / "ws"
    ws.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    with pytest.raises(ResourceError, match="read-only file system") as info:
        api.build(pan_video, ws, until="frames", overrides=["frames.target_count=5"])
    assert "-o" in info.value.hint
    done = run_cli("build", pan_video, "-o", ws, "--until", "frames")
    assert done.returncode == 8 and "read-only" in done.stderr and "internal error" not in done.stderr
    assert sorted(p.name for p in Path(ws).iterdir()) == []  # nothing written, nothing lost


def test_a_disk_too_full_for_sfm_is_named_before_the_library_aborts(small_disk, pan_video, run_cli):
    """pycolmap aborts the process (exit 134, no record) when its database cannot grow; the
    poses stage checks the free space against its estimate first."""
    ws = small_disk / "ws"
    api.build(pan_video, ws, until="frames", overrides=["frames.target_count=20"])
    with pytest.raises(ResourceError, match="too full for structure from motion") as info:
        api.build(pan_video, ws, until="poses", overrides=["frames.target_count=20"])
    assert info.value.stage == "poses" and "poses.max_features" in info.value.hint
    assert (ws / "frames" / "frames.json").is_file()  # the earlier stage is intact
    done = run_cli("build", "-o", ws, "--until", "poses")
    assert done.returncode == 8 and "too full" in done.stderr and "internal error" not in done.stderr
