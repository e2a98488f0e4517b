"""The on-disk contract between stages, defined once in code.

Every artifact a stage writes for another stage is declared here (one module per stage
output, in the style of lerobot's dataset format): its stage, its file name, its schema
version, the frame its geometry is in, and for JSON files a dataclass with ``read(dir)`` /
``write(dir, doc)``. ``write`` stamps ``schema_version``; ``read`` refuses a file whose
version this splat2sim does not know, with an error that names the stage to re-run.

Frames (see docs/ARTIFACTS.md): ``world`` is the frame poses fixed (+z up, origin on the
support, in poses' units: metres when poses found a metric scale, SfM units otherwise);
``metric`` is the same frame in metres (``scale/scale.json`` gives the factor, and
``splat2sim.artifacts.scale.MetricFrame`` is the one converter); ``object`` is an object's
own frame (axes of ``metric``, origin under its bounding-box centre).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from splat2sim.errors import StageError, WorkspaceError

FRAMES = ("world", "metric", "object", "image", "none")


class ArtifactError(WorkspaceError):
    """An upstream artifact is missing, unreadable, of an unknown version or malformed."""


def rerun_hint(stage: str) -> str:
    return f"re-run the '{stage}' stage: `splat2sim build WORKSPACE --force {stage}` (later stages follow)"


@dataclass
class Document:
    """A JSON document: named top-level fields, and ``extra`` for keys this version does not
    name (kept on a read/write round trip so that nothing is lost)."""

    extra: dict = field(default_factory=dict, repr=False, kw_only=True)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra"]

    @classmethod
    def required_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra" and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> "Document":
        names = set(cls.field_names())
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names and k != "schema_version"}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in self.field_names()}
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}

    def get(self, key: str, default: Any = None) -> Any:
        """dict-style access for code that reads optional keys."""
        if key in self.field_names():
            return getattr(self, key)
        return self.extra.get(key, default)


@dataclass
class Loose(Document):
    """A free-form document: every key is in ``extra`` (metrics, logs)."""


D = TypeVar("D", bound=Document)


@dataclass(frozen=True)
class FileArtifact:
    """A non-JSON artifact (PLY, NumPy array, OBJ folder, HTML): a declared name and frame."""

    stage: str
    file: str  # relative to the stage folder; may contain a {placeholder}
    description: str
    frame: str = "none"
    kind: ClassVar[str] = "file"

    def path(self, stage_dir: Path, **parts: str) -> Path:
        return Path(stage_dir) / self.file.format(**parts)

    def require(self, stage_dir: Path, **parts: str) -> Path:
        path = self.path(stage_dir, **parts)
        if not path.exists():
            raise ArtifactError(f"{self.stage}/{path.relative_to(stage_dir)} is missing", hint=rerun_hint(self.stage))
        return path


@dataclass(frozen=True)
class JsonArtifact(Generic[D]):
    """A JSON artifact with a schema version and a dataclass."""

    stage: str
    file: str
    version: int
    doc: type[D]
    description: str
    frame: str = "none"
    readable: tuple[int, ...] = ()  # older versions this code still reads
    kind: ClassVar[str] = "json"

    def path(self, stage_dir: Path) -> Path:
        return Path(stage_dir) / self.file

    @property
    def name(self) -> str:
        return f"{self.stage}/{self.file}"

    def read_dict(self, stage_dir: Path) -> dict:
        path = self.path(stage_dir)
        if not path.is_file():
            raise ArtifactError(f"{self.name} is missing from {Path(stage_dir).parent}", hint=rerun_hint(self.stage))
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{self.name} is unreadable: {exc}", hint=rerun_hint(self.stage)) from exc
        if not isinstance(data, dict):
            raise ArtifactError(f"{self.name} is not a JSON object", hint=rerun_hint(self.stage))
        version = data.get("schema_version")
        if version != self.version and version not in self.readable:
            known = ", ".join(str(v) for v in (*self.readable, self.version))
            raise ArtifactError(
                f"{self.name} has schema_version {version!r}; this splat2sim reads version {known}: it was written by another version of splat2sim",
                hint=rerun_hint(self.stage) + " to rewrite it in this version's format",
            )
        missing = [k for k in self.doc.required_fields() if k not in data]
        if missing:
            raise ArtifactError(f"{self.name} lacks the field(s) {', '.join(missing)}", hint=rerun_hint(self.stage))
        return data

    def read(self, stage_dir: Path) -> D:
        return self.doc.from_dict(self.read_dict(stage_dir))

    def write(self, stage_dir: Path, doc: D | dict, *, indent: int = 2) -> Path:
        data = doc.to_dict() if isinstance(doc, Document) else dict(doc)
        data = {"schema_version": self.version, **{k: v for k, v in data.items() if k != "schema_version"}}
        path = self.path(stage_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(data, indent=indent, default=_json_default) + "\n")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def require_finite(name: str, value, stage: str) -> None:
    """Raise when a number read from an artifact is not finite."""
    import math

    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise StageError(f"{name} is {value!r}, not a finite number", hint=rerun_hint(stage))
