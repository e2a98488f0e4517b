"""Run a batch: check which scans are already fresh, build the rest with an executor, keep
``OUT/batch.json`` up to date after every scan, and return the record.

Failures are isolated: a scan that fails is recorded (error class, message, hint, the stage
that failed) and the others go on; ``run_batch`` itself raises only for problems of the whole
batch (bad arguments, the output folder in use by another batch, Ray unreachable, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from splat2sim.batch.manifest import ScanSpec
from splat2sim.batch.summary import BATCH_FILE, SCHEMA_VERSION, scan_details, totals, write_batch
from splat2sim.errors import ConfigError, Splat2SimError, WorkspaceError

# How much memory one scan may take at its peak (splat training, TSDF fusion, CoACD with the
# CPU preset), used to size the local pool on machines with many cores and little memory.
MEMORY_PER_WORKER_GB = 3.0
# The stages that load every core they are given. Two of them in parallel on a small machine
# would oversubscribe it, so each worker gets cores // workers threads (see plan_workers).
HEAVY_STAGES = ("splat", "collision")
LOCK_NAME = ".batch.lock"


class BatchFailed(Splat2SimError):
    """Some scans of a batch failed (the others completed); raised by the CLI at the end."""

    exit_code = 1


# --------------------------------------------------------------------------- sizing
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


# --------------------------------------------------------------------------- reporting
class NullBatchReporter:
    def batch_planned(self, batch: dict) -> None:
        pass

    def scan_started(self, entry: dict) -> None:
        pass

    def scan_finished(self, entry: dict) -> None:
        pass


@dataclass
class BatchResult:
    path: Path  # OUT/batch.json
    data: dict

    @property
    def failed(self) -> list[dict]:
        return [s for s in self.data["scans"] if s["status"] == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


# --------------------------------------------------------------------------- freshness
def stages_until(until: str | None) -> list[str]:
    """The implemented stages a batch runs, in order (all of them, or up to ``until``)."""
    from splat2sim import api
    from splat2sim.workspace import layout

    if until is not None:
        api.check_stage_name(until, must_exist=False)
    order = list(layout.STAGE_ORDER)
    last = order.index(until) if until else len(order) - 1
    return [name for name in order[: last + 1] if name in api.implemented_stages()]


def freshness(scan: ScanSpec, workspace: Path, stages: list[str]) -> tuple[bool, str]:
    """Whether every stage of the scan is fresh for its input and settings, and why not.

    Uses ``api.status`` (fingerprints: config, stage versions, upstream results, input file
    hashes), not the mere existence of files; a workspace built from another input is stale.
    """
    from splat2sim import api
    from splat2sim.workspace import Workspace

    if not (workspace / "workspace.json").is_file():
        return False, "new"
    try:
        recorded = Workspace(workspace).read_meta().get("input")
        if recorded != str(scan.input):
            return False, f"input changed (was {recorded})"
        rows = {row.stage: row for row in api.status(workspace, preset=scan.preset, config_files=scan.config_files, overrides=scan.overrides)}
    except Splat2SimError as exc:
        return False, exc.message
    for stage in stages:
        row = rows.get(stage)
        if row is None or row.state != "fresh":
            return False, f"{stage}: {row.state if row else 'missing'}" + (f" ({row.reason})" if row and row.reason else "")
    return True, "fresh"


def _with_values_file(scan: ScanSpec, out: Path) -> ScanSpec:
    """A scan whose ``values`` (settings valid only together) became ``OUT/.batch/<name>.yaml``."""
    if not scan.values:
        return scan
    import dataclasses

    import yaml

    path = out / ".batch" / f"{scan.name}.yaml"
    text = f"# settings of scan '{scan.name}' from {scan.origin} (written by splat2sim batch)\n" + yaml.safe_dump(scan.values, sort_keys=True)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return dataclasses.replace(scan, config_files=[*scan.config_files, path], values={})


def _worker_override(scan: ScanSpec, threads: int) -> list[str]:
    """``run.workers`` (pycolmap threads, CoACD processes) = the worker's threads, unless set."""
    from splat2sim.config import load_config

    if load_config(preset=scan.preset, files=scan.config_files, overrides=scan.overrides).run.workers:
        return []
    return [f"run.workers={threads}"]


# --------------------------------------------------------------------------- the batch
@contextlib.contextmanager
def _batch_lock(out: Path):
    handle = open(out / LOCK_NAME, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkspaceError(f"{out} is in use by another splat2sim batch", hint="wait for it to finish, or choose another -o") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run_batch(
    scans: list[ScanSpec],
    output,
    *,
    until: str | None = None,
    workers: int | None = None,
    ray: str | None = None,
    executor=None,
    reporter=None,
) -> BatchResult:
    """Build every scan into ``output/<name>/`` and record the batch in ``output/batch.json``.

    ``ray``: None runs a local process pool (``workers`` processes; default from cores and
    memory, see ``plan_workers``); "auto", "local" or a cluster address runs Ray tasks.
    ``executor``: a ready executor object instead (tests). Scans whose stages are all fresh
    are skipped. Returns the record; the caller decides what a failed scan means.
    """
    reporter = reporter or NullBatchReporter()
    if not scans:
        raise ConfigError("the batch has no scans", hint="pass videos, folders of scans, or a manifest")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    names = [scan.name for scan in scans]
    if len(set(names)) != len(names):
        raise ConfigError("scan names repeat: " + ", ".join(sorted({n for n in names if names.count(n) > 1})), hint="every scan needs its own name")
    stages = stages_until(until)
    out = Path(output).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"batch output {out} exists and is not a folder", hint="choose another folder with -o")
    out.mkdir(parents=True, exist_ok=True)
    path = out / BATCH_FILE
    wall0 = time.perf_counter()
    with _batch_lock(out):
        entries: dict[str, dict] = {}
        pending: list[ScanSpec] = []
        scans = [_with_values_file(scan, out) for scan in scans]
        for scan in scans:
            workspace = out / scan.name
            fresh, why = freshness(scan, workspace, stages)
            entry = {
                "name": scan.name,
                "input": str(scan.input),
                "origin": scan.origin,
                "workspace": str(workspace),
                "status": "skipped-fresh" if fresh else "pending",
                "why": why,
                "failed_stage": None,
                "error": None,
                "stages": {},
                "warnings": 0,
                "fallbacks": 0,
                "metrics": {},
                "seconds": 0.0,
                "started": None,
                "finished": None,
                "settings": {"preset": scan.preset, "config_files": [str(p) for p in scan.config_files], "overrides": list(scan.overrides)},
            }
            if fresh:
                entry.update(scan_details(workspace, stages))
            else:
                pending.append(scan)
            entries[scan.name] = entry

        if executor is None:
            if ray is not None:
                from splat2sim.batch.ray_executor import RayExecutor

                executor = RayExecutor(ray)
            else:
                from splat2sim.batch.local import LocalExecutor

                plan = plan_workers(len(pending), workers=workers)
                executor = LocalExecutor(plan.workers, plan.threads)
                executor.plan_reason = plan.reason
        started_ray = False
        if getattr(executor, "kind", "") == "ray":
            executor.connect()
            started_ray = True
            if workers:
                executor.threads = executor.threads or max(1, int(executor.cluster.get("cpus", 1)) // workers)
            executor.plan(len(pending), plan_workers)

        data = {
            "schema_version": SCHEMA_VERSION,
            "splat2sim_version": _version(),
            "output": str(out),
            "until": until,
            "stages": stages,
            "state": "running",
            "started": _now(),
            "finished": None,
            "wall_seconds": 0.0,
            "executor": {**executor.describe(), **({"reason": executor.plan_reason} if getattr(executor, "plan_reason", None) else {})},
            "totals": {},
            "scans": list(entries.values()),
        }

        def save() -> None:
            data["wall_seconds"] = round(time.perf_counter() - wall0, 3)
            data["totals"] = totals(data["scans"])
            write_batch(path, data)

        save()
        reporter.batch_planned(data)
        for entry in data["scans"]:
            if entry["status"] == "skipped-fresh":
                reporter.scan_finished(entry)

        threads = int(getattr(executor, "threads", 1) or 1)
        tasks = [
            {
                "name": scan.name,
                "input": str(scan.input),
                "workspace": str(out / scan.name),
                "preset": scan.preset,
                "config_files": [str(p) for p in scan.config_files],
                "overrides": [*scan.overrides, *_worker_override(scan, threads)],
                "until": stages[-1] if stages else until,
            }
            for scan in pending
        ]
        clocks: dict[str, float] = {}

        def on_start(task: dict, state: str = "running") -> None:
            entry = entries[task["name"]]
            entry.update(status=state, started=_now())
            clocks[task["name"]] = time.perf_counter()
            save()
            reporter.scan_started(entry)

        def on_done(task: dict, result: dict) -> None:
            entry = entries[task["name"]]
            entry.update(
                status="done" if result.get("status") == "done" else "failed",
                failed_stage=result.get("failed_stage"),
                error=result.get("error"),
                finished=_now(),
                # the worker's own time (a Ray task may wait in the queue first)
                seconds=round(result.get("seconds") or (time.perf_counter() - clocks.get(task["name"], time.perf_counter())), 3),
                worker={"host": result.get("host"), "pid": result.get("pid"), "seconds": result.get("seconds")},
            )
            entry.update(scan_details(Path(task["workspace"]), stages, result.get("stages")))
            save()
            reporter.scan_finished(entry)

        try:
            if tasks:
                executor.run(tasks, on_start, on_done, stages)
        except KeyboardInterrupt:
            for entry in data["scans"]:
                if entry["status"] in ("running", "queued"):
                    entry.update(status="pending", why="interrupted")
            data.update(state="interrupted", finished=_now())
            save()
            raise
        finally:
            if started_ray:
                executor.shutdown()
        data.update(state="finished", finished=_now())
        save()
    return BatchResult(path=path, data=data)


def _version() -> str:
    from splat2sim import __version__

    return __version__
