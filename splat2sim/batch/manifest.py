"""What a batch converts: the scans named on the command line, in folders, or in a manifest.

INPUTS of ``splat2sim batch`` are any mix of

- a video file: one scan, named after the file (``kitchen.mp4`` -> ``kitchen``);
- a folder that holds images: one scan of those photos, named after the folder;
- any other folder: every video directly inside is a scan, and every sub-folder that holds
  images (a photo scan) or exactly one video (``site_07/video.mp4`` -> ``site_07``) is a scan;
- a manifest (``.csv``, ``.yaml`` / ``.yml``): one scan per row, with per-scan settings.

A CSV manifest has a header row. ``input`` is required; ``name``, ``marker_size`` (metres),
``known_length`` (metres, with ``known_length_cameras`` or ``known_length_pixels``, see
the poses stage), ``preset``, ``config`` (config files, ``;``-separated) and ``set``
(``section.key=value`` overrides, ``;``-separated) are optional, and any other column named
``section.key`` is an override too. Empty cells mean "not given". A YAML manifest is a list of
scans, or a mapping with ``scans:`` and optional ``defaults:`` (the same keys, applied to every
scan before its own). In YAML, ``set`` is a list of ``section.key=value`` strings or a mapping
``{section.key: value}``; ``config`` is one path or a list. Relative paths are relative to the
manifest.

Settings are layered per scan, later winning: the batch's ``--preset`` / ``--config`` /
``--set``, then the manifest's defaults, then the scan's own values. The known-length
settings only validate together, so they travel as one small config mapping (``values``,
written to ``OUT/.batch/<name>.yaml`` by the runner and applied after the config files). Everything that can be
checked without running a stage is checked here (inputs exist, values have the right type,
the resulting config is valid, names are unique), and errors name the manifest, the row and
the field, so that a typo fails the batch before hours of compute rather than after.

``ScanSpec`` and the settings layers live in ``scan_spec``; the fields of one row are read by
``manifest_fields``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml

from splat2sim.batch.manifest_fields import field_error, settings_from_row
from splat2sim.batch.scan_spec import ScanSettings, ScanSpec
from splat2sim.errors import ConfigError, InputError

MANIFEST_SUFFIXES = {".csv", ".yaml", ".yml"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
RESERVED_NAMES = {"batch.json", "batch.json.tmp"}


def _suffixes():
    from splat2sim.stages.frames.inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    return VIDEO_SUFFIXES, IMAGE_SUFFIXES


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _has_images(folder: Path) -> bool:
    _, images = _suffixes()
    return any(p.is_file() and p.suffix.lower() in images for p in _visible(folder))


def _videos(folder: Path) -> list[Path]:
    videos, _ = _suffixes()
    return [p for p in _visible(folder) if p.is_file() and p.suffix.lower() in videos]


def derive_name(text: str) -> str:
    """A workspace folder name from a file or folder name: letters, digits, '.', '_', '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:80]
    return name or "scan"


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES


# --------------------------------------------------------------------------- collecting
def collect_scans(
    inputs,
    *,
    preset: str | None = None,
    config_files=(),
    overrides=(),
    exclude: Path | None = None,
) -> list[ScanSpec]:
    """Expand INPUTS (videos, folders, manifests) into scans with unique names.

    ``preset`` / ``config_files`` / ``overrides`` are the batch-wide settings; manifests layer
    theirs on top. ``exclude`` (the batch's output folder) is never taken for a scan.
    Raises InputError / ConfigError naming the argument, manifest row and field.
    """
    if not inputs:
        raise InputError("no inputs given", hint="pass videos, folders of scans, or a manifest (.csv / .yaml)")
    base = ScanSettings(preset=preset, config_files=[Path(p).expanduser().absolute() for p in config_files], overrides=list(overrides))
    exclude = Path(exclude).expanduser().absolute() if exclude is not None else None
    scans: list[ScanSpec] = []
    for position, raw in enumerate(inputs, start=1):
        path = Path(raw).expanduser()
        origin = f"argument {position} ({raw})"
        if not path.exists():
            raise InputError(f"{origin}: {path} does not exist", hint="check the path (and that the file finished copying)")
        path = path.absolute()
        if is_manifest(path):
            scans.extend(read_manifest(path, base))
        elif path.is_dir():
            found = _scans_in_folder(path, base, origin, exclude)
            if not found:
                videos, images = _suffixes()
                raise InputError(
                    f"{origin}: folder {path} holds no scans",
                    hint="a scan is a video (" + ", ".join(sorted(videos)) + "), a folder of photos, or a sub-folder "
                    "with one video; or pass a manifest (.csv / .yaml)",
                )
            scans.extend(found)
        elif path.is_file():
            scans.append(base.scan(derive_name(path.stem), path, origin))
        else:
            raise InputError(f"{origin}: {path} is neither a file nor a folder")
    _dedupe(scans)
    for scan in scans:
        validate_settings(scan)
    return scans


def _scans_in_folder(folder: Path, base: ScanSettings, origin: str, exclude: Path | None) -> list[ScanSpec]:
    if _has_images(folder):
        return [base.scan(derive_name(folder.name), folder, origin)]
    found = [base.scan(derive_name(v.stem), v, f"{origin}: {v.name}") for v in _videos(folder)]
    for sub in _visible(folder):
        if not sub.is_dir() or (exclude is not None and sub.absolute() == exclude):
            continue
        if _has_images(sub):
            found.append(base.scan(derive_name(sub.name), sub.absolute(), f"{origin}: {sub.name}/"))
            continue
        videos = _videos(sub)
        if len(videos) == 1:
            found.append(base.scan(derive_name(sub.name), videos[0].absolute(), f"{origin}: {sub.name}/{videos[0].name}"))
        else:
            found.extend(base.scan(derive_name(f"{sub.name}_{v.stem}"), v.absolute(), f"{origin}: {sub.name}/{v.name}") for v in videos)
    return found


def _dedupe(scans: list[ScanSpec]) -> None:
    given: dict[str, ScanSpec] = {}
    for scan in scans:
        if scan.name_given:
            key = scan.name.lower()
            if key in given:
                raise ConfigError(
                    f"{scan.origin}: name '{scan.name}' is already used by {given[key].origin}",
                    hint="every scan needs its own name: it is the folder of its workspace (OUT/<name>/)",
                )
            given[key] = scan
    taken = set(given)
    for scan in scans:
        if scan.name_given:
            continue
        name, n = scan.name, 1
        while name.lower() in taken or name in RESERVED_NAMES:
            n += 1
            name = f"{scan.name}_{n}"
        scan.name = name
        taken.add(name.lower())


def validate_settings(scan: ScanSpec) -> None:
    """Resolve the scan's config once (defaults, preset, files, overrides): errors name the scan."""
    from splat2sim.config import load_config

    try:
        config = load_config(preset=scan.preset, files=scan.config_files)
        if scan.values:
            config = config.apply(scan.values, origin="settings")
        config.apply_overrides(scan.overrides)
    except ConfigError as exc:
        raise ConfigError(f"{scan.origin}: {exc.message}", hint=exc.hint) from None


# --------------------------------------------------------------------------- manifests
def _scan_from_row(row: dict, where: str, folder: Path, base: ScanSettings) -> ScanSpec:
    settings, plain = settings_from_row(row, where, folder, allow_input=True)
    if not plain.get("input"):
        raise field_error(where, "input", "is missing", hint="every scan needs an input: a video or a folder of photos")
    path = Path(plain["input"]).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.exists():
        raise InputError(f"{where}, field 'input': {path} does not exist", hint="check the path (relative paths are relative to the manifest)")
    name = plain.get("name")
    if name is not None and (not _NAME_RE.match(name) or name in RESERVED_NAMES):
        raise field_error(
            where,
            "name",
            f"{name!r} cannot be a folder name",
            hint="use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 80)",
        )
    merged = base.layered(settings)
    return merged.scan(name or derive_name(path.stem if path.is_file() else path.name), path, where, name_given=name is not None)


def read_manifest(path: Path, base: ScanSettings | None = None) -> list[ScanSpec]:
    """The scans of a CSV or YAML manifest (see the module docstring)."""
    base = base or ScanSettings()
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest {path} cannot be read: {exc}") from exc
    if path.suffix.lower() == ".csv":
        scans = _read_csv(text, path, base)
    else:
        scans = _read_yaml(text, path, base)
    if not scans:
        raise ConfigError(f"manifest {path} lists no scans", hint="add one row per scan with at least an 'input'")
    return scans


def _read_csv(text: str, path: Path, base: ScanSettings) -> list[ScanSpec]:
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "input" not in header:
        raise ConfigError(
            f"{path.name}: the header has no 'input' column (found: {', '.join(header) or 'nothing'})",
            hint="the first line names the columns, e.g. input,name,marker_size,set",
        )
    reader.fieldnames = header
    scans = []
    for row in reader:
        if None not in row and all(v is None or not str(v).strip() for v in row.values()):
            continue  # a line of empty cells
        scans.append(_scan_from_row(row, f"{path.name} line {reader.line_num}", path.parent, base))
    return scans


def _yaml_lines(text: str) -> list[int]:
    """Line numbers (1-based) of the items of the scans list, for messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == "scans"), None)
    if isinstance(node, yaml.SequenceNode):
        return [item.start_mark.line + 1 for item in node.value]
    return []


def _read_yaml(text: str, path: Path, base: ScanSettings) -> list[ScanSpec]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"manifest {path} is not valid YAML: {exc}", hint="fix the syntax; see README 'Batch'") from exc
    defaults: dict = {}
    if isinstance(data, dict):
        unknown = set(data) - {"scans", "defaults", "schema_version"}
        if unknown:
            raise ConfigError(f"{path.name}: unknown top-level key(s) {sorted(unknown)}", hint="expected 'scans' and optional 'defaults'")
        defaults = data.get("defaults") or {}
        data = data.get("scans")
        if not isinstance(defaults, dict):
            raise ConfigError(f"{path.name}: 'defaults' must be a mapping of scan fields")
    if not isinstance(data, list):
        raise ConfigError(f"{path.name}: expected a list of scans (or a mapping with 'scans:')", hint="see README 'Batch' for an example")
    shared, _ = settings_from_row(defaults, f"{path.name} defaults", path.parent, allow_input=False)
    layered = base.layered(shared)
    lines = _yaml_lines(text)
    scans = []
    for index, item in enumerate(data):
        where = f"{path.name} scan {index + 1}" + (f" (line {lines[index]})" if index < len(lines) else "")
        if isinstance(item, str):
            item = {"input": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping with 'input' (and optional name, marker_size, set, ...), got {item!r}")
        scans.append(_scan_from_row(item, where, path.parent, layered))
    return scans


__all__ = ["ScanSpec", "collect_scans", "read_manifest", "derive_name", "is_manifest", "validate_settings"]
