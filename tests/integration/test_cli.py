"""The real CLI in subprocesses: exit codes, messages, interruption, status."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splat2sim.errors import ConfigError, InputError, WorkspaceError
from splat2sim.workspace import layout
from tests.conftest import panning_frames, tree_state, write_video


@pytest.fixture(scope="module")
def built_ws(tmp_path_factory, pan_video):
    ws = tmp_path_factory.mktemp("cli") / "ws"
    # No --preset, and CUDA hidden: the build must pick the cpu preset (even on a GPU machine).
    done = subprocess.run(
        [sys.executable, "-m", "splat2sim", "build", str(pan_video), "-o", str(ws), "--until", "frames", "--set", "frames.target_count=10"],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    (ws.parent / "build.stderr").write_text(done.stderr)
    return ws


def test_build_without_preset_on_a_machine_without_cuda_uses_the_cpu_preset(built_ws, tmp_path):
    import json

    import yaml

    from splat2sim import api
    from splat2sim.config import read_preset
    from splat2sim.workspace import Workspace

    meta = json.loads((built_ws / layout.WORKSPACE_META).read_text())
    assert meta["preset"]["name"] == "cpu" and meta["preset"]["chosen"] == "auto"
    assert "no GPU" in meta["preset"]["reason"] and "CPU cores" in meta["preset"]["reason"]
    said = (built_ws.parent / "build.stderr").read_text()
    assert "preset cpu, chosen for this machine" in said and "--preset overrides it" in said
    # The stored config is the cpu preset's (with the build's --set on top).
    stored = yaml.safe_load((built_ws / layout.WORKSPACE_CONFIG).read_text())
    assert stored["splat"]["iterations"] == read_preset("cpu")["splat"]["iterations"]
    assert stored["frames"]["target_count"] == 10
    # A workspace with a stored config keeps it (no new choice); a given preset is recorded as given.
    assert api.resolve_preset(Workspace.open(built_ws), None) is None
    given = api.resolve_preset(Workspace.open(tmp_path / "new", create=True), "quality")
    assert (given.name, given.chosen) == ("quality", "given")


def test_help_is_light():
    """`--help` must not import the heavy stack (numpy, cv2, torch, mujoco, av)."""
    code = (
        "import sys; from splat2sim import cli; "
        "heavy = [m for m in ('numpy', 'cv2', 'torch', 'mujoco', 'av', 'open3d', 'pycolmap') if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_help_and_version(run_cli):
    done = run_cli("--help", check_code=0)
    for command in ("build", "frames", "status", "doctor", "synth", "config"):
        assert command in done.stdout
    assert run_cli("--version", check_code=0).stdout.startswith("splat2sim ")


def test_build_summary_and_status(built_ws, run_cli):
    done = run_cli("status", built_ws, check_code=0)
    assert "frames" in done.stdout and "fresh" in done.stdout and "missing" in done.stdout
    done = run_cli("status", built_ws, "--set", "frames.max_side=100", check_code=0)
    assert "stale" in done.stdout and "frames.max_side" in done.stdout
    done = run_cli("build", "-o", built_ws, "--until", "frames", check_code=0)
    assert "nothing (all fresh)" in done.stderr


def _bad_text_video(tmp: Path) -> Path:
    path = tmp / "fake.mp4"
    path.write_text("hello\n" * 100)
    return path


def _bad_config(tmp: Path) -> Path:
    path = tmp / "bad.yaml"
    path.write_text("frames: [unclosed\n")
    return path


@pytest.mark.parametrize(
    "args, code, message",
    [
        (lambda t: ["build", t / "missing.mp4"], InputError.exit_code, "does not exist"),
        (lambda t: ["build", _bad_text_video(t)], InputError.exit_code, "not a readable video"),
        (lambda t: ["build", "--config", _bad_config(t)], ConfigError.exit_code, "not valid YAML"),
        (lambda t: ["build", "--set", "frames.targt_count=3"], ConfigError.exit_code, "did you mean 'target_count'"),
        (lambda t: ["build", "--force", "fraems"], ConfigError.exit_code, "unknown stage 'fraems'"),
        (lambda t: ["build", "--preset", "fast"], ConfigError.exit_code, "unknown preset"),
        (lambda t: ["frames", "--set", "frames.max_side=1"], ConfigError.exit_code, "must be >= 64"),
    ],
)
def test_bad_input_leaves_the_workspace_alone(built_ws, run_cli, tmp_path, args, code, message):
    before = tree_state(built_ws / "frames")
    command, *rest = args(tmp_path)
    where = [built_ws] if command != "build" else ["-o", built_ws, "--until", "frames"]
    done = run_cli(command, *where, *rest)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree_state(built_ws / "frames") == before


def test_a_missing_input_is_said_before_anything_else(run_cli, tmp_path):
    """No preset line (or any other) before the error: a new workspace, so the preset is chosen."""
    done = run_cli("build", tmp_path / "missing.mp4", "-o", tmp_path / "ws")
    assert done.returncode == InputError.exit_code
    assert done.stderr.startswith("error: input") and "does not exist" in done.stderr, done.stderr
    assert "preset" not in done.stdout + done.stderr
    assert not (tmp_path / "ws").exists()  # nor a new, empty workspace left behind


def test_a_bad_option_leaves_no_new_workspace_behind(run_cli, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not looked at: the option is refused first")
    done = run_cli("build", video, "-o", tmp_path / "ws", "--set", "collision.proxy_voxels=8")
    assert done.returncode == 2 and "proxy_voxels must be 0 (off) or at least 16" in done.stderr, done.stderr
    assert not (tmp_path / "ws").exists()


def test_usage_errors_are_not_internal_errors(run_cli):
    done = run_cli("build")
    assert done.returncode == 2 and "Missing" in done.stderr and "internal error" not in done.stderr


def test_debug_shows_traceback(run_cli, tmp_path):
    done = run_cli("--debug", "build", tmp_path / "missing.mp4", "-o", tmp_path / "ws")
    assert done.returncode == InputError.exit_code and "Traceback" in done.stderr


def test_status_of_missing_workspace(run_cli, tmp_path):
    done = run_cli("status", tmp_path / "nowhere")
    assert done.returncode == WorkspaceError.exit_code and "no workspace at" in done.stderr


def test_config_show_roundtrips(run_cli, tmp_path):
    done = run_cli("config", "show", "--preset", "gpu", "--set", "frames.target_count=33", check_code=0)
    path = tmp_path / "c.yaml"
    path.write_text(done.stdout)
    again = run_cli("config", "show", "--config", path, check_code=0)
    assert again.stdout == done.stdout and "target_count: 33" in done.stdout


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", panning_frames(900, size=(320, 240), speed=1.0, seed=11))


def _start_then_interrupt(ws: Path, video: Path, sig: int, delay: float = 0.3) -> subprocess.CompletedProcess | None:
    """Rebuild the frames stage and send ``sig`` ``delay`` s after it starts; None when the
    stage finished before the signal could be sent (a fast machine)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "splat2sim",
            "build",
            str(video),
            "-o",
            str(ws),
            "--until",
            "frames",
            "--force",
            "frames",
            "--set",
            "frames.target_count=20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # as from a terminal: a shell's background job (CI, nohup) ignores SIGINT, which the
        # child would inherit, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    staging = ws / layout.STAGING_DIR
    deadline = time.time() + 60
    while time.time() < deadline:
        if staging.is_dir() and any(p.name.startswith("frames.") for p in staging.iterdir()):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the stage never started")
    time.sleep(delay)
    if proc.poll() is not None:
        proc.communicate(timeout=60)
        return None
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_stage_keeps_the_previous_result(long_video, tmp_path, run_cli, sig):
    ws = tmp_path / "ws"
    run_cli("build", long_video, "-o", ws, "--until", "frames", "--set", "frames.target_count=20", check_code=0)
    for delay in (0.3, 0.1, 0.0):  # later is a better test; sooner if the stage was already done
        before = tree_state(ws / "frames")
        done = _start_then_interrupt(ws, long_video, sig, delay)
        if done is not None:
            break
    else:
        pytest.fail("the frames stage always finished before it could be interrupted")
    if sig == signal.SIGINT:
        assert done.returncode == 130 and "interrupted" in done.stderr
        assert not list((ws / layout.STAGING_DIR).iterdir())  # cleaned up on Ctrl-C
    else:
        assert done.returncode == -signal.SIGKILL
    assert tree_state(ws / "frames") == before
    status = run_cli("status", ws, check_code=0)
    assert "fresh" in status.stdout.splitlines()[3] or "fresh" in status.stdout
    # the next run repairs leftovers and finds nothing to do
    again = run_cli("build", "-o", ws, "--until", "frames", check_code=0)
    assert "nothing (all fresh)" in again.stderr
    assert not list((ws / layout.STAGING_DIR).iterdir())


def test_interrupted_first_run_leaves_no_complete_stage(long_video, tmp_path):
    ws = tmp_path / "ws"
    for delay in (0.3, 0.1, 0.0):  # sooner if the stage was already done
        shutil.rmtree(ws, ignore_errors=True)
        ws.mkdir()
        if _start_then_interrupt(ws, long_video, signal.SIGKILL, delay) is not None:
            break
    else:
        pytest.fail("the frames stage always finished before it could be interrupted")
    assert not (ws / "frames").exists()
    from splat2sim import api

    assert {r.stage: r.state for r in api.status(ws)}["frames"] in ("missing",)


def test_doctor_reports_capabilities(run_cli):
    done = run_cli("doctor", check_code=0, timeout=600)
    assert "mujoco" in done.stdout and "MuJoCo offscreen rendering" in done.stdout


def test_global_options_work_after_the_command(run_cli, tmp_path):
    """--debug and --quiet are accepted in any position (issue #17)."""
    from splat2sim.cli import hoist_global_options

    assert hoist_global_options(["status", "ws", "--debug", "-q"]) == ["--debug", "-q", "status", "ws"]
    assert hoist_global_options(["build", "--", "--debug"]) == ["build", "--", "--debug"]
    after = run_cli("status", tmp_path / "nowhere", "--debug")
    before = run_cli("--debug", "status", tmp_path / "nowhere")
    assert after.returncode == before.returncode == 4 and "no workspace" in after.stderr
    assert "No such option" not in after.stderr
