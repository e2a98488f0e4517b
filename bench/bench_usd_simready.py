"""SimReady benchmark: NVIDIA's validator (``simready-validate`` + ``simready-foundation-tier-core``,
profile ``Robotics-Prop``) on the USD that splat2sim exports, before and after per-object props.

- before: the single ``usd/scene.usda`` an earlier build wrote (objects inline, no per-object
  asset), validated as it is on disk: the only USD asset a user could hand to the validator;
- after: the same scene.json re-exported by this checkout (``write_usd``) into a temporary
  folder: one prop per object (``usd/props/<name>/usd/<name>.usda``) plus the composing scene.

For every asset: the features passed and failed, and for each failure whether it is a known
one a scanned rigid object cannot meet (with the reason, ``splat2sim.scene.simready.KNOWN``)
or unexpected. Workspaces are read, never written.

    .venv/bin/python bench/bench_usd_simready.py [--out bench/results/usd_simready.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = {
    "bundled example (examples/tabletop)": Path("/work/main/workspaces/demo/export"),
    "synthetic capture (synth_300)": Path("/work/main/workspaces/bench_e2e/after__59b650d__the_build_s_own_choice_/synth_300/export"),
}


def summary(result: dict) -> dict:
    return {
        "passed": len(result["passed"]),
        "features": len(result["features"]),
        "passed_features": result["passed"],
        "failed_features": {f: result["features"][f]["failing"] for f in result["failed"]},
        "known": result["known"],
        "unexpected": result["unexpected"],
    }


def one(export_dir: Path) -> dict:
    from importlib.metadata import version

    from splat2sim.scene.model import load_scene
    from splat2sim.scene.simready import validate_asset, validate_simready
    from splat2sim.scene.usd import validate_usd, write_usd

    before = validate_asset(export_dir / "usd" / "scene.usda")
    scene = load_scene(export_dir / "scene.json", validate=False)
    with tempfile.TemporaryDirectory() as tmp:
        usd = write_usd(scene, Path(tmp) / "usd")
        after = validate_simready(usd.parent)
        usd_core = validate_usd(usd)
    return {
        "export_dir": str(export_dir),
        "objects": [b.name for b in scene.bodies],
        "before": {"scene.usda (objects inline; no per-object asset existed)": summary(before)},
        "after": {
            **{f"props/{n}": summary(a) for n, a in after["assets"].items()},
            "scene.usda (composes the props)": summary(after["scene"]),
        },
        "after_usd_core_validators": {"ok": usd_core["ok"], "validators": usd_core["validators"], "errors": usd_core["errors"]},
        "props_pass_all_meetable": after["props_pass_all_meetable"],
        "versions": {p: version(p) for p in ("simready-validate", "simready-foundation-tier-core", "usd-core")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "usd_simready.json"))
    args = ap.parse_args()
    from splat2sim.scene.simready import KNOWN

    out = {
        "what": "simready-validate, profile Robotics-Prop 4.0.0, per USD asset: before (single scene.usda) and after (one prop per object)",
        "date": datetime.date.today().isoformat(),
        "captures": {name: one(path) for name, path in CAPTURES.items() if (path / "scene.json").is_file()},
        "cannot_be_met_by_a_scanned_rigid_object": KNOWN,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    for name, c in out["captures"].items():
        b = next(iter(c["before"].values()))
        print(f"{name}: before scene.usda {b['passed']}/{b['features']}")
        for asset, a in c["after"].items():
            print(f"  after {asset}: {a['passed']}/{a['features']} passed, unexpected failures: {a['unexpected'] or 'none'}")


if __name__ == "__main__":
    main()
