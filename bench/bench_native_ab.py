"""The native CPU rasterizer before and after a kernel change, side by side in one run.

"before" is the csrc/ of a git ref (exported and built in its own extension folder),
"after" is this checkout's. Each side runs in its own worker process (one extension per
process); the workers alternate round by round so that a change in the machine's load hits
both. Per scene: median ms of forward (no grad) and forward+backward (sum(w * rgb), fixed
w), and the largest difference between the two sides' outputs and gradients (a speed-only
change must leave them equal up to float summation order).

Scenes: the bundled example's trained splat seen from one of its keyframes (the workload
of splat training and of the simulator camera), and random scenes as in bench_render.py,
with the SfM-initialised look of early training (isotropic, opacity 0.1).

    .venv/bin/python bench/bench_native_ab.py --before HEAD~1 [--out bench/results/render_cpu_ab.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))


def _scenes(splat: Path | None):
    import torch
    from bench_render import make_scene

    from splat2sim.render import Cameras, Gaussians

    out = {}
    if splat is not None and splat.is_file():
        from splat2sim.io.gaussians_ply import read_gaussians_ply

        d = read_gaussians_ply(splat)
        g = Gaussians(*(torch.tensor(d[k]) for k in ("means", "log_scales", "quats", "opacity_logits", "sh")))
        cams = json.loads((splat.parents[1] / "poses" / "cameras.json").read_text())
        frame = next(f for f in cams["frames"] if f.get("world_from_camera") is not None)
        k = (cams.get("cameras") or [cams.get("intrinsics")])[frame.get("camera", 0)]
        s = 320 / max(k["width"], k["height"])
        cam = Cameras(torch.tensor([frame["world_from_camera"]], dtype=torch.float32),
                      torch.tensor([[k["fx"] * s, k["fy"] * s, k["cx"] * s, k["cy"] * s]], dtype=torch.float32),
                      round(k["width"] * s), round(k["height"] * s))  # fmt: skip
        out[f"trained splat ({g.num} Gaussians, {cam.width}x{cam.height})"] = (g, cam)
    g, cam = make_scene(30000, 320, 240)
    out["random 30k (bench_render), 320x240"] = (g, cam)
    g, cam = make_scene(15000, 320, 240, seed=1)
    iso = g.log_scales.mean(1, keepdim=True).expand(-1, 3).contiguous()
    init = Gaussians(g.means, iso, g.quats, torch.full_like(g.opacity_logits, -2.1972), g.sh[:, :4].contiguous())  # logit(0.1)
    out["early training: 15k isotropic, opacity 0.1, 320x240"] = (init, cam)
    return out


def worker(splat: Path | None, repeats: int, dump: Path) -> None:
    """One round in this process: time every scene, write outputs for the comparison."""
    import numpy as np
    import torch

    from splat2sim.render import Gaussians, render

    result, arrays = {}, {}
    for si, (name, (g0, cam)) in enumerate(_scenes(splat).items()):

        def fwd():
            with torch.no_grad():
                return render(g0, cam, backend="native")

        w = torch.randn(1, cam.height, cam.width, 3, generator=torch.Generator().manual_seed(0))

        def fwd_bwd():
            g = Gaussians(*(t.detach().clone().requires_grad_(True) for t in (g0.means, g0.log_scales, g0.quats, g0.opacity_logits, g0.sh)))
            out = render(g, cam, backend="native")
            (out.rgb * w).sum().backward()
            return out, g

        times = {}
        for key, fn in (("forward_ms", fwd), ("forward_backward_ms", fwd_bwd)):
            fn()
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                ts.append(1000 * (time.perf_counter() - t0))
            times[key] = statistics.median(ts)
        out, g = fwd_bwd()
        arrays[f"{si}_rgb"] = out.rgb.detach().numpy()
        for p in ("means", "log_scales", "quats", "opacity_logits", "sh"):
            arrays[f"{si}_{p}"] = getattr(g, p).grad.numpy()
        result[name] = times
    np.savez(dump.with_suffix(".npz"), **arrays)
    dump.write_text(json.dumps(result))


def _run_side(env: dict, splat: Path | None, repeats: int, dump: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--repeats", str(repeats), "--dump", str(dump)] + (["--splat", str(splat)] if splat else [])
    subprocess.run(cmd, env=env, check=True, cwd=REPO)
    return json.loads(dump.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="HEAD", help="git ref whose csrc/ is 'before'")
    ap.add_argument("--splat", type=Path, default=REPO / "workspaces" / "demo" / "splat" / "gaussians.ply")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "render_cpu_ab.json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.splat, args.repeats, args.dump)
        return
    import numpy as np
    from machine import cpu_model

    commit = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "csrc"], cwd=REPO, capture_output=True, text=True).stdout.strip())
    tmp = Path(tempfile.mkdtemp(prefix="native_ab_"))
    subprocess.run(f"git archive {args.before} csrc | tar -x -C {tmp}", shell=True, cwd=REPO, check=True)
    sides = {
        f"before ({commit})": {**os.environ, "SPLAT2SIM_CSRC": str(tmp / "csrc"), "SPLAT2SIM_EXT_DIR": str(tmp / "ext")},
        f"after ({head}{' + working tree' if dirty else ''})": {**os.environ, "SPLAT2SIM_EXT_DIR": str(tmp / "ext_after")},
    }
    build = "from splat2sim.render import build_native; build_native()"
    for env in sides.values():
        subprocess.run([sys.executable, "-c", build], env=env, check=True, cwd=REPO)
    load_before = os.getloadavg()
    rounds: dict[str, list[dict]] = {k: [] for k in sides}
    for r in range(args.rounds):
        for name, env in sides.items():
            rounds[name].append(_run_side(env, args.splat, args.repeats, tmp / f"{name.split()[0]}_{r}.json"))
    load_after = os.getloadavg()
    a, b = (np.load(tmp / f"{k.split()[0]}_0.npz") for k in sides)
    scenes = list(rounds[next(iter(sides))][0])
    result = {"scenes": {}}
    for si, scene in enumerate(scenes):
        row = {}
        for name in sides:
            row[name] = {key: round(statistics.median(rr[scene][key] for rr in rounds[name]), 2) for key in ("forward_ms", "forward_backward_ms")}
        names = list(sides)
        row["speedup"] = {key: round(row[names[0]][key] / row[names[1]][key], 2) for key in ("forward_ms", "forward_backward_ms")}
        diffs = {
            k.split("_", 1)[1]: float(np.max(np.abs(a[k] - b[k])) / max(1.0, float(np.max(np.abs(a[k]))))) for k in a.files if k.startswith(f"{si}_")
        }
        row["max_difference_relative"] = diffs
        result["scenes"][scene] = row
    doc = {
        "schema_version": 1,
        "benchmark": "native CPU rasterizer, before vs after a kernel change (bench/bench_native_ab.py)",
        "description": __doc__.split("\n\n")[0].replace("\n", " "),
        "machine": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },  # fmt: skip
        "rounds": args.rounds,
        "repeats_per_round": args.repeats,
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
