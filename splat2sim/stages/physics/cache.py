"""VLM answers cached by content hash, so that re-runs are free and reproducible.

The key is the SHA-256 of the request that matters: model, prompt name and text, the
messages (the crops' bytes included, as base64) and the sampling settings. The endpoint URL
and the API key are not part of it (the same model answers the same question wherever it
is served), and neither is ever written into an entry.

Where answers live (read in this order, written to the first and second):
1. ``<stage staging>/vlm_cache/`` — the ``physics/vlm_cache/`` of this run's result;
2. ``<workspace>/.cache/vlm/`` — survives a failed run and a deleted ``physics/`` folder;
3. ``<workspace>/physics/vlm_cache/`` — the previous result (still in place while a run
   is staged), so answers are carried forward even into a copied workspace;
4. ``physics.cache_dir`` when set — shared between workspaces (also written).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

ENTRY_VERSION = 1


def request_key(body: dict, prompt_name: str) -> str:
    keep = {k: body[k] for k in ("model", "messages", "temperature", "max_tokens", "response_format") if k in body}
    canonical = json.dumps({"v": ENTRY_VERSION, "prompt": prompt_name, "request": keep}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AnswerCache:
    def __init__(self, read_dirs: list[Path], write_dirs: list[Path], enabled: bool = True):
        self.read_dirs = [Path(d) for d in read_dirs]
        self.write_dirs = [Path(d) for d in write_dirs]
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict | None:
        if not self.enabled:
            return None
        for folder in self.read_dirs:
            path = folder / f"{key}.json"
            if not path.is_file():
                continue
            try:
                entry = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # a damaged entry is ignored (and rewritten after a fresh request)
            if entry.get("key") == key and isinstance(entry.get("content"), str):
                self.hits += 1
                self.put(key, entry, count=False)  # carry it forward into this run's folders
                return entry
        self.misses += 1
        return None

    def put(self, key: str, entry: dict, count: bool = True) -> None:
        if not self.enabled:
            return
        entry = {"schema_version": ENTRY_VERSION, "key": key, **{k: v for k, v in entry.items() if k not in ("schema_version", "key")}}
        entry.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        text = json.dumps(entry, indent=1, sort_keys=True) + "\n"
        for folder in self.write_dirs:
            path = folder / f"{key}.json"
            if path.is_file():
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(text)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only shared cache still works for reading
