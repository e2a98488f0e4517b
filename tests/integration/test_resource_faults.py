"""Resource faults are their own error (exit 8) naming the path and the fix, with a failure
record where one can be written: a real full disk (a tiny tmpfs) and a real read-only file
system (the tmpfs remounted read-only). Skips where this machine may not mount (non-root)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from splat2sim import api
from splat2sim.errors import ResourceError


@pytest.fixture()
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


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
