"""Plain-data configuration: one dataclass section per stage plus a ``run`` section.

Resolution order (later wins): defaults -> preset -> config files (YAML or TOML) ->
``--set section.key=value`` overrides. Unknown sections and keys are errors with a
suggestion; values are checked against the field's type and range.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomllib
import yaml

from splat2sim.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "assets" / "configs" / "presets"


@dataclass
class RunConfig:
    seed: int = field(default=0, metadata={"help": "seed for every random choice", "min": 0})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "where heavy stages run"})
    workers: int = field(default=0, metadata={"help": "worker processes for parallel steps (0 = cores)", "min": 0})


# Keys that moved to another section: a workspace's stored config.yaml (written by an older
# splat2sim) is migrated when read; a user's own file or --set names the new place.
MOVED = {"physics.scale_from_sizes": "scale.from_sizes"}


def _migrate(data: dict) -> dict:
    """``data`` with moved keys of a stored workspace config moved (marked ``_stored``)."""
    if not isinstance(data, dict) or not data.get("_stored"):
        return data
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items() if k != "_stored"}
    for old, new in MOVED.items():
        (os_, ok), (ns, nk) = old.split("."), new.split(".")
        if isinstance(out.get(os_), dict) and ok in out[os_]:
            value = out[os_].pop(ok)
            out.setdefault(ns, {})
            if isinstance(out[ns], dict):
                out[ns].setdefault(nk, value)
    return out


def _sections() -> dict[str, type]:
    from splat2sim.stages import STAGES

    sections: dict[str, type] = {"run": RunConfig}
    for spec in STAGES.values():
        sections[spec.name] = spec.config_cls
    return sections


class Config:
    """The resolved configuration: ``config.section("frames").target_count``."""

    def __init__(self, sections: dict[str, Any]):
        self._sections = sections

    @classmethod
    def defaults(cls) -> "Config":
        return cls({name: klass() for name, klass in _sections().items()})

    def section(self, name: str):
        try:
            return self._sections[name]
        except KeyError:
            raise ConfigError(f"unknown config section '{name}'") from None

    @property
    def run(self) -> RunConfig:
        return self._sections["run"]

    def to_dict(self) -> dict:
        return {name: dataclasses.asdict(value) for name, value in self._sections.items()}

    def copy(self) -> "Config":
        return Config(copy.deepcopy(self._sections))

    # ---------------------------------------------------------------- updates
    def apply(self, data: dict, *, origin: str, validate: bool = True) -> "Config":
        """Return a new Config with ``data`` (nested dict) merged in; validates everything
        (each value's type and range always; the sections' cross-field rules unless
        ``validate`` is False, for a caller that validates after several updates)."""
        if data is None:
            return self.copy()
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: expected a mapping of sections, got {type(data).__name__}")
        new = self.copy()
        data = _migrate(data)
        for section_name, values in data.items():
            if section_name == "schema_version":
                continue
            if section_name not in new._sections:
                raise ConfigError(
                    f"{origin}: unknown config section '{section_name}'",
                    hint=_suggest(section_name, new._sections) + f"sections: {', '.join(new._sections)}",
                )
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{origin}: section '{section_name}' must be a mapping of keys")
            current = new._sections[section_name]
            updates = {}
            hints = typing.get_type_hints(type(current))
            fields = {f.name: f for f in dataclasses.fields(current)}
            for key, raw in values.items():
                if f"{section_name}.{key}" in MOVED:
                    raise ConfigError(
                        f"{origin}: '{section_name}.{key}' has moved to '{MOVED[f'{section_name}.{key}']}'",
                        hint=f"write {MOVED[f'{section_name}.{key}']} instead (a stored workspace config is migrated by itself)",
                    )
                if key not in fields:
                    raise ConfigError(
                        f"{origin}: unknown key '{section_name}.{key}'",
                        hint=_suggest(key, fields) + f"keys of '{section_name}': {', '.join(fields)}",
                    )
                updates[key] = _coerce(raw, hints[key], fields[key], f"{section_name}.{key}", origin)
            replaced = dataclasses.replace(current, **updates)
            _validate_section(replaced, section_name, origin, cross_field=validate)
            new._sections[section_name] = replaced
        return new

    def apply_overrides(self, overrides: list[str] | tuple[str, ...]) -> "Config":
        """Apply ``section.key=value`` strings. A section's rules that tie several keys
        together (e.g. poses.known_length with known_length_cameras) are checked once all
        overrides are in, so related keys can be given by separate --set options."""
        config = self
        touched: dict[str, list[str]] = {}
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep or "." not in key:
                raise ConfigError(
                    f"--set {item!r}: expected section.key=value",
                    hint="for example: --set frames.target_count=40",
                )
            section_name, _, field_name = key.strip().partition(".")
            try:
                value = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError:
                value = raw
            field_name, _, nested = field_name.partition(".")
            if nested:
                # section.mapping_field.a.b=value deep-merges into a dict field
                current = getattr(config._sections.get(section_name), field_name, None)
                if not isinstance(current, dict):
                    raise ConfigError(
                        f"--set {key.strip()}: '{section_name}.{field_name}' is not a mapping, so it has no key '{nested}'",
                        hint=f"use --set {section_name}.{field_name}=VALUE",
                    )
                merged = copy.deepcopy(current)
                node = merged
                parts = nested.split(".")
                for part in parts[:-1]:
                    child = node.get(part)
                    if not isinstance(child, dict):
                        child = {}
                        node[part] = child
                    node = child
                node[parts[-1]] = value
                value = merged
            config = config.apply({section_name: {field_name: value}}, origin=f"--set {key.strip()}", validate=False)
            touched.setdefault(section_name, []).append(f"--set {key.strip()}")
        for section_name, origins in touched.items():
            _validate_section(config._sections[section_name], section_name, ", ".join(origins))
        return config


def load_config(
    *,
    base: Config | None = None,
    preset: str | None = None,
    files: list[str | Path] | tuple = (),
    overrides: list[str] | tuple = (),
) -> Config:
    """Resolve a config. A preset starts from the defaults; otherwise ``base`` is kept."""
    config = base.copy() if (base is not None and preset is None) else Config.defaults()
    if preset == "auto":  # the machine's preset (splat2sim.hardware); imports torch, so only here
        from splat2sim.hardware import choose_preset

        preset = choose_preset().name
    if preset is not None and preset != "defaults":  # "defaults": the built-in defaults alone
        config = config.apply(read_preset(preset), origin=f"preset '{preset}'")
    for path in files:
        config = config.apply(read_config_file(Path(path)), origin=str(path))
    return config.apply_overrides(list(overrides))


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def read_preset(name: str) -> dict:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown preset '{name}'",
            hint=_suggest(name, available_presets()) + f"presets: {', '.join(available_presets())}, auto (this machine's) or defaults (none)",
        )
    return read_config_file(path)


def read_config_file(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist", hint="check the path given to --config")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"config file {path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'YAML'}: {exc}",
            hint="fix the syntax; `splat2sim config show` prints a valid config to start from",
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


# --------------------------------------------------------------------- helpers
def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _coerce(value, annotation, fld: dataclasses.Field, key: str, origin: str):
    def fail(expected: str):
        raise ConfigError(f"{origin}: {key} must be {expected}, got {value!r}", hint=_field_hint(fld))

    origin_type = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _coerce(value, non_none[0], fld, key, origin)
    if origin_type is Literal:
        if value not in args:
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        fail("true or false")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("a whole number")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            fail("a string")
        return str(value)
    if origin_type in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail("a list")
        inner = args[0] if args else Any
        return [_coerce(v, inner, fld, key, origin) if inner is not Any else v for v in value]
    if origin_type is dict or annotation is dict:
        if not isinstance(value, dict):
            fail("a mapping")
        return value
    return value


def _validate_section(section, name: str, origin: str, cross_field: bool = True) -> None:
    for fld in dataclasses.fields(section):
        value = getattr(section, fld.name)
        low, high = fld.metadata.get("min"), fld.metadata.get("max")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if low is not None and value < low:
                raise ConfigError(f"{origin}: {name}.{fld.name} must be >= {low}, got {value}", hint=_field_hint(fld))
            if high is not None and value > high:
                raise ConfigError(f"{origin}: {name}.{fld.name} must be <= {high}, got {value}", hint=_field_hint(fld))
    check = getattr(section, "validate", None)
    if check is not None and cross_field:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{origin}: {name}: {exc}", hint="`splat2sim config show` prints the current values") from None


def _field_hint(fld: dataclasses.Field) -> str:
    text = fld.metadata.get("help", "")
    return (f"{fld.name}: {text}; " if text else "") + f"default {fld.default!r}"
