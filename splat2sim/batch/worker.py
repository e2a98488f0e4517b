"""One scan of a batch, run inside a worker process (a local pool process or a Ray task).

``run_scan(task)`` takes and returns plain data (picklable, JSON-able), runs ``api.build``
on the scan's own workspace and never raises for a failed scan: the error's class, message,
hint and the stage that failed come back in the result. Only Ctrl-C goes through.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import traceback
from pathlib import Path

# Thread pools that the heavy stages use: torch / OpenMP (the native rasterizer, open3d),
# BLAS, numexpr. A worker limits all of them to its share of the cores.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
LOG_NAME = "batch.log"  # in <workspace>/logs/: what the worker's stdout / stderr printed


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` threads for OpenMP, BLAS, torch and OpenCV."""
    threads = max(1, int(threads))
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:  # a reused worker (Ray) may have imported torch already
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(threads)
    if "cv2" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["cv2"].setNumThreads(threads)


@contextlib.contextmanager
def output_to(path: Path):
    """Send this process's stdout and stderr (C libraries' too) to ``path`` for a while."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    saved = []
    try:
        log = open(path, "a", buffering=1)
    except OSError:
        yield
        return
    try:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} batch worker pid {os.getpid()} on {socket.gethostname()}\n")
        log.flush()
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(log.fileno(), fd)
            except OSError:
                pass
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, copy in saved:
            with contextlib.suppress(OSError):
                os.dup2(copy, fd)
                os.close(copy)
        log.close()


class StageTracker:
    """A Reporter that remembers what each stage did (ran / skipped / failed, seconds)."""

    def __init__(self):
        self.stages: dict[str, dict] = {}
        self.current: str | None = None
        self._t0 = 0.0

    def stage_started(self, stage, description):
        self.current = stage
        self._t0 = time.perf_counter()

    def stage_skipped(self, stage, reason):
        self.stages[stage] = {"action": "skipped", "seconds": 0.0}

    def stage_finished(self, stage, seconds, summary, warnings):
        self.stages[stage] = {"action": "ran", "seconds": round(float(seconds), 3)}
        self.current = None

    def stage_failed(self, stage, error):
        self.stages[stage] = {"action": "failed", "seconds": round(time.perf_counter() - self._t0, 3)}

    def warning(self, stage, message):
        pass

    def note(self, stage, message):
        print(f"[{stage}] {message}", flush=True)  # into the scan's log

    @contextlib.contextmanager
    def progress(self, description, total=None):
        from splat2sim.progress import _NullTask

        yield _NullTask()


def error_info(exc: BaseException) -> dict:
    """The error as plain data: class, message, hint, exit code (and a traceback for bugs)."""
    from splat2sim.errors import Splat2SimError

    info = {
        "class": type(exc).__name__,
        "message": getattr(exc, "message", None) or str(exc) or type(exc).__name__,
        "hint": getattr(exc, "hint", None),
        "exit_code": getattr(exc, "exit_code", 70) if isinstance(exc, Splat2SimError) else 70,
    }
    if not isinstance(exc, Splat2SimError):  # a bug or a library's own error: keep where it came from
        info["traceback"] = "".join(traceback.format_exception(exc)[-12:])
    return info


def run_scan(task: dict) -> dict:
    """Build one scan. ``task``: name, input, workspace, preset, config_files, overrides,
    until, threads. Returns name, status (done | failed), failed_stage, error, stages, seconds."""
    t0 = time.perf_counter()
    limit_threads(task.get("threads") or 1)
    tracker = StageTracker()
    result: dict = {
        "name": task["name"],
        "status": "done",
        "failed_stage": None,
        "error": None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    workspace = Path(task["workspace"])
    with output_to(workspace / "logs" / LOG_NAME):
        try:
            from splat2sim import api

            api.build(
                task["input"],
                workspace,
                preset=task.get("preset"),
                config_files=task.get("config_files") or [],
                overrides=task.get("overrides") or [],
                until=task.get("until"),
                reporter=tracker,
            )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure is the scan's, reported as data
            result["status"] = "failed"
            result["failed_stage"] = getattr(exc, "stage", None) or tracker.current
            result["error"] = error_info(exc)
    result["stages"] = tracker.stages
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result
