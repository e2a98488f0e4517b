"""Benchmark of the mesh stage against ground truth: a synthetic capture (oracle splat on
the true surfaces, ground-truth segmentation), default mesh settings; Chamfer distance and
F-score at 5 mm per object, timings. Writes bench/results/mesh.json.

    python bench/bench_mesh.py [--seed 3] [--kinds mug box bowl can]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    import pytest

    from splat2sim import api
    from splat2sim.synth import generate_capture
    from splat2sim.synth.config import SynthConfig
    from tests.stages.mesh_fixtures import mesh_quality, oracle_with_gt, register_gt_segment

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=["mug", "box", "bowl", "can"])
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "mesh.json"))
    args = parser.parse_args()
    mp = pytest.MonkeyPatch()
    register_gt_segment(mp)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_capture(root / "cap", SynthConfig(seed=args.seed, width=320, height=240, duration_s=2, object_kinds=args.kinds))
        ws = oracle_with_gt(root / "cap", root / "ws")
        t0 = time.perf_counter()
        api.build(None, ws, until="mesh")
        seconds = time.perf_counter() - t0
        rows = mesh_quality(ws, root / "cap")
        record = json.loads((ws / "mesh" / "mesh.json").read_text())
        stage = json.loads((ws / "mesh" / "_stage.json").read_text())
    for row, obj in zip(rows, record["objects"]):
        row["timings"] = obj["timings"]
        row["voxel"] = obj["voxel"]
    result = {
        "schema_version": 1, "benchmark": "mesh", "seed": args.seed, "kinds": args.kinds,
        "cpu_count": os.cpu_count(), "stage_seconds": round(seconds, 2),
        "mean_chamfer_over_diagonal": sum(r["chamfer_over_diagonal"] for r in rows) / len(rows),
        "mean_fscore_5mm": sum(r["fscore_5mm"] for r in rows) / len(rows),
        "all_watertight": all(r["watertight"] for r in rows),
        "objects": rows, "warnings": stage["warnings"],
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "objects"}, indent=2))
    mp.undo()


if __name__ == "__main__":
    main()
