"""User overrides: known values per object, from ``physics.objects`` in the config (``--set
'physics.objects={obj_000: {mass: 0.4}}'``) and/or a YAML/TOML file (``physics.overrides_file``).

Shape (keys are object ids, or labels matched after ``names.sanitize``)::

    obj_000: {mass: 0.4}                       # kg
    mug: {material: ceramic, hollow: true, wall_thickness: 0.004}
    obj_002: {static_friction: {value: 0.3, range: [0.25, 0.35]}, restitution: 0.1}

A number means a known value (range = the value, unless given); ``{value, range}`` states
an uncertainty. A file may also hold the mapping under ``objects:`` or ``physics: {objects:}``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import tomllib
import yaml

from splat2sim.errors import ConfigError
from splat2sim.names import sanitize

RANGED = {"mass": (1e-5, 1e4), "density": (1.0, 25000.0), "static_friction": (0.0, 3.0), "dynamic_friction": (0.0, 3.0),
          "rolling_friction": (0.0, 1.0), "restitution": (0.0, 1.0)}  # fmt: skip
OTHER = ("material", "hollow", "wall_thickness", "center_of_mass", "label")
KEYS = tuple(RANGED) + OTHER
ID_PATTERN = re.compile(r"^obj_\d+$")


def read_file(path: str | Path) -> dict:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"overrides file {file} does not exist", hint="check physics.overrides_file")
    try:
        text = file.read_text()
        data = tomllib.loads(text) if file.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"overrides file {file} cannot be read: {exc}", hint="YAML or TOML: {obj_000: {mass: 0.4}}") from exc
    data = data or {}
    if isinstance(data, dict) and isinstance(data.get("physics"), dict):
        data = data["physics"]
    if isinstance(data, dict) and isinstance(data.get("objects"), dict):
        data = data["objects"]
    return parse(data, origin=str(file))


def parse(data, origin: str = "physics.objects") -> dict[str, dict]:
    """Validate and normalise: {key: {prop: {value, range} | str | bool | [3]}}."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of object id (or label) to known values, got {type(data).__name__}")
    out: dict[str, dict] = {}
    for key, values in data.items():
        where = f"{origin}.{key}"
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: expected a mapping of properties, e.g. {{mass: 0.4}}", hint="keys: " + ", ".join(KEYS))
        entry = {}
        for prop, raw in values.items():
            if prop not in KEYS:
                import difflib

                close = difflib.get_close_matches(str(prop), KEYS, n=1)
                raise ConfigError(
                    f"{where}: unknown property '{prop}'", hint=(f"did you mean '{close[0]}'? " if close else "") + "keys: " + ", ".join(KEYS)
                )
            entry[prop] = _value(prop, raw, f"{where}.{prop}")
        out[str(key)] = entry
    return out


def _number(x, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ConfigError(f"{where}: expected a number, got {x!r}")
    return float(x)


def _value(prop: str, raw, where: str):
    if prop in RANGED:
        lo_b, hi_b = RANGED[prop]
        if isinstance(raw, dict):
            value = _number(raw.get("value"), where + ".value")
            rng = raw.get("range", [value, value])
            if not isinstance(rng, (list, tuple)) or len(rng) != 2:
                raise ConfigError(f"{where}.range: expected [low, high]")
            lo, hi = sorted(_number(r, where + ".range") for r in rng)
        else:
            value = _number(raw, where)
            lo = hi = value
        if not (lo_b <= lo <= value <= hi <= hi_b) or (prop in ("mass", "density") and value <= 0):
            raise ConfigError(
                f"{where}: {value:g} (range [{lo:g}, {hi:g}]) is not physical", hint=f"expected within [{lo_b:g}, {hi_b:g}] and low <= value <= high"
            )
        return {"value": value, "range": [lo, hi]}
    if prop == "material":
        from splat2sim.stages.physics.priors import materials, normalise_material

        name = normalise_material(raw)
        if name is None:
            raise ConfigError(f"{where}: unknown material {raw!r}", hint="materials: " + ", ".join(materials()))
        return name
    if prop == "hollow":
        if not isinstance(raw, bool):
            raise ConfigError(f"{where}: expected true or false, got {raw!r}")
        return raw
    if prop == "wall_thickness":
        value = _number(raw, where)
        if not 0 < value < 0.1:
            raise ConfigError(f"{where}: {value} m is not a wall thickness", hint="metres, e.g. 0.004")
        return value
    if prop == "center_of_mass":
        if not isinstance(raw, (list, tuple)) or len(raw) != 3:
            raise ConfigError(f"{where}: expected [x, y, z] in the object frame (metres)")
        return [_number(x, where) for x in raw]
    if prop == "label":
        return str(raw)
    raise AssertionError(prop)


def resolve(overrides: dict[str, dict], objects: list[dict]) -> tuple[dict[str, dict], list[str]]:
    """Map override keys onto object ids. Ids must exist (an error); labels that match no
    object give a warning. An id's entry wins over a label's for the same property."""
    ids = {o["id"] for o in objects}
    by_label: dict[str, list[str]] = {}
    for o in objects:
        by_label.setdefault(sanitize(o.get("label") or ""), []).append(o["id"])
    resolved: dict[str, dict] = {}
    warnings = []
    for key in sorted(overrides, key=lambda k: bool(ID_PATTERN.match(k))):  # labels first, ids last (win)
        values = overrides[key]
        if ID_PATTERN.match(key):
            if key not in ids:
                raise ConfigError(f"physics overrides name object '{key}', which is not in this scene",
                                  hint="objects: " + ", ".join(sorted(ids)) + " (see segment/objects.json)")  # fmt: skip
            resolved.setdefault(key, {}).update(values)
        else:
            targets = by_label.get(sanitize(key), [])
            if not targets:
                warnings.append(f"physics override for label '{key}' matches no object (labels: {', '.join(sorted(by_label))})")
            for oid in targets:
                resolved.setdefault(oid, {}).update(values)
    return resolved, warnings
