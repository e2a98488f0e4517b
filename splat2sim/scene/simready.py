"""NVIDIA's SimReady validator (``simready-validate`` with ``simready-foundation-tier-core``,
optional) on the per-object props and the scene, against the ``Robotics-Prop`` profile.

``validate_simready(usd_dir)`` returns, per asset, the features passed and failed, the failing
requirement ids, and for each failure that a scan cannot meet the reason (``KNOWN``), so
those stay visible as known, explained failures rather than hidden.
"""

from __future__ import annotations

import logging
from pathlib import Path

from splat2sim.errors import missing_package

PROFILE = "Robotics-Prop"

# Features of Robotics-Prop the props do not meet, and why, tagged: [single body] and [not
# seen in a scan] are limits of a scanned rigid object; [conflicts with usd-core's validators]
# would pass here but break the usd-core validation the export keeps. Each is optional in the profile; the required ones
# (FET_000/001/003/006/011/011_RTX/031/033/046 STANDARD) are met, and so are the optional
# grasp (FET_005), display colour (FET_010), PhysX/Newton/MuJoCo runtime variant and Isaac
# composition (FET_100_ISAAC) features.
KNOWN = {
    "FET_004_STANDARD": "[single body] multibody joints: a scanned object is one rigid body, RB.MB.001 asks for two or more",
    "FET_004_PHYSX": "[single body] multibody (PhysX): needs the joints of FET_004_STANDARD, which a single rigid body has not",
    "FET_004_NEWTON": "[single body] multibody (Newton): needs the joints of FET_004_STANDARD, which a single rigid body has not",
    "FET_004_MUJOCO": "[single body] multibody (MuJoCo): needs the joints of FET_004_STANDARD, which a single rigid body has not",
    "FET_006_MDL": "[conflicts with usd-core's validators] an MDL surface (sourceType 'mdl', a .mdl module beside the asset) passes this feature when authored, but "
    "usd-core's shader registry has no MDL parser plugin, so its validators, which the export keeps passing, report "
    "MissingSourceTypeInRegistry (measured). UsdPreviewSurface (the required material feature) carries the colour/texture",
    "FET_006_OPENPBR": "[conflicts with usd-core's validators] an OpenPBR (MaterialX) surface needs the shader id ND_open_pbr_surface_surfaceshader, which usd-core's "
    "shader registry cannot resolve (the usd-core wheel has no UsdMtlx plugin): its validators, which the export keeps passing, "
    "report MissingShaderIdInRegistry. UsdPreviewSurface (the required material feature) carries the colour/texture",
    "FET_007_STANDARD": "[not seen in a scan] non-visual (lidar/radar) materials: the base material is written from the physics stage's material "
    "class where the SimReady vocabulary has it, but the coating (none / paint / clearcoat, NVM.003) cannot be seen in an "
    "RGB video and the vocabulary has no 'unknown', so it is left unauthored rather than guessed",
}


def _sv():
    try:
        import simready.validate as sv
    except ImportError as exc:
        raise missing_package("simready-validate", "SimReady validation (with simready-foundation-tier-core)") from exc
    return sv


def available() -> bool:
    try:
        _sv()
    except Exception:
        return False
    return True


def validate_asset(path, profile: str = PROFILE) -> dict:
    """One asset against ``profile``: {features: {id: {passed, blocking, failing}}, passed: [...],
    failed: [...], known: {id: reason}, unexpected: [...], issues: {requirement: [first messages]}}."""
    sv = _sv()
    if not sv.get_available_profiles():
        sv.initialize([], [], [])
    quiet = logging.getLogger("simready.validate")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.ERROR)  # the validator logs deprecation notes on the root logger
    try:
        result = sv.validate_asset(sv.AssetValidationConfig(asset_path=str(Path(path).resolve()), profile_id=profile))
    finally:
        quiet.setLevel(level)
        root.setLevel(root_level)
    if result is None:
        raise RuntimeError(f"simready-validate could not validate {path} against {profile}")
    features = {}
    for fid, v in sorted(result.features_summary.items()):
        features[fid] = {
            "passed": bool(v.get("passed")),
            "blocking": bool(v.get("blocking_failure")),
            "failing": _ids(v.get("failing requirements")) + _ids(v.get("optional requirements")),
        }
    failed = [f for f, v in features.items() if not v["passed"]]
    messages: dict[str, list[str]] = {}
    for issue in list(result.issues) + list(getattr(result, "soft_issues", [])):
        code = issue.requirement.code if getattr(issue, "requirement", None) is not None else "?"
        text = str(getattr(issue, "message", issue))
        if text not in messages.setdefault(code, []) and len(messages[code]) < 3:
            messages[code].append(text)
    return {
        "profile": result.profile_id,
        "profile_version": result.profile_version,
        "features": features,
        "passed": [f for f, v in features.items() if v["passed"]],
        "failed": failed,
        "known": {f: KNOWN[f] for f in failed if f in KNOWN},
        "unexpected": [f for f in failed if f not in KNOWN],
        "issues": messages,
    }


def _ids(text) -> list[str]:
    if not text:
        return []
    if isinstance(text, (list, tuple)):
        return [str(t) for t in text]
    return [t.strip(" '\"") for t in str(text).strip("[]").split(",") if t.strip(" '\"")]


def validate_simready(usd_dir, profile: str = PROFILE) -> dict:
    """Every prop under ``usd_dir/props`` and the scene: {assets: {name: result}, scene: result,
    props_passed_all_meetable: bool}."""
    usd_dir = Path(usd_dir)
    assets = {}
    for prop in sorted((usd_dir / "props").glob("*/usd/*.usda")):
        assets[prop.stem] = {"path": prop.relative_to(usd_dir).as_posix(), **validate_asset(prop, profile)}
    out: dict = {"profile": profile, "assets": assets}
    if (usd_dir / "scene.usda").is_file():
        out["scene"] = {"path": "scene.usda", **validate_asset(usd_dir / "scene.usda", profile)}
    out["props_pass_all_meetable"] = bool(assets) and all(not a["unexpected"] for a in assets.values())
    return out
