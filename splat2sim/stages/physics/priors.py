"""The material table (assets/materials.yaml) and the prior estimator: label and size only."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from splat2sim.errors import InputError

TABLE_PATH = Path(__file__).resolve().parents[2] / "assets" / "materials.yaml"
PROPERTIES = ("density", "static_friction", "dynamic_friction", "rolling_friction", "restitution")


@functools.lru_cache(maxsize=4)
def material_table(path: str | None = None) -> dict:
    file = Path(path) if path else TABLE_PATH
    try:
        table = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"material table {file} cannot be read: {exc}", hint="reinstall splat2sim (assets are package data)") from exc
    for name, entry in table["materials"].items():
        for prop in PROPERTIES:
            value, (lo, hi) = entry[prop]["value"], entry[prop]["range"]
            if not lo <= value <= hi:
                raise InputError(f"material table: {name}.{prop} value {value} is outside its range [{lo}, {hi}]")
    return table


def materials() -> list[str]:
    return list(material_table()["materials"])


def normalise_material(name: str | None) -> str | None:
    """Map a free-text material ('Porcelain', 'ABS plastic', 'tin') onto a table key, or None."""
    if not name:
        return None
    text = str(name).strip().lower()
    table = material_table()["materials"]
    if text in table:
        return text
    synonyms = {
        "porcelain": "ceramic", "stoneware": "ceramic", "earthenware": "ceramic", "clay": "ceramic",
        "metal": "steel", "tin": "steel", "tinplate": "steel", "iron": "steel", "stainless": "steel",
        "aluminum": "aluminium", "plastics": "plastic", "abs": "plastic", "polypropylene": "plastic",
        "pet": "plastic", "polyethylene": "plastic", "acrylic": "plastic", "silicone": "rubber",
        "paperboard": "cardboard", "carton": "cardboard", "cardboard box": "cardboard", "book": "paper",
        "textile": "fabric", "cloth": "fabric", "foam": "fabric", "food": "organic", "fruit": "organic",
        "vegetable": "organic", "concrete": "stone", "marble": "stone", "granite": "stone", "rock": "stone",
        "timber": "wood", "bamboo": "wood",
    }  # fmt: skip
    for word in re.findall(r"[a-z]+", text):
        if word in table:
            return word
        if word in synonyms:
            return synonyms[word]
    return synonyms.get(text)


@dataclass
class LabelPrior:
    material: str
    fill: str  # solid | shell | bulk
    size: dict  # {value, range}: typical largest dimension (m)
    wall_thickness: dict | None = None
    bulk_density: dict | None = None
    matched: str | None = None  # the keyword that matched; None = the default prior


def label_prior(label: str | None) -> LabelPrior:
    table = material_table()
    words = set(re.findall(r"[a-z]+", str(label or "").lower()))
    for entry in table["labels"]:
        for keyword in entry["keywords"]:
            if keyword in words or any(w.rstrip("s") == keyword for w in words):
                return LabelPrior(entry["material"], entry["fill"], entry["size"], entry.get("wall_thickness"), entry.get("bulk_density"), keyword)
    d = table["default_label"]
    return LabelPrior(d["material"], d["fill"], d["size"], d.get("wall_thickness"), d.get("bulk_density"), None)


def material_properties(material: str) -> dict:
    """{prop: {value, range, source}} for a table material."""
    entry = material_table()["materials"][material]
    return {prop: dict(entry[prop]) for prop in PROPERTIES}
