"""How many scans of a batch run at once on this machine, and with how many threads each."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

# How much memory one scan may take at its peak (splat training, TSDF fusion, CoACD with the
# CPU preset), used to size the local pool on machines with many cores and little memory.
MEMORY_PER_WORKER_GB = 3.0
# The stages that load every core they are given. Two of them in parallel on a small machine
# would oversubscribe it, so each worker gets cores // workers threads (see plan_workers).
HEAVY_STAGES = ("splat", "collision")


@dataclass
class WorkerPlan:
    workers: int
    threads: int  # per worker: OpenMP / torch / BLAS threads, pycolmap threads, CoACD processes
    cores: int
    memory_gb: float | None
    reason: str


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def available_memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    return None


def plan_workers(pending: int, *, workers: int | None = None, cores: int | None = None, memory_gb: float | None = -1.0) -> WorkerPlan:
    """How many scans run at once and with how many threads each.

    Workers: ``workers`` if given, else one per core, at most one per
    ``MEMORY_PER_WORKER_GB`` of available memory, and never more than scans to run.
    Threads per worker: ``cores // workers`` (at least 1), so that the heavy stages
    (``HEAVY_STAGES``) of all workers together use the cores once, not workers-times over.
    """
    cores = int(cores or available_cores())
    memory_gb = available_memory_gb() if memory_gb == -1.0 else memory_gb
    if workers:
        count, reason = int(workers), "as requested (--workers)"
    else:
        count, reason = cores, f"one per core ({cores} cores)"
        if memory_gb is not None and memory_gb // MEMORY_PER_WORKER_GB < count:
            count = max(1, int(memory_gb // MEMORY_PER_WORKER_GB))
            reason = f"one per {MEMORY_PER_WORKER_GB:g} GB of available memory ({memory_gb:.1f} GB)"
    if pending and count > pending:
        count, reason = pending, reason + f", capped at the {pending} scans to run"
    count = max(1, count)
    return WorkerPlan(workers=count, threads=max(1, cores // count), cores=cores, memory_gb=memory_gb, reason=reason)
