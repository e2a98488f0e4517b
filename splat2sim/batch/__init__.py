"""Batch conversion: many scans, each in its own workspace, on one machine or a Ray cluster.

    from splat2sim.batch import collect_scans, run_batch
    scans = collect_scans(["site_scans/", "extra.csv"], overrides=["frames.target_count=40"])
    result = run_batch(scans, "out/", until="export")          # local process pool
    result = run_batch(scans, "out/", ray="auto")               # Ray tasks
    print(result.path, [s["name"] for s in result.failed])

``splat2sim batch INPUTS... -o OUT`` is the command line of the same. Modules:
``manifest`` (inputs, folders and CSV / YAML manifests; ``manifest_fields`` reads one row,
``scan_spec`` holds ``ScanSpec``), ``runner`` (freshness, ``batch.json``), ``sizing``
(workers and threads), ``local`` (process pool), ``ray_executor`` (Ray tasks),
``worker`` (one scan in one process), ``summary`` (``batch.json`` and the summary table).
"""

from splat2sim.batch.manifest import ScanSpec, collect_scans, read_manifest
from splat2sim.batch.runner import BatchFailed, BatchResult, run_batch
from splat2sim.batch.sizing import WorkerPlan, plan_workers

__all__ = ["ScanSpec", "collect_scans", "read_manifest", "run_batch", "plan_workers", "WorkerPlan", "BatchResult", "BatchFailed"]
