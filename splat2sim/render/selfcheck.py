"""A backend proves itself before it is trusted: the first time a native or gsplat backend is
picked on a device, it renders a small fixed scene and its gradients, and both are compared
with the pure-PyTorch reference. A backend that disagrees is not used by ``auto`` (which
says why in its reason, so the stage record and the report show the fallback) and refuses
to run when asked for by name.

    from splat2sim.render import render, selfcheck
    result = selfcheck.self_check("native", "cpu", render)   # cached per (backend, device)
    result.ok, result.errors, result.detail
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

#: Largest allowed difference from the reference, float32: outputs as in
#: tests/render/test_native_conformance.py (atol 1e-4); gradients relative to the largest
#: reference gradient of each parameter (the conformance tests' 2e-3, with room for the
#: order in which a GPU sums).
OUTPUT_TOL = 1e-4
DEPTH_TOL = 1e-3  # metres-ish units of the scene below (depth ~2): relative 5e-4
GRAD_TOL = 5e-3


@dataclass
class SelfCheck:
    backend: str
    device: str
    ok: bool
    errors: dict = field(default_factory=dict)  # name -> largest difference (relative for gradients)
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"backend": self.backend, "device": self.device, "ok": self.ok, "errors": self.errors,
                "detail": self.detail, "seconds": round(self.seconds, 3)}  # fmt: skip


_RESULTS: dict[tuple[str, str], SelfCheck] = {}
_RUNNING: set[tuple[str, str]] = set()


def checking(backend: str, device) -> bool:
    """True while the self-check of (backend, device) runs (its renders are not checked)."""
    return (backend, str(device)) in _RUNNING


def cached(backend: str, device) -> SelfCheck | None:
    return _RESULTS.get((backend, str(device)))


def fixed_scene(device, dtype=None):
    """(Gaussians, Cameras): 96 Gaussians of mixed size, colour (SH degree 1), orientation
    and opacity in front of 2 cameras at 40x32; overlapping, some partly off-screen."""
    import torch

    from splat2sim.render.types import Cameras, Gaussians

    dtype = dtype or torch.float32
    g = torch.Generator().manual_seed(20261206)
    n = 96
    means = torch.rand(n, 3, generator=g) * torch.tensor([1.6, 1.2, 1.0]) - torch.tensor([0.8, 0.6, -1.5])
    log_scales = torch.rand(n, 3, generator=g) * 1.5 - 3.5
    quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1)
    opacity = torch.randn(n, generator=g) * 1.5
    sh = torch.randn(n, 4, 3, generator=g) * 0.4
    poses = torch.eye(4).repeat(2, 1, 1)
    poses[1, 0, 3] = 0.15  # a second camera beside the first
    intr = torch.tensor([[36.0, 36.0, 20.0, 16.0], [40.0, 38.0, 19.5, 16.5]])
    to = {"device": device, "dtype": dtype}
    gaussians = Gaussians(means.to(**to), log_scales.to(**to), quats.to(**to), opacity.to(**to), sh.to(**to))
    return gaussians, Cameras(poses.to(**to), intr.to(**to), 40, 32)


def run_scene(render, backend: str, gaussians, cameras) -> dict:
    """Outputs of ``render`` (splat2sim.render.render) and the gradients of a fixed weighted
    sum of them, as CPU float64 tensors."""
    import torch

    with torch.enable_grad():  # the first render of a stage may be inside torch.no_grad()
        return _run_scene(render, backend, gaussians, cameras)


def _run_scene(render, backend: str, gaussians, cameras) -> dict:
    import torch

    from splat2sim.render.types import Gaussians

    params = [t.detach().clone().requires_grad_(True) for t in (gaussians.means, gaussians.log_scales, gaussians.quats,
                                                                  gaussians.opacity_logits, gaussians.sh)]  # fmt: skip
    out = render(Gaussians(*params), cameras, backend=backend)
    g = torch.Generator().manual_seed(7)
    weights = [torch.rand(t.shape, generator=g).to(t) for t in (out.rgb, out.alpha, out.depth)]
    loss = (out.rgb * weights[0]).sum() + (out.alpha * weights[1]).sum() + 0.1 * (out.depth * weights[2]).sum()
    loss.backward()
    result = {"rgb": out.rgb, "alpha": out.alpha, "depth": out.depth}
    for name, p in zip(("means", "log_scales", "quats", "opacity_logits", "sh"), params):
        result["grad_" + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    return {k: v.detach().to("cpu", torch.float64) for k, v in result.items()}


def compare(got: dict, ref: dict) -> tuple[dict, list[str]]:
    """(largest differences, what exceeds its tolerance) between two ``run_scene`` results."""
    errors, bad = {}, []
    for name, r in ref.items():
        diff = float((got[name] - r).abs().max()) if r.numel() else 0.0
        if name.startswith("grad_"):
            diff /= max(float(r.abs().max()), 1e-8)
            tol = GRAD_TOL
        else:
            tol = DEPTH_TOL if name == "depth" else OUTPUT_TOL
        errors[name] = diff
        if not diff <= tol:  # NaN fails too
            bad.append(f"{name} off by {diff:.3g} (tolerance {tol:g})")
    return errors, bad


def self_check(backend: str, device, render, *, runner=None) -> SelfCheck:
    """Check ``backend`` ("native" or "gsplat") on ``device`` against the torch reference,
    both drawn with ``render`` (splat2sim.render.render, passed in: render calls this); the
    result is cached for the process. ``runner(backend, gaussians, cameras)`` replaces the
    backend's run (tests give it a backend with a known fault)."""
    key = (backend, str(device))
    if runner is None and key in _RESULTS:
        return _RESULTS[key]
    t0 = time.perf_counter()
    run = runner or (lambda name, g, c: run_scene(render, name, g, c))
    _RUNNING.add(key)
    try:
        gaussians, cameras = fixed_scene(device)
        ref = run_scene(render, "torch", gaussians, cameras)
        try:
            got = run(backend, gaussians, cameras)
        except Exception as exc:  # noqa: BLE001 - a backend that crashes on the check is the check's answer
            result = SelfCheck(backend, str(device), False, {}, f"failed to render the check scene: {type(exc).__name__}: {exc}")
        else:
            errors, bad = compare(got, ref)
            detail = (
                "; ".join(bad)
                if bad
                else f"outputs and gradients match the torch reference (largest relative gradient difference {max(v for k, v in errors.items() if k.startswith('grad_')):.1e})"
            )
            result = SelfCheck(backend, str(device), not bad, {k: float(f"{v:.3g}") for k, v in errors.items()}, detail)
    finally:
        _RUNNING.discard(key)
    result.seconds = time.perf_counter() - t0
    if runner is None:
        _RESULTS[key] = result
    return result


@contextlib.contextmanager
def forget():
    """Tests: run with an empty cache, restored afterwards."""
    saved = dict(_RESULTS)
    _RESULTS.clear()
    try:
        yield
    finally:
        _RESULTS.clear()
        _RESULTS.update(saved)
