"""The Ray executor: the same scans as Ray tasks, for batches that outgrow one machine.

``--ray auto`` joins the cluster named by ``RAY_ADDRESS`` or started with ``ray start`` on this
machine, and starts a local Ray instance when there is none; ``--ray local`` always starts a
local one; anything else is a cluster address (``HOST:6379`` or ``ray://HOST:10001``).
Every node needs splat2sim installed, and the inputs and the batch's output folder must be
at the same paths on every node (a shared file system): stages talk through workspace files.

Each scan is one task asking for ``threads`` CPUs. When the cluster has GPUs, a scan is split
at the GPU stages (``splat``): the stages before it, the splat stage itself (one GPU), and the
stages after it are chained tasks, so a GPU is held only while a splat trains. Ray does not
retry a failed task (``max_retries=0``): a failure is reported like any other, and running
the batch again retries it.
"""

from __future__ import annotations

import contextlib

from splat2sim.batch.worker import run_scan
from splat2sim.errors import DependencyError, missing_package

GPU_STAGES = ("splat",)  # stages that ask Ray for a GPU when the cluster has any


def _import_ray():
    try:
        import ray
    except ImportError:
        raise missing_package("ray", "the Ray executor (--ray)", extra="ray") from None
    return ray


def segments(stages: list[str], use_gpu: bool, gpu_stages=GPU_STAGES) -> list[tuple[str, bool]]:
    """Split the stages of a scan into runs of (last stage, needs a GPU)."""
    if not stages:
        return []
    if not use_gpu:
        return [(stages[-1], False)]
    out: list[tuple[str, bool]] = []
    for stage in stages:
        gpu = stage in gpu_stages
        if out and out[-1][1] == gpu:
            out[-1] = (stage, gpu)
        else:
            out.append((stage, gpu))
    return out


def merge_results(previous: dict | None, current: dict) -> dict:
    """One scan's result from its chained segments: a stage that ran earlier stays 'ran'."""
    if previous is None:
        return current
    stages = dict(previous.get("stages") or {})
    for name, info in (current.get("stages") or {}).items():
        if info.get("action") == "skipped" and stages.get(name, {}).get("action") == "ran":
            continue
        stages[name] = info
    merged = {**current, "stages": stages}
    merged["seconds"] = round((previous.get("seconds") or 0) + (current.get("seconds") or 0), 3)
    return merged


def run_segment(task: dict, previous: dict | None) -> dict:
    """A Ray task: build the scan up to ``task['until']`` unless an earlier segment failed."""
    if previous is not None and previous.get("status") != "done":
        return previous
    return merge_results(previous, run_scan(task))


def _failed(task: dict, exc: BaseException) -> dict:
    message = str(exc).strip().splitlines()
    return {
        "name": task["name"],
        "status": "failed",
        "failed_stage": None,
        "error": {
            "class": type(exc).__name__,
            "message": message[0] if message else type(exc).__name__,
            "hint": "a Ray worker or node failed (see the Ray logs); run the batch again to retry this scan",
            "exit_code": 70,
        },
        "stages": {},
    }


class RayExecutor:
    """Run scans as Ray tasks on ``address`` (see the module docstring)."""

    kind = "ray"

    def __init__(self, address: str = "auto", *, threads: int | None = None, gpu_stages=GPU_STAGES):
        self.address = address
        self.threads = threads
        self.gpu_stages = tuple(gpu_stages)
        self.use_gpu = False
        self.cluster: dict = {}
        self._started = False

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        ray = _import_ray()
        if ray.is_initialized():  # the caller's own Ray (a script or a test): use it as it is
            pass
        else:
            address = None if self.address in (None, "", "auto") else self.address
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds for an unreachable cluster
                raise DependencyError(
                    f"cannot start or reach Ray at {self.address!r}: {type(exc).__name__}: {exc}",
                    hint="`--ray auto` uses RAY_ADDRESS or a local `ray start` cluster, else starts one here; "
                    "`--ray HOST:6379` or `--ray ray://HOST:10001` names a cluster",
                ) from None
            self._started = True
        resources = ray.cluster_resources()
        node_cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        self.cluster = {
            "cpus": float(resources.get("CPU", 0)),
            "gpus": float(resources.get("GPU", 0)),
            "nodes": len(node_cpus),
            "largest_node_cpus": float(max(node_cpus, default=resources.get("CPU", 1))),
        }
        self.use_gpu = self.cluster["gpus"] > 0

    def shutdown(self) -> None:
        if self._started:
            ray = _import_ray()
            with contextlib.suppress(Exception):
                ray.shutdown()
            self._started = False

    def plan(self, pending: int, plan_workers) -> None:
        """Threads per task from the cluster's CPUs (as the local executor does for cores)."""
        if self.threads is None:
            cores = int(self.cluster.get("cpus") or 1)
            plan = plan_workers(pending, cores=cores, memory_gb=None)
            self.threads = int(min(plan.threads, max(1, self.cluster.get("largest_node_cpus") or 1)))
        self.workers = max(1, int((self.cluster.get("cpus") or 1) // self.threads))

    def describe(self) -> dict:
        return {
            "executor": self.kind,
            "address": self.address,
            "workers": getattr(self, "workers", None),
            "threads_per_worker": self.threads,
            "cluster": self.cluster,
            "gpu_stages": list(self.gpu_stages) if self.use_gpu else [],
        }

    # ------------------------------------------------------------------ running
    def run(self, tasks: list[dict], on_start, on_done, stages: list[str]) -> None:
        ray = _import_ray()
        remote = ray.remote(run_segment)
        threads = max(1, int(self.threads or 1))
        final: dict = {}
        for task in tasks:
            task = {**task, "threads": threads}
            previous = None
            for until, gpu in segments(stages, self.use_gpu, self.gpu_stages):
                options = {"num_cpus": threads, "num_gpus": 1 if gpu else 0, "max_retries": 0, "name": f"splat2sim:{task['name']}:{until}"}
                previous = remote.options(**options).remote({**task, "until": until}, previous)
            if previous is None:
                continue
            final[previous] = task
            on_start(task, state="queued")
        try:
            while final:
                done, _ = ray.wait(list(final), num_returns=1)
                for ref in done:
                    task = final.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a crashed worker or a lost node
                        result = _failed(task, getattr(exc, "cause", None) or exc)
                    on_done(task, result)
        finally:
            for ref in final:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True, recursive=True)
