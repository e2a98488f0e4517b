"""One scan of a batch (``ScanSpec``) and the settings layers it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ScanSpec:
    """One scan of a batch: its input, its workspace name and its settings."""

    name: str
    input: Path
    origin: str  # where it came from, for messages: "scans.csv line 3", "argument 2"
    preset: str | None = None
    config_files: list[Path] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)  # config mapping applied after the files ({"poses": {...}})
    name_given: bool = False  # named explicitly in a manifest (never renamed to dedupe)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "input": str(self.input),
            "origin": self.origin,
            "preset": self.preset,
            "config_files": [str(p) for p in self.config_files],
            "values": self.values,
            "overrides": list(self.overrides),
        }


@dataclass
class ScanSettings:
    """One layer of settings: the batch's, a manifest's defaults, or one row's."""

    preset: str | None = None
    config_files: list[Path] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)

    def layered(self, other: "ScanSettings") -> "ScanSettings":
        values = {section: dict(keys) for section, keys in self.values.items()}
        for section, keys in other.values.items():
            values.setdefault(section, {}).update(keys)
        return ScanSettings(
            preset=other.preset if other.preset is not None else self.preset,
            config_files=[*self.config_files, *other.config_files],
            overrides=[*self.overrides, *other.overrides],
            values=values,
        )

    def scan(self, name: str, path: Path, origin: str, *, name_given: bool = False) -> ScanSpec:
        return ScanSpec(
            name=name,
            input=Path(path).absolute(),
            origin=origin,
            preset=self.preset,
            config_files=list(self.config_files),
            overrides=list(self.overrides),
            values={section: dict(keys) for section, keys in self.values.items()},
            name_given=name_given,
        )
