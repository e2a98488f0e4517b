"""The workspace: one folder per build, one sub-folder per stage, atomic commits.

A stage is written into ``.staging/<stage>.<id>/`` and renamed into place only after its
``_stage.json`` is written. The previous result is moved to ``.trash/`` first and deleted
after the rename, so a crash at any moment leaves either the old or the new complete
result, never a half-written one that looks complete. ``Workspace.open`` repairs the one
window in between (old result in ``.trash``, new one not yet renamed in).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from splat2sim.errors import WorkspaceError
from splat2sim.workspace import layout
from splat2sim.workspace.hashing import HashCache
from splat2sim.workspace.record import RecordProblem, StageRecord, read_record, write_record

__all__ = ["Workspace", "StageRecord", "RecordProblem", "layout"]


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root).absolute()
        self._lock_handle = None
        self.hashes = HashCache(self.root / layout.CACHE_DIR / "hashes.json")

    # ------------------------------------------------------------------ creation
    @classmethod
    def open(cls, root: str | os.PathLike, *, create: bool = False) -> "Workspace":
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise WorkspaceError(
                f"workspace path {root} exists and is not a folder",
                hint="choose another output folder with -o",
            )
        if not root.exists():
            if not create:
                raise WorkspaceError(
                    f"no workspace at {root}",
                    hint="run `splat2sim build INPUT -o WORKSPACE` first, or check the path",
                )
            root.mkdir(parents=True)
        ws = cls(root)
        return ws

    # ------------------------------------------------------------------ metadata
    @property
    def meta_path(self) -> Path:
        return self.root / layout.WORKSPACE_META

    def read_meta(self) -> dict:
        if not self.meta_path.is_file():
            return {}
        try:
            meta = json.loads(self.meta_path.read_text())
        except ValueError as exc:
            raise WorkspaceError(
                f"{self.meta_path} is corrupt: {exc}",
                hint="delete the file and pass the input again to `splat2sim build`",
            ) from exc
        version = meta.get("schema_version", layout.SCHEMA_VERSION) if isinstance(meta, dict) else None
        if not isinstance(version, int) or version > layout.SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.meta_path} has workspace schema {version!r}; this splat2sim reads schema {layout.SCHEMA_VERSION} and older",
                hint="upgrade splat2sim (pip install -U splat2sim), or build into a new workspace with -o",
            )
        return meta

    def write_meta(self, meta: dict) -> None:
        meta = {"schema_version": layout.SCHEMA_VERSION, **meta}
        _write_json_atomic(self.meta_path, meta)

    # ------------------------------------------------------------------ stages
    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def cache_dir(self, stage: str, name: str) -> Path:
        """A stage's named cache, kept across runs (``.cache/<stage>/<name>``)."""
        return self.root / layout.CACHE_DIR / stage / name

    def read_record(self, stage: str) -> StageRecord | None:
        """The stage's record, None if the stage folder is absent; raises RecordProblem."""
        return read_record(self.stage_dir(stage))

    def failure_path(self, stage: str) -> Path:
        return self.root / layout.LOG_DIR / f"{stage}.failed.json"

    def record_failure(self, stage: str, error: BaseException, fingerprint: str | None) -> None:
        data = {
            "stage": stage,
            "error": type(error).__name__,
            "message": getattr(error, "message", str(error)),
            "hint": getattr(error, "hint", None),
            "fingerprint": fingerprint,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_json_atomic(self.failure_path(stage), data)

    def read_failure(self, stage: str) -> dict | None:
        path = self.failure_path(stage)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return None

    def clear_failure(self, stage: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.failure_path(stage).unlink()

    @contextlib.contextmanager
    def staging(self, stage: str):
        """Yield a fresh staging folder; the caller commits it or it is removed."""
        staging_root = self.root / layout.STAGING_DIR
        staging_root.mkdir(exist_ok=True)
        path = staging_root / f"{stage}.{uuid.uuid4().hex[:12]}"
        path.mkdir()
        try:
            yield path
        finally:
            # Reached after commit (path gone) or on any error, Ctrl-C included.
            shutil.rmtree(path, ignore_errors=True)

    def commit(self, stage: str, staged: Path, record: StageRecord) -> Path:
        """Write the record last, then swap the staged folder into place."""
        write_record(staged, record)
        final = self.stage_dir(stage)
        trash_root = self.root / layout.TRASH_DIR
        old = None
        if final.exists():
            trash_root.mkdir(exist_ok=True)
            old = trash_root / f"{stage}.{uuid.uuid4().hex[:12]}"
            os.rename(final, old)
        os.rename(staged, final)
        _fsync_dir(self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final

    # ------------------------------------------------------------------ locking and repair
    @contextlib.contextmanager
    def locked(self):
        """Hold the workspace lock (one writer at a time) and repair leftovers first."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / layout.LOCK_NAME, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise WorkspaceError(
                f"workspace {self.root} is in use by another splat2sim process ({holder})",
                hint="wait for it to finish, or stop it; the lock is released when it exits",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            self.repair()
            yield self
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def repair(self) -> list[str]:
        """Undo what an interrupted run left behind. Call with the lock held."""
        actions: list[str] = []
        trash_root = self.root / layout.TRASH_DIR
        if trash_root.is_dir():
            for old in sorted(trash_root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
                stage = old.name.split(".")[0]
                final = self.stage_dir(stage)
                if not final.exists():
                    try:
                        read_record(old)
                    except RecordProblem:
                        shutil.rmtree(old, ignore_errors=True)
                        continue
                    os.rename(old, final)  # the crash came between the two renames
                    actions.append(f"restored {stage}/ from an interrupted commit")
                else:
                    shutil.rmtree(old, ignore_errors=True)
        staging_root = self.root / layout.STAGING_DIR
        if staging_root.is_dir():
            for leftover in staging_root.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)
                actions.append(f"removed unfinished {leftover.name}")
        return actions


def _write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
