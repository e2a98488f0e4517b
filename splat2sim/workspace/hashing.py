"""Content hashes of input files, cached by (size, mtime) so that `status` stays cheap."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(value) -> str:
    """Hash of a JSON-able value in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class HashCache:
    """Remembers file hashes keyed by absolute path, size and mtime_ns."""

    def __init__(self, cache_file: Path | None):
        self.cache_file = cache_file
        self._entries: dict[str, dict] = {}
        if cache_file is not None and cache_file.is_file():
            try:
                self._entries = json.loads(cache_file.read_text())
            except (OSError, ValueError):
                self._entries = {}  # a corrupt cache is only a cache

    def file_hash(self, path: Path) -> str:
        path = Path(path).resolve()
        stat = path.stat()
        key = str(path)
        entry = self._entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return entry["sha256"]
        digest = sha256_file(path)
        self._entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        self._save()
        return digest

    def tree_hash(self, paths: list[Path]) -> str:
        """One hash over several files: their names and contents, in the given order."""
        return sha256_json([[Path(p).name, self.file_hash(p)] for p in paths])

    def _save(self) -> None:
        if self.cache_file is None:
            return
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._entries))
            os.replace(tmp, self.cache_file)
        except OSError:
            pass  # a read-only workspace still works, only slower
