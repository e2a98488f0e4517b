"""A build stopped mid-compile (Ctrl-C, a killed job) leaves torch's build lock behind;
the next build must remove it and say so, not wait forever. A live build in another
process is waited for, with a word."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from splat2sim.render import extension_build
from splat2sim.render.extension_build import GUARD, TORCH_LOCK, build_dir, build_guard

LOGGER = "splat2sim.render"


def _hold_guard(out, seconds: float, make_torch_lock: bool = False) -> subprocess.Popen:
    """Another process that builds as ours do: takes the guard, makes torch's lock, prints
    "held", works for ``seconds``, removes torch's lock and lets the guard go."""
    code = textwrap.dedent(
        f"""
        import fcntl, sys, time
        from pathlib import Path
        out = Path({str(out)!r})
        guard = open(out / {GUARD!r}, "a")
        fcntl.flock(guard, fcntl.LOCK_EX)
        if {make_torch_lock}:
            (out / {TORCH_LOCK!r}).write_text("")
        print("held", flush=True)
        time.sleep({seconds})
        (out / {TORCH_LOCK!r}).unlink(missing_ok=True)
        guard.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


def test_a_stale_torch_lock_is_removed_with_a_warning(tmp_path, caplog):
    (tmp_path / TORCH_LOCK).write_text("")
    with build_guard(tmp_path, "ext"):
        assert not (tmp_path / TORCH_LOCK).exists()
    assert any("removed a stale build lock" in m and str(tmp_path / TORCH_LOCK) in m for m in _messages(caplog))


def test_no_lock_no_warning(tmp_path, caplog):
    with build_guard(tmp_path, "ext"):
        pass
    assert _messages(caplog) == []


def test_a_killed_builders_lock_is_removed_at_once(tmp_path, caplog):
    # The builder dies holding both locks: the kernel frees the flock, the file stays.
    proc = _hold_guard(tmp_path, seconds=60, make_torch_lock=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / TORCH_LOCK).exists()
    start = time.monotonic()
    with build_guard(tmp_path, "ext"):
        pass
    assert time.monotonic() - start < 2.0  # no waiting: the flock was already free
    assert any("removed a stale build lock" in m for m in _messages(caplog))


def test_a_live_build_is_waited_for_and_its_lock_left_alone(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(extension_build, "QUIET_WAIT_S", 1.0)  # a test need not wait out the real quiet period
    proc = _hold_guard(tmp_path, seconds=3.5, make_torch_lock=True)
    start = time.monotonic()
    with build_guard(tmp_path, "ext"):
        pass
    waited = time.monotonic() - start
    proc.wait()
    messages = _messages(caplog)
    assert any("another process is building" in m for m in messages)
    # The live builder's lock was its own to remove: no "stale" warning, and we entered
    # only after it let go (3.5 s of work; 3.0 leaves room for the holder's start-up).
    assert not any("stale" in m for m in messages)
    assert waited >= 3.0


def test_the_native_backend_loads_past_a_stale_lock():
    """The real path: torch's cpp_extension waits on this file forever unless we remove it.
    Runs in a subprocess (the extension is cached per process) against the built extension."""
    from splat2sim.render.extension_build import is_built
    from splat2sim.render.native import EXT_NAME

    out = build_dir()
    if not is_built(out, EXT_NAME):
        pytest.skip("the native extension is not built here (make native)")
    with open(out / GUARD, "a") as guard:  # do not plant the lock under a live build
        fcntl.flock(guard, fcntl.LOCK_EX)
        (out / TORCH_LOCK).write_text("")
        fcntl.flock(guard, fcntl.LOCK_UN)
    code = "from splat2sim.render.native import load_native; load_native(); print('loaded')"
    try:
        # 120 s: an up-to-date load takes a few seconds; the old behaviour waited forever.
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        (out / TORCH_LOCK).unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout
    assert "removed a stale build lock" in done.stderr
