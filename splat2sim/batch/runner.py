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

from splat2sim.batch.scan_spec import ScanSpec
from splat2sim.batch.sizing import plan_workers
from splat2sim.batch.summary import BATCH_FILE, SCHEMA_VERSION, scan_details, totals, write_batch
from splat2sim.errors import ConfigError, Splat2SimError, WorkspaceError

LOCK_NAME = ".batch.lock"


class BatchFailed(Splat2SimError):
    """Some scans of a batch failed (the others completed); raised by the CLI at the end."""

    exit_code = 1


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
    _check_batch(scans, workers)
    stages = stages_until(until)
    out = _output_folder(output)
    wall0 = time.perf_counter()
    with _batch_lock(out):
        scans = [_with_values_file(scan, out) for scan in scans]
        entries, pending = _plan_scans(scans, out, stages)
        executor, started_ray = _ready_executor(executor, ray, workers, len(pending))
        record = _BatchRecord(out / BATCH_FILE, _batch_data(out, until, stages, executor, entries), stages, reporter, wall0)
        record.save()
        reporter.batch_planned(record.data)
        for entry in record.data["scans"]:
            if entry["status"] == "skipped-fresh":
                reporter.scan_finished(entry)
        threads = int(getattr(executor, "threads", 1) or 1)
        tasks = [_task(scan, out, threads, stages, until) for scan in pending]
        try:
            if tasks:
                executor.run(tasks, record.on_start, record.on_done, stages)
        except KeyboardInterrupt:
            record.interrupted()
            raise
        finally:
            if started_ray:
                executor.shutdown()
        record.finished()
    return BatchResult(path=record.path, data=record.data)


def _check_batch(scans: list[ScanSpec], workers: int | None) -> None:
    if not scans:
        raise ConfigError("the batch has no scans", hint="pass videos, folders of scans, or a manifest")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    names = [scan.name for scan in scans]
    if len(set(names)) != len(names):
        raise ConfigError("scan names repeat: " + ", ".join(sorted({n for n in names if names.count(n) > 1})), hint="every scan needs its own name")


def _output_folder(output) -> Path:
    out = Path(output).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"batch output {out} exists and is not a folder", hint="choose another folder with -o")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _plan_scans(scans: list[ScanSpec], out: Path, stages: list[str]) -> tuple[dict[str, dict], list[ScanSpec]]:
    """One ``batch.json`` entry per scan (by name), and the scans that are not fresh."""
    entries: dict[str, dict] = {}
    pending: list[ScanSpec] = []
    for scan in scans:
        workspace = out / scan.name
        fresh, why = freshness(scan, workspace, stages)
        entry = _scan_entry(scan, workspace, fresh, why)
        if fresh:
            entry.update(scan_details(workspace, stages))
        else:
            pending.append(scan)
        entries[scan.name] = entry
    return entries, pending


def _scan_entry(scan: ScanSpec, workspace: Path, fresh: bool, why: str) -> dict:
    return {
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


def _ready_executor(executor, ray: str | None, workers: int | None, pending: int):
    """The executor to run the pending scans (a local pool unless ``ray``), and whether
    this call connected to Ray (so it must shut it down)."""
    if executor is None:
        if ray is not None:
            from splat2sim.batch.ray_executor import RayExecutor

            executor = RayExecutor(ray)
        else:
            from splat2sim.batch.local import LocalExecutor

            plan = plan_workers(pending, workers=workers)
            executor = LocalExecutor(plan.workers, plan.threads)
            executor.plan_reason = plan.reason
    started_ray = False
    if getattr(executor, "kind", "") == "ray":
        executor.connect()
        started_ray = True
        if workers:
            executor.threads = executor.threads or max(1, int(executor.cluster.get("cpus", 1)) // workers)
        executor.plan(pending, plan_workers)
    return executor, started_ray


def _batch_data(out: Path, until: str | None, stages: list[str], executor, entries: dict[str, dict]) -> dict:
    """The ``batch.json`` record at the start of a batch."""
    reason = getattr(executor, "plan_reason", None)
    return {
        "schema_version": SCHEMA_VERSION,
        "splat2sim_version": _version(),
        "output": str(out),
        "until": until,
        "stages": stages,
        "state": "running",
        "started": _now(),
        "finished": None,
        "wall_seconds": 0.0,
        "executor": {**executor.describe(), **({"reason": reason} if reason else {})},
        "totals": {},
        "scans": list(entries.values()),
    }


def _task(scan: ScanSpec, out: Path, threads: int, stages: list[str], until: str | None) -> dict:
    """What a worker needs to build one scan (plain data: it may cross to a Ray node)."""
    return {
        "name": scan.name,
        "input": str(scan.input),
        "workspace": str(out / scan.name),
        "preset": scan.preset,
        "config_files": [str(p) for p in scan.config_files],
        "overrides": [*scan.overrides, *_worker_override(scan, threads)],
        "until": stages[-1] if stages else until,
    }


class _BatchRecord:
    """``batch.json`` kept up to date as scans start and finish, and the reporter told."""

    def __init__(self, path: Path, data: dict, stages: list[str], reporter, wall0: float):
        self.path, self.data, self.stages, self.reporter, self.wall0 = path, data, stages, reporter, wall0
        self.entries = {entry["name"]: entry for entry in data["scans"]}
        self.clocks: dict[str, float] = {}  # scan name -> when it started, for its seconds

    def save(self) -> None:
        self.data["wall_seconds"] = round(time.perf_counter() - self.wall0, 3)
        self.data["totals"] = totals(self.data["scans"])
        write_batch(self.path, self.data)

    def on_start(self, task: dict, state: str = "running") -> None:
        entry = self.entries[task["name"]]
        entry.update(status=state, started=_now())
        self.clocks[task["name"]] = time.perf_counter()
        self.save()
        self.reporter.scan_started(entry)

    def on_done(self, task: dict, result: dict) -> None:
        entry = self.entries[task["name"]]
        entry.update(
            status="done" if result.get("status") == "done" else "failed",
            failed_stage=result.get("failed_stage"),
            error=result.get("error"),
            finished=_now(),
            # the worker's own time (a Ray task may wait in the queue first)
            seconds=round(result.get("seconds") or (time.perf_counter() - self.clocks.get(task["name"], time.perf_counter())), 3),
            worker={"host": result.get("host"), "pid": result.get("pid"), "seconds": result.get("seconds")},
        )
        entry.update(scan_details(Path(task["workspace"]), self.stages, result.get("stages")))
        self.save()
        self.reporter.scan_finished(entry)

    def interrupted(self) -> None:
        for entry in self.data["scans"]:
            if entry["status"] in ("running", "queued"):
                entry.update(status="pending", why="interrupted")
        self.data.update(state="interrupted", finished=_now())
        self.save()

    def finished(self) -> None:
        self.data.update(state="finished", finished=_now())
        self.save()


def _version() -> str:
    from splat2sim import __version__

    return __version__
