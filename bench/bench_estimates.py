"""How close the stage-time estimates (splat2sim.estimate, reference rates, no learning) come
to the times the stages really took, over workspaces already built by the other benchmarks.

    .venv/bin/python bench/bench_estimates.py   # -> bench/results/stage_estimates.json

The reference rates were taken from bench_e2e's "after" builds, so those rows only check the
arithmetic; the others are captures the rates never saw (other sizes, keyframe counts, code
versions, and the machine's load at the time, which the stage records do not keep).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from splat2sim import estimate as E  # noqa: E402
from splat2sim.api import workspace_config  # noqa: E402
from splat2sim.workspace import Workspace  # noqa: E402

SETS = {
    "bench_objects seeds 100-121 (320x240, 20 keyframes; built while other work loaded the machine, load 2-11)": "bench_objects/ws_*",
    "bench_hard seeds 200-207 (320x240, 20 keyframes, the harder captures)": "bench_hard/ws_*",
    "bench_e2e before (640x480, 40 keyframes, an older code version: CoACD on every object)": "bench_e2e/before__2c8ba83*/*",
    "bench_e2e after (the reference rates' own source)": "bench_e2e/after__59b650d*/*",
    "bench_e2e before e46c522 (session 6 start: the kernels before the tile cull)": "bench_e2e/before__e46c522*/*",
    "bench_e2e after a62413c (tile cull, separable SSIM: the splat rate's source since)": "bench_e2e/after__a62413c*/*",
}


def main() -> None:
    os.environ["SPLAT2SIM_STAGE_RATES"] = str(REPO / "bench" / "results" / "no_learned_rates.json")  # never written: reference rates only
    E.contention = lambda: 1.0  # the estimate an idle machine would give (the records keep no load average)
    out = {"reference_rates": E.REFERENCE_RATES, "sets": {}}
    for label, pattern in SETS.items():
        ratios: dict[str, list[float]] = {}
        for ws in sorted((REPO / "workspaces").glob(pattern)):
            config = workspace_config(Workspace.open(ws))
            if config is None:
                continue
            for stage in E.REFERENCE_RATES:
                record = ws / stage / "_stage.json"
                est = E.estimate(ws, stage, config) if record.is_file() else None
                actual = json.loads(record.read_text())["timings"]["seconds"] if record.is_file() else 0.0
                if est is not None and actual > 1.0:  # a skipped or cached stage says nothing
                    ratios.setdefault(stage, []).append(actual / est.seconds)
        out["sets"][label] = {
            s: {"runs": len(v), "actual_over_estimate_median": round(statistics.median(v), 2), "min": round(min(v), 2), "max": round(max(v), 2)}
            for s, v in ratios.items()
        }
    path = REPO / "bench" / "results" / "stage_estimates.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
