"""The local executor: a pool of worker processes on this machine, one scan per process.

Each scan runs in a fresh process started with ``spawn`` (no state shared with the batch
process, a clean thread setup, memory returned when the scan ends). A worker that dies
(out-of-memory killer, a crash in a native library) fails only its own scan; the pool goes
on. Workers die with the batch process (Linux ``PR_SET_PDEATHSIG``), so a killed batch leaves
no orphan holding a workspace lock, and the next run resumes cleanly.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from splat2sim.batch.worker import run_scan


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when the batch process dies."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _child(task: dict, conn, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    try:
        result = run_scan(task)
    except KeyboardInterrupt:
        os._exit(130)
    conn.send(result)
    conn.close()


def _signal_name(code: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(code).name
    return f"signal {code}"


def crash_result(task: dict, exitcode: int | None) -> dict:
    """The result of a worker that died without answering; the stage is the one it was writing."""
    if exitcode is not None and exitcode < 0:
        why = f"the worker process was killed by {_signal_name(-exitcode)}"
        if -exitcode == signal.SIGKILL:
            why += " (often the out-of-memory killer: try fewer --workers)"
    else:
        why = f"the worker process exited with code {exitcode} without a result"
    staging = Path(task["workspace"]) / ".staging"
    stage = None
    with contextlib.suppress(OSError):
        names = sorted(staging.iterdir(), key=lambda p: p.stat().st_mtime)
        stage = names[-1].name.split(".")[0] if names else None
    return {
        "name": task["name"],
        "status": "failed",
        "failed_stage": stage,
        "error": {
            "class": "WorkerCrashed",
            "message": why,
            "hint": f"see {Path(task['workspace']) / 'logs' / 'batch.log'}; run the batch again to retry this scan",
            "exit_code": 70,
        },
        "stages": {},
    }


class LocalExecutor:
    """Run scans in ``workers`` processes at a time, each limited to ``threads`` threads."""

    kind = "local"

    def __init__(self, workers: int, threads: int):
        self.workers = max(1, int(workers))
        self.threads = max(1, int(threads))

    def describe(self) -> dict:
        return {"executor": self.kind, "workers": self.workers, "threads_per_worker": self.threads}

    def run(self, tasks: list[dict], on_start, on_done, stages=None) -> None:
        """Run every task; ``on_start(task)`` and ``on_done(task, result)`` are called here,
        in the batch process, as scans start and finish (in completion order)."""
        ctx = multiprocessing.get_context("spawn")
        pending = deque(tasks)
        running: dict = {}  # sentinel -> [process, connection, task, result]
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    task = {**pending.popleft(), "threads": self.threads}
                    receive, send = ctx.Pipe(duplex=False)
                    process = ctx.Process(target=_child, args=(task, send, os.getpid()), name=f"splat2sim-batch:{task['name']}", daemon=False)
                    on_start(task)
                    process.start()
                    send.close()
                    running[process.sentinel] = [process, receive, task, None]
                connections = {entry[1]: key for key, entry in running.items() if entry[3] is None}
                ready = wait([*running, *connections])
                for item in ready:
                    if item in connections:  # a result (read it before the child can exit)
                        entry = running[connections[item]]
                        try:
                            entry[3] = item.recv()
                        except (EOFError, OSError):
                            entry[3] = False  # closed without a result: the worker died
                for item in ready:
                    if item in running:
                        process, receive, task, result = running.pop(item)
                        process.join()
                        if result is None:
                            with contextlib.suppress(EOFError, OSError):
                                if receive.poll():
                                    result = receive.recv()
                        receive.close()
                        on_done(task, result if result else crash_result(task, process.exitcode))
        finally:
            self._stop([entry[0] for entry in running.values()])

    @staticmethod
    def _stop(processes) -> None:
        """Ctrl-C or an error in the batch process: stop the workers (they clean up their staging)."""
        for process in processes:
            with contextlib.suppress(Exception):
                if process.is_alive():
                    os.kill(process.pid, signal.SIGINT)
        deadline = time.time() + 10
        for process in processes:
            process.join(max(0.1, deadline - time.time()))
            if process.is_alive():
                process.kill()
                process.join()
