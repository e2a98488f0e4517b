"""Rasterizer benchmark: forward and forward+backward time of the torch reference vs the
native CPU backend, on the same scenes in one run.

Scenes: N Gaussians (random, in a 2 m cube 3 m in front of the camera, scales 1-5 cm,
SH degree 3) seen by one 320x240 camera. Each timing is the median of `--repeats` runs
after one warm-up; the native extension build is not timed. Also checks, per scene, that
the two backends agree (max |rgb difference|).

    .venv/bin/python bench/bench_render.py [--sizes 1000 10000 50000] [--out bench/results/render_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import cpu_model  # noqa: E402

from splat2sim.render import Cameras, Gaussians, render  # noqa: E402
from splat2sim.render.native import build_native  # noqa: E402


def make_scene(n: int, width: int, height: int, seed: int = 0) -> tuple[Gaussians, Cameras]:
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=gen) - 0.5) * 2.0 + torch.tensor([0.0, 0.0, 3.0])
    log_scales = torch.log(0.01 + 0.04 * torch.rand(n, 3, generator=gen))
    quats = torch.randn(n, 4, generator=gen)
    opacity_logits = torch.randn(n, generator=gen)
    sh = torch.randn(n, 16, 3, generator=gen) * 0.2
    f = 0.9 * width
    cams = Cameras(torch.eye(4)[None], torch.tensor([[f, f, width / 2, height / 2]]), width, height)
    return Gaussians(means, log_scales, quats, opacity_logits, sh), cams


def time_it(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_backend(g: Gaussians, cams: Cameras, backend: str, repeats: int) -> dict:
    def forward():
        with torch.no_grad():
            return render(g, cams, backend=backend)

    leaves = [t.detach().requires_grad_(True) for t in (g.means, g.log_scales, g.quats, g.opacity_logits, g.sh)]
    gg = Gaussians(*leaves)

    def forward_backward():
        for t in leaves:
            t.grad = None
        out = render(gg, cams, backend=backend)
        (out.rgb.sum() + out.depth.sum()).backward()
        return out

    return {"forward_s": time_it(forward, repeats), "forward_backward_s": time_it(forward_backward, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-max", type=int, default=50000, help="skip the torch reference above this N")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "render_cpu.json")
    args = ap.parse_args()

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    build_native()
    build_s = time.perf_counter() - t0

    results = []
    for n in args.sizes:
        g, cams = make_scene(n, args.width, args.height)
        row = {"gaussians": n, "width": args.width, "height": args.height, "sh_degree": 3}
        with torch.no_grad():
            nat = render(g, cams, backend="native")
            row["visible_gaussians"] = int((nat.radii > 0).sum())
        row["native"] = bench_backend(g, cams, "native", args.repeats)
        if n <= args.torch_max:
            row["torch"] = bench_backend(g, cams, "torch", args.repeats)
            with torch.no_grad():
                ref = render(g, cams, backend="torch")
            row["max_abs_rgb_diff"] = float((ref.rgb - nat.rgb).abs().max())
            row["speedup_forward"] = row["torch"]["forward_s"] / row["native"]["forward_s"]
            row["speedup_forward_backward"] = row["torch"]["forward_backward_s"] / row["native"]["forward_backward_s"]
        results.append(row)
        print(json.dumps(row), flush=True)

    report = {
        "schema_version": 1,
        "benchmark": "render_cpu",
        "description": "median seconds per call, one camera; forward under no_grad; forward_backward = render + backward of sum(rgb) + sum(depth)",
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "load_average_1m_before_after": [load_before[0], os.getloadavg()[0]],
        },
        "note": "timings are wall clock on a shared machine; a load average above the core "
        "count means other processes competed for the CPU during the run",
        "native_build_or_load_s": build_s,
        "repeats": args.repeats,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
