"""``OUT/batch.json``: the record of a batch, rewritten atomically after every change.

Per scan: name, input, workspace, status (pending | queued | running | done | failed |
skipped-fresh), the stage that failed and the error (class, message, hint), per-stage action
and seconds, the warnings count and headline quality numbers read from the stage records
(keyframes, registered views, held-out PSNR, objects, bodies, whether the check passed).
Batch level: executor, workers, threads per worker, state (running | finished |
interrupted), totals and wall time. A killed batch leaves the record as it was after the
last scan that finished, which is accurate for every scan that finished.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

BATCH_FILE = "batch.json"
SCHEMA_VERSION = 1
STATUSES = ("done", "skipped-fresh", "failed", "running", "queued", "pending")


def write_batch(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` atomically: a temporary file, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_batch(path: Path) -> dict | None:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- per scan
def _records(workspace: Path, stages: list[str]) -> dict:
    from splat2sim.workspace import RecordProblem, Workspace

    ws = Workspace(workspace)
    records = {}
    for stage in stages:
        with contextlib.suppress(RecordProblem, OSError, ValueError, TypeError):
            record = ws.read_record(stage)
            if record is not None:
                records[stage] = record
    return records


def headline(records: dict) -> dict:
    """The numbers that say whether a scan is any good, from the stage records that exist."""
    out: dict = {}
    metric = lambda stage, key: records[stage].metrics.get(key) if stage in records else None  # noqa: E731
    if metric("frames", "keyframes") is not None:
        out["keyframes"] = metric("frames", "keyframes")
    if metric("poses", "registered") is not None:
        out["registered"] = metric("poses", "registered")
        out["registered_fraction"] = metric("poses", "registered_fraction")
        out["scale_source"] = metric("poses", "scale_source")
    if metric("splat", "psnr_held_out") is not None:
        out["psnr_held_out"] = metric("splat", "psnr_held_out")
        out["gaussians"] = metric("splat", "gaussians")
    if metric("segment", "objects") is not None:
        out["objects"] = metric("segment", "objects")
    if metric("collision", "hulls") is not None:
        out["hulls"] = metric("collision", "hulls")
    if metric("export", "bodies") is not None:
        out["bodies"] = metric("export", "bodies")
    if "check" in records:
        out["check_passed"] = bool(metric("check", "all_settled"))
        out["check_repairs"] = metric("check", "repairs")
    return out


def scan_details(workspace: Path, stages: list[str], actions: dict | None = None) -> dict:
    """Per-stage action and seconds, warnings and headline metrics of one scan's workspace.

    ``actions`` is what the worker reported (stage -> {action, seconds}); stages not in it
    that have a record are 'fresh' (made by an earlier run). Seconds are the stage's own,
    from its record (how long it took to make), else what the worker measured."""
    actions = actions or {}
    records = _records(Path(workspace), stages)
    per_stage = {}
    for stage in stages:
        reported = actions.get(stage)
        record = records.get(stage)
        if reported is None and record is None:
            continue
        action = (reported or {}).get("action") or "fresh"
        if action == "skipped":
            action = "fresh"
        seconds = record.timings.get("seconds") if (record is not None and action != "failed") else (reported or {}).get("seconds")
        per_stage[stage] = {"action": action, "seconds": round(float(seconds or 0.0), 3)}
    return {
        "stages": per_stage,
        "warnings": sum(len(r.warnings or []) for r in records.values()),
        "fallbacks": sum(len(r.fallbacks or []) for r in records.values()),
        "metrics": headline(records),
    }


def totals(scans: list[dict]) -> dict:
    counts = {status: 0 for status in STATUSES}
    for scan in scans:
        counts[scan.get("status", "pending")] = counts.get(scan.get("status", "pending"), 0) + 1
    counts["scans"] = len(scans)
    counts["complete"] = counts["done"] + counts["skipped-fresh"]
    return counts


# --------------------------------------------------------------------------- display
def quality_text(metrics: dict) -> str:
    parts = []
    if "registered" in metrics and "keyframes" in metrics:
        parts.append(f"{metrics['registered']}/{metrics['keyframes']} posed")
    elif "keyframes" in metrics:
        parts.append(f"{metrics['keyframes']} keyframes")
    if metrics.get("scale_source"):
        parts.append(f"scale: {metrics['scale_source']}")
    if metrics.get("psnr_held_out") is not None:
        parts.append(f"PSNR {metrics['psnr_held_out']:.1f} dB")
    if "objects" in metrics:
        parts.append(f"{metrics['objects']} objects")
    if "check_passed" in metrics:
        parts.append("check pass" if metrics["check_passed"] else "check FAIL")
    return ", ".join(parts)


def stage_text(stages: dict) -> str:
    marks = {"ran": "", "fresh": "=", "failed": "!"}
    return " ".join(f"{name}{marks.get(info.get('action'), '')} {info.get('seconds', 0):.1f}" for name, info in stages.items())


def problem_text(scan: dict, short: bool = False) -> str:
    error = scan.get("error")
    if not error:
        return ""
    where = f" in {scan['failed_stage']}" if scan.get("failed_stage") else ""
    return f"{error.get('class')}{where}" + ("" if short else f": {error.get('message')}")


def rich_table(batch: dict):
    """The summary as a rich Table (the CLI prints it; nothing here prints)."""
    from rich.table import Table
    from rich.text import Text

    colours = {"done": "green", "skipped-fresh": "green", "failed": "red", "running": "yellow", "queued": "yellow", "pending": "dim"}
    t = batch.get("totals", {})
    ex = batch.get("executor", {})
    title = (
        f"batch {batch.get('output')}: {t.get('complete', 0)}/{t.get('scans', 0)} complete"
        f" ({t.get('done', 0)} built, {t.get('skipped-fresh', 0)} fresh), {t.get('failed', 0)} failed"
        f" - {ex.get('executor')} executor, {ex.get('workers')} workers, {batch.get('wall_seconds', 0):.1f} s"
    )
    table = Table(title=Text(title), title_justify="left")
    for column in ("scan", "status", "seconds", "stages (s; = fresh, ! failed)", "warnings", "quality", "problem"):
        table.add_column(column, overflow="fold")
    for scan in batch.get("scans", []):
        table.add_row(
            Text(scan["name"]),
            Text(str(scan.get("status")), style=colours.get(scan.get("status"), "")),
            f"{scan.get('seconds') or 0:.1f}",
            Text(stage_text(scan.get("stages") or {})),
            str(scan.get("warnings", "")),
            Text(quality_text(scan.get("metrics") or {})),
            Text(problem_text(scan, short=True), style="red"),
        )
    return table
