"""Stage records: ``_stage.json``, the last file a stage writes.

Two identifiers chain the stages together:

- ``fingerprint`` = hash(stage name and version, the stage's resolved config, the
  ``output_id`` of each upstream stage, the hashes of its input files). It says *what went
  in*: a stage is fresh when its stored fingerprint equals the one computed now.
- ``output_id`` = hash(fingerprint, run id). It says *which result came out*. Downstream
  fingerprints chain on it, so any new run of a stage (also a forced one) makes everything
  downstream stale.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from splat2sim.workspace.hashing import sha256_json
from splat2sim.workspace.layout import RECORD_NAME, SCHEMA_VERSION


@dataclass
class StageRecord:
    stage: str
    stage_version: int
    fingerprint: str
    output_id: str
    config: dict
    upstream: dict[str, str] = field(default_factory=dict)  # stage -> output_id
    inputs: dict[str, str] = field(default_factory=dict)  # label -> sha256
    metrics: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fallbacks: list[dict] = field(default_factory=list)  # {what, used, why}
    backend: str | None = None
    timings: dict = field(default_factory=dict)  # started, seconds, steps (per step), estimate_seconds (splat2sim.estimate; None: short stage)
    status: str = "complete"
    schema_version: int = SCHEMA_VERSION
    splat2sim_version: str = ""
    host: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "StageRecord":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def compute_fingerprint(stage: str, stage_version: int, config: dict, upstream: dict[str, str], inputs: dict[str, str]) -> str:
    return sha256_json(
        {
            "stage": stage,
            "version": stage_version,
            "config": config,
            "upstream": upstream,
            "inputs": inputs,
        }
    )


def new_output_id(fingerprint: str) -> str:
    return sha256_json({"fingerprint": fingerprint, "run": uuid.uuid4().hex})


def host_info() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "pid": os.getpid()}


def write_record(stage_dir: Path, record: StageRecord) -> Path:
    """Write ``_stage.json`` atomically (tmp file + rename) inside ``stage_dir``."""
    path = stage_dir / RECORD_NAME
    tmp = stage_dir / (RECORD_NAME + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(record.to_json(), handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


class RecordProblem(Exception):
    """A stage folder exists but its record is missing, unreadable or incomplete."""


def read_record(stage_dir: Path) -> StageRecord | None:
    """The record of a stage folder; None if the folder does not exist.

    Raises RecordProblem when the folder exists but holds no complete record.
    """
    if not stage_dir.exists():
        return None
    path = stage_dir / RECORD_NAME
    if not path.is_file():
        raise RecordProblem(f"{stage_dir.name}/ has no {RECORD_NAME}: the stage never finished")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RecordProblem(f"{path} is unreadable: {exc}") from exc
    if data.get("status") != "complete" or "fingerprint" not in data:
        raise RecordProblem(f"{path} does not describe a complete stage")
    if int(data.get("schema_version", SCHEMA_VERSION)) > SCHEMA_VERSION:
        raise RecordProblem(
            f"{path} was written by a newer splat2sim (record schema {data['schema_version']}; this one reads up to {SCHEMA_VERSION})"
        )
    return StageRecord.from_json(data)
