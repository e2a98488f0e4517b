"""The fields of one manifest row (or of a YAML manifest's ``defaults:``) as settings.

See ``splat2sim.batch.manifest`` for the fields and how settings are layered.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import yaml

from splat2sim.batch.scan_spec import ScanSettings
from splat2sim.errors import ConfigError

LENGTH_KEYS = ("known_length", "known_length_cameras", "known_length_pixels")  # poses settings valid only together
SCAN_KEYS = ("input", "name", "marker_size", *LENGTH_KEYS, "preset", "config", "set")


def field_error(where: str, key: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{where}, field '{key}': {message}", hint=hint)


def _positive_metres(value, where: str, key: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise field_error(where, key, f"expected a length in metres, got {value!r}", hint=f"for example {key}: 0.08") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise field_error(where, key, f"expected a positive length in metres, got {value!r}", hint=f"for example {key}: 0.08")
    return float(value)


def _split_list(value) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;\n]", value) if part.strip()]
    return [str(v) for v in value]


def settings_from_row(row: dict, where: str, folder: Path, *, allow_input: bool) -> tuple[ScanSettings, dict]:
    """Per-scan settings and the plain fields (input, name) of one manifest row."""
    extra_overrides = []
    lengths = []  # marker_size goes last, as `splat2sim build --marker-size` does
    plain: dict = {}
    settings = ScanSettings()
    for key, value in row.items():
        if key is None:
            raise ConfigError(f"{where}: the row has more cells than the header has columns", hint="quote cells that contain commas")
        key = str(key).strip()
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key in ("input", "name"):
            if not allow_input:
                raise field_error(where, key, "is per scan and cannot be a default", hint="move it into each scan")
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise field_error(where, key, f"expected text, got {value!r}")
            plain[key] = str(value).strip()
        elif key == "marker_size":
            lengths.append(f"poses.{key}={_positive_metres(value, where, key)}")
        elif key in LENGTH_KEYS or key in {f"poses.{k}" for k in LENGTH_KEYS}:
            short = key.removeprefix("poses.")
            settings.values.setdefault("poses", {})[short] = _positive_metres(value, where, key) if short == "known_length" else str(value).strip()
        elif key == "preset":
            if not isinstance(value, str):
                raise field_error(where, key, f"expected a preset name, got {value!r}")
            settings.preset = value.strip()
        elif key == "config":
            if not isinstance(value, (str, list)):
                raise field_error(where, key, f"expected a path or a list of paths, got {value!r}")
            for item in _split_list(value):
                path = Path(item).expanduser()
                path = path if path.is_absolute() else folder / path
                if not path.is_file():
                    raise field_error(where, key, f"config file {path} does not exist")
                settings.config_files.append(path)
        elif key == "set":
            for item in _overrides_from(value, where):
                name, _, raw = item.partition("=")
                if name.strip() in {f"poses.{k}" for k in LENGTH_KEYS}:  # valid only together: see the docstring
                    settings.values.setdefault("poses", {})[name.strip().removeprefix("poses.")] = yaml.safe_load(raw)
                else:
                    extra_overrides.append(item)
        elif "." in key:
            extra_overrides.append(f"{key}={_override_text(value)}")
        else:
            close = difflib.get_close_matches(key, SCAN_KEYS, n=1)
            raise ConfigError(
                f"{where}: unknown field '{key}'",
                hint=(f"did you mean '{close[0]}'? " if close else "")
                + "fields: "
                + ", ".join(SCAN_KEYS)
                + ", or a config key such as splat.iterations",
            )
    settings.overrides = extra_overrides + lengths
    return settings, plain


def _override_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


def _overrides_from(value, where: str) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}={_override_text(v)}" for k, v in value.items()]
    if isinstance(value, (str, list)):
        items = _split_list(value)
        for item in items:
            if "=" not in item:
                raise field_error(where, "set", f"{item!r} is not section.key=value", hint="for example frames.target_count=30")
        return items
    raise field_error(where, "set", f"expected section.key=value items, got {value!r}", hint="for example frames.target_count=30")
