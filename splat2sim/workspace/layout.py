"""Workspace layout: the stage order and the names of files every stage shares.

A workspace is a folder. Each stage owns ``<workspace>/<stage>/`` and finishes it with
``_stage.json``; nothing passes between stages in memory (see ../shared/DESIGN.md).
"""

from __future__ import annotations

# The full pipeline, in order. Not every stage is implemented in every version: the
# registry in ``splat2sim.stages`` says which are.
STAGE_ORDER: tuple[str, ...] = (
    "frames",
    "poses",
    "splat",
    "segment",
    "scale",
    "mesh",
    "collision",
    "physics",
    "export",
    "check",
    "variants",
    "report",
)

RECORD_NAME = "_stage.json"  # written last in every stage folder
WORKSPACE_META = "workspace.json"  # input and provenance of the workspace
WORKSPACE_CONFIG = "config.yaml"  # resolved config of the latest build
STAGING_DIR = ".staging"  # stages are written here, then renamed into place
TRASH_DIR = ".trash"  # the previous result while a new one is renamed in
LOG_DIR = "logs"  # failure records: <stage>.failed.json
CACHE_DIR = ".cache"  # file-hash cache
LOCK_NAME = ".lock"

SCHEMA_VERSION = 1
