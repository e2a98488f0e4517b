"""GPU rasterizer benchmark: the native CUDA kernels (splat2sim.render, backend "native"
on CUDA tensors) against gsplat, on one GPU, in one run.

1. Speed and memory. For each size N (default 100k, 1M, 3M) a random scene is rendered by
   one 1920x1080 camera: N Gaussians with SH degree 3 in a box 2-6 m in front of the
   camera, opacities sigmoid(randn), scales log-uniform in [0.5, 3] cm x (100k / N)^(1/3)
   (denser scenes have smaller Gaussians, as trained ones do). For each backend: the
   median wall time of `--repeats` forward passes (no grad) and forward+backward passes
   (after warm-up, synchronized), and the peak GPU memory of one of each
   (torch.cuda.max_memory_allocated, total and above the scene's own tensors).
     native  splat2sim.render.render(..., backend="native"): projection, SH, binning,
             compositing of rgb + expected depth + alpha + median depth; loss = rgb + depth
     gsplat  gsplat.rasterization(..., render_mode="RGB+D", rasterize_mode="classic",
             eps2d=0.3, tile_size=16, packed=--gsplat-packed); loss = rgb + depth
   Also the mean |rgb difference| between the two renders (a sanity check that both draw
   the same scene; gsplat also bounds radii by opacity, so it is small, not zero).
2. Training at equal iterations. A ground-truth splat (`--train-gaussians`, SH degree 1)
   is rendered by the torch reference (the oracle, neither backend under test) from
   `--train-views` cameras on an arc at `--train-size`; every other view is held out.
   Both backends start from the same perturbed copy (means jittered, scales x1.6, grey,
   opacity 0.5) and run `--train-iters` Adam steps of L1 loss over the training views in
   the same order, with the same learning rates. Reported: PSNR on training and held-out
   views, rendered by the backend itself and by the torch reference, and seconds per step.

Writes bench/results/render_cuda.json (see --out). Without a CUDA device it prints why
and exits with status 2, writing nothing; if the native CUDA extension cannot be built it
exits with status 1 and the DependencyError (cause and fix).

    .venv/bin/python bench/bench_cuda.py [--sizes 100000 1000000 3000000] [--repeats 10]
        [--train-iters 3000] [--skip-training] [--out bench/results/render_cuda.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from splat2sim.errors import DependencyError  # noqa: E402
from splat2sim.render import Cameras, Gaussians, render  # noqa: E402

MB = 1024.0 * 1024.0


def require_cuda() -> torch.device:
    if torch.version.cuda is None or not torch.cuda.is_available():
        why = (
            f"torch {torch.__version__} is a CPU-only build"
            if torch.version.cuda is None
            else f"torch (CUDA {torch.version.cuda}) sees no CUDA device"
        )
        print(
            f"bench_cuda.py: no CUDA device: {why}. This benchmark compares the native CUDA kernels with "
            "gsplat and needs an NVIDIA GPU, a CUDA build of torch, nvcc and gsplat; nothing was measured "
            "or written.",
            file=sys.stderr,
        )
        sys.exit(2)
    return torch.device("cuda")


# ---------------------------------------------------------------------------------------
# scenes


def random_scene(n: int, width: int, height: int, seed: int, device: torch.device) -> tuple[Gaussians, Cameras]:
    gen = torch.Generator(device=device).manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device=device)

    f = 0.9 * width
    z = 2.0 + 4.0 * rand(n)
    half_w, half_h = 0.5 * width / f, 0.5 * height / f  # tan of the half field of view
    x = (2 * rand(n) - 1) * half_w * z
    y = (2 * rand(n) - 1) * half_h * z
    means = torch.stack([x, y, z], dim=-1)
    shrink = (1e5 / n) ** (1.0 / 3.0)
    log_scales = math.log(0.005) + math.log(6.0) * rand(n, 3) + math.log(shrink)
    quats = torch.randn(n, 4, generator=gen, device=device)
    opacity_logits = torch.randn(n, generator=gen, device=device)
    sh = 0.15 * torch.randn(n, 16, 3, generator=gen, device=device)
    sh[:, 0] = torch.randn(n, 3, generator=gen, device=device)
    cams = Cameras(torch.eye(4, device=device)[None], torch.tensor([[f, f, width / 2, height / 2]], device=device),
                   width, height)  # fmt: skip
    return Gaussians(means, log_scales, quats, opacity_logits, sh), cams


def arc_cameras(count: int, width: int, height: int, device: torch.device, radius: float = 3.0) -> Cameras:
    poses = []
    for i in range(count):
        a = -0.9 + 1.8 * i / max(1, count - 1)  # radians around the scene, +-52 degrees
        eye = torch.tensor([radius * math.sin(a), -radius * math.cos(a), 0.8])
        fwd = -eye / eye.norm()
        right = torch.linalg.cross(fwd, torch.tensor([0.0, 0.0, 1.0]))
        right = right / right.norm()
        down = torch.linalg.cross(fwd, right)
        m = torch.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, fwd, eye
        poses.append(m)
    f = 0.8 * width
    intr = torch.tensor([[f, f, width / 2, height / 2]] * count)
    return Cameras(torch.stack(poses).to(device), intr.to(device), width, height)


def one_camera(cams: Cameras, i: int) -> Cameras:
    return Cameras(cams.world_from_camera[i : i + 1], cams.intrinsics[i : i + 1], cams.width, cams.height)


# ---------------------------------------------------------------------------------------
# the two renderers, same inputs


def render_native(g: Gaussians, cams: Cameras, sh_degree: int | None = None):
    out = render(g, cams, backend="native", sh_degree=sh_degree)
    return out.rgb, out.depth, out


def render_gsplat(g: Gaussians, cams: Cameras, packed: bool, sh_degree: int, mode: str = "RGB+D"):
    from gsplat import rasterization

    nb = (sh_degree + 1) ** 2
    colors, alphas, meta = rasterization(
        means=g.means, quats=g.quats, scales=torch.exp(g.log_scales), opacities=torch.sigmoid(g.opacity_logits),
        colors=g.sh[:, :nb], viewmats=cams.camera_from_world(), Ks=cams.K(), width=cams.width, height=cams.height,
        near_plane=0.01, far_plane=1e4, sh_degree=sh_degree, packed=packed, render_mode=mode,
        rasterize_mode="classic", eps2d=0.3, tile_size=16,
    )  # fmt: skip
    rgb = colors[..., :3]
    depth = colors[..., 3:4] if mode == "RGB+D" else None
    return rgb, depth, meta


# ---------------------------------------------------------------------------------------
# measuring


def wall_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_memory(fn) -> dict:
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    return {"peak_mb": round(peak / MB, 1), "peak_above_inputs_mb": round((peak - base) / MB, 1)}


def bench_backend(name: str, g: Gaussians, cams: Cameras, repeats: int, packed: bool) -> dict:
    leaves = [t.detach().clone().requires_grad_(True) for t in (g.means, g.log_scales, g.quats, g.opacity_logits, g.sh)]
    gg = Gaussians(*leaves)

    def run(gs):
        if name == "native":
            return render_native(gs, cams)[:2]
        return render_gsplat(gs, cams, packed, sh_degree=3)[:2]

    def forward():
        with torch.no_grad():
            run(g)

    def forward_backward():
        for t in leaves:
            t.grad = None
        rgb, depth = run(gg)
        (rgb.sum() + depth.sum()).backward()

    try:
        row = {"forward_s": wall_time(forward, repeats), "forward_backward_s": wall_time(forward_backward, repeats)}
        row["memory_forward"] = peak_memory(forward)
        row["memory_forward_backward"] = peak_memory(forward_backward)
    except (torch.cuda.OutOfMemoryError, RuntimeError, DependencyError) as exc:
        row = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    for t in leaves:
        t.grad = None
    torch.cuda.empty_cache()
    return row


def speed_and_memory(args, device) -> list[dict]:
    rows = []
    for n in args.sizes:
        g, cams = random_scene(n, args.width, args.height, seed=n, device=device)
        row: dict = {"gaussians": n}
        with torch.no_grad():
            out = render(g, cams, backend="native")
            row["visible"] = int((out.radii > 0).sum())
            native_rgb = out.rgb
            del out
        print(f"N={n:>9,}  visible {row['visible']:,}", flush=True)
        row["native"] = bench_backend("native", g, cams, args.repeats, args.gsplat_packed)
        print(f"  native  {row['native']}", flush=True)
        if args.gsplat_error is None:
            row["gsplat"] = bench_backend("gsplat", g, cams, args.repeats, args.gsplat_packed)
            print(f"  gsplat  {row['gsplat']}", flush=True)
            try:
                with torch.no_grad():
                    gs_rgb = render_gsplat(g, cams, args.gsplat_packed, sh_degree=3)[0]
                row["mean_abs_rgb_difference"] = float((gs_rgb - native_rgb).abs().mean())
                del gs_rgb
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                row["mean_abs_rgb_difference"] = None
                row["comparison_error"] = str(exc).splitlines()[0][:300]
            nat, gs = row["native"], row["gsplat"]
            if "error" not in nat and "error" not in gs:
                row["speedup_forward"] = round(gs["forward_s"] / nat["forward_s"], 3)  # > 1: native faster
                row["speedup_forward_backward"] = round(gs["forward_backward_s"] / nat["forward_backward_s"], 3)
                row["peak_memory_ratio_forward_backward"] = round(
                    nat["memory_forward_backward"]["peak_above_inputs_mb"]
                    / max(gs["memory_forward_backward"]["peak_above_inputs_mb"], 1e-6), 3
                )  # fmt: skip
        else:
            row["gsplat"] = {"error": args.gsplat_error}
        rows.append(row)
        del g, cams, native_rgb
        torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------
# training at equal iterations


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b) ** 2).mean())
    return -10.0 * math.log10(max(mse, 1e-12))


def training(args, device) -> dict:
    n, (w, h) = args.train_gaussians, args.train_size
    gen = torch.Generator(device=device).manual_seed(1)
    # ground truth: a blob of Gaussians around the origin with colour and structure
    means = 0.6 * torch.randn(n, 3, generator=gen, device=device)
    log_scales = math.log(0.02) + 0.4 * torch.randn(n, 3, generator=gen, device=device)
    quats = torch.randn(n, 4, generator=gen, device=device)
    opacity_logits = 1.0 + torch.randn(n, generator=gen, device=device)
    sh = 0.2 * torch.randn(n, 4, 3, generator=gen, device=device)
    sh[:, 0] = 1.5 * torch.randn(n, 3, generator=gen, device=device)
    truth = Gaussians(means, log_scales, quats, opacity_logits, sh)
    cams = arc_cameras(args.train_views, w, h, device)
    t0 = time.perf_counter()
    with torch.no_grad():
        targets = torch.cat([render(truth, one_camera(cams, i), backend="torch").rgb for i in range(cams.num)])
    target_seconds = time.perf_counter() - t0
    train_ids = [i for i in range(cams.num) if i % 2 == 0]
    test_ids = [i for i in range(cams.num) if i % 2 == 1]

    start = Gaussians(
        means + 0.02 * torch.randn(n, 3, generator=gen, device=device),
        log_scales + math.log(1.6),
        quats + 0.1 * torch.randn(n, 4, generator=gen, device=device),
        torch.zeros(n, device=device),
        torch.zeros_like(sh),
    )
    order = torch.randint(0, len(train_ids), (args.train_iters,), generator=torch.Generator().manual_seed(2)).tolist()
    lrs = {"means": 5e-4, "log_scales": 5e-3, "quats": 1e-3, "opacity_logits": 2.5e-2, "sh": 2.5e-3}

    def run(backend: str) -> dict:
        leaves = {k: getattr(start, k).detach().clone().requires_grad_(True) for k in lrs}
        opt = torch.optim.Adam([{"params": [leaves[k]], "lr": lr} for k, lr in lrs.items()], eps=1e-15)

        def model() -> Gaussians:
            return Gaussians(leaves["means"], leaves["log_scales"], leaves["quats"], leaves["opacity_logits"], leaves["sh"])

        def draw(g: Gaussians, cam: Cameras, which: str) -> torch.Tensor:
            if which == "native":
                return render_native(g, cam, sh_degree=1)[0]
            if which == "gsplat":
                return render_gsplat(g, cam, args.gsplat_packed, sh_degree=1, mode="RGB")[0]
            return render(g, cam, backend="torch").rgb

        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for step in range(args.train_iters):
            i = train_ids[order[step]]
            rgb = draw(model(), one_camera(cams, i), backend)
            loss = (rgb - targets[i : i + 1]).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        result = {"seconds_per_step": round(seconds / max(1, args.train_iters), 5), "final_l1": float(loss)}
        with torch.no_grad():
            g = Gaussians(*(t.detach() for t in (leaves[k] for k in ("means", "log_scales", "quats", "opacity_logits", "sh"))))
            for which, label in ((backend, "own_renderer"), ("torch", "torch_reference")):
                for ids, split in ((train_ids, "train"), (test_ids, "held_out")):
                    vals = [psnr(draw(g, one_camera(cams, i), which), targets[i : i + 1]) for i in ids]
                    result[f"psnr_{split}_{label}"] = round(statistics.mean(vals), 3)
        return result

    out = {
        "gaussians": n,
        "image_size": [w, h],
        "views": {"train": len(train_ids), "held_out": len(test_ids)},
        "iterations": args.train_iters,
        "sh_degree": 1,
        "loss": "L1",
        "learning_rates": lrs,
        "targets": "rendered by the torch reference from a random ground-truth splat",
        "target_render_seconds": round(target_seconds, 2),
        "native": run("native"),
    }
    print(f"  training native {out['native']}", flush=True)
    if args.gsplat_error is None:
        out["gsplat"] = run("gsplat")
        print(f"  training gsplat {out['gsplat']}", flush=True)
    else:
        out["gsplat"] = {"error": args.gsplat_error}
    return out


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--gsplat-packed", action=argparse.BooleanOptionalAction, default=True,
                        help="gsplat's packed mode (its default; less memory)")  # fmt: skip
    parser.add_argument("--train-iters", type=int, default=3000)
    parser.add_argument("--train-gaussians", type=int, default=20_000)
    parser.add_argument("--train-size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--train-views", type=int, default=10)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "render_cuda.json")
    args = parser.parse_args()

    device = require_cuda()
    from splat2sim.render.native_cuda import arch_list, build_native_cuda, native_cuda_status

    t0 = time.perf_counter()
    try:
        build_dir = build_native_cuda()
    except DependencyError as exc:
        print(f"bench_cuda.py: the native CUDA kernels are unavailable: {exc}", file=sys.stderr)
        sys.exit(1)
    build_seconds = time.perf_counter() - t0
    try:
        import gsplat

        args.gsplat_error = None
        gsplat_version = gsplat.__version__
    except Exception as exc:  # noqa: BLE001 - recorded, the native numbers still come
        args.gsplat_error = f"gsplat cannot be imported: {type(exc).__name__}: {exc}"
        gsplat_version = None
        print(f"warning: {args.gsplat_error}", file=sys.stderr)

    props = torch.cuda.get_device_properties(device)
    result = {
        "schema_version": 1,
        "benchmark": "native CUDA kernels vs gsplat: forward and forward+backward time, peak memory, training PSNR",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": {
            "gpu": props.name,
            "compute_capability": f"{props.major}.{props.minor}",
            "gpu_memory_gb": round(props.total_memory / 1024**3, 1),
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda,
            "gsplat": gsplat_version,
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "native_cuda": {
            "arch_list": arch_list(),
            "build_dir": str(build_dir),
            "build_or_load_seconds": round(build_seconds, 1),
            "status": native_cuda_status()[1],
        },
        "image_size": [args.width, args.height],
        "sh_degree": 3,
        "repeats": args.repeats,
        "timing": "median wall seconds, synchronized, after 2 warm-up runs",
        "gsplat_options": {
            "packed": args.gsplat_packed,
            "rasterize_mode": "classic",
            "eps2d": 0.3,
            "tile_size": 16,
            "render_mode": "RGB+D",
        },  # fmt: skip
        "scenes": speed_and_memory(args, device),
    }
    if not args.skip_training:
        result["training"] = training(args, device)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
