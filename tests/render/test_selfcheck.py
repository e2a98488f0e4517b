"""A backend proves itself before it is trusted (splat2sim.render.selfcheck): the native CPU
kernels pass on the fixed scene; a backend with a known fault fails with the output it got
wrong; auto falls back from a backend that failed, a named one refuses, and a stage records it."""

from __future__ import annotations

import pytest
import torch

from splat2sim.errors import DependencyError
from splat2sim.render import render, resolve_backend, selfcheck
from splat2sim.render.native import native_status

needs_native = pytest.mark.skipif(not native_status()[0], reason="native CPU extension unavailable")


def test_the_fixed_scene_is_not_trivial():
    gaussians, cameras = selfcheck.fixed_scene("cpu")
    out = render(gaussians, cameras, backend="torch")
    covered = (out.alpha > 0.1).float().mean().item()
    assert 0.3 < covered < 1.0  # partly covered: edges, overlaps and empty pixels all tested
    assert out.rgb.std().item() > 0.05


@needs_native
def test_native_cpu_passes_its_self_check():
    with selfcheck.forget():
        result = selfcheck.self_check("native", "cpu", render)
        assert result.ok, result.detail
        # float32 native vs float32 torch: measured 1e-7 (outputs) and 7e-7 (relative gradients)
        assert max(result.errors.values()) < 1e-4
        assert set(result.errors) >= {"rgb", "alpha", "depth", "grad_means", "grad_sh", "grad_quats"}
        assert selfcheck.cached("native", "cpu") is result


def _faulty(field: str, amount: float):
    """The native backend, with one output or gradient off by ``amount``."""

    def run(backend, gaussians, cameras):
        out = selfcheck.run_scene(render, backend, gaussians, cameras)
        out[field] = out[field] + amount * out[field].abs().max().clamp_min(1.0)
        return out

    return run


@needs_native
@pytest.mark.parametrize(("field", "amount"), [("rgb", 1e-3), ("grad_means", 0.02), ("grad_opacity_logits", float("nan"))])
def test_a_fault_fails_the_check_and_says_where(field, amount):
    result = selfcheck.self_check("native", "cpu", render, runner=_faulty(field, amount))
    assert not result.ok and field in result.detail, result.detail


def test_a_backend_that_crashes_fails_the_check():
    def crash(backend, gaussians, cameras):
        raise RuntimeError("illegal memory access")

    result = selfcheck.self_check("native", "cpu", render, runner=crash)
    assert not result.ok and "illegal memory access" in result.detail


@needs_native
def test_auto_falls_back_and_a_named_backend_refuses_after_a_failed_check():
    failed = selfcheck.self_check("native", "cpu", render, runner=_faulty("rgb", 1e-2))
    with selfcheck.forget():
        selfcheck._RESULTS[("native", "cpu")] = failed
        backend, reason = resolve_backend("auto", "cpu")
        assert backend == "torch" and "failed its self-check" in reason and "rgb" in reason
        with pytest.raises(DependencyError, match="does not reproduce the torch reference"):
            resolve_backend("native", "cpu")
    backend, _ = resolve_backend("auto", torch.device("cpu"))
    assert backend == "native"  # the real check passes again


@needs_native
def test_a_stage_records_the_fallback(tmp_path):
    from splat2sim.stages.base import StageContext
    from splat2sim.workspace import Workspace

    failed = selfcheck.self_check("native", "cpu", render, runner=_faulty("grad_sh", 0.05))
    ctx = StageContext(stage="mesh", workspace=Workspace(tmp_path), config=None, run_config=None, out_dir=tmp_path / "out")
    with selfcheck.forget():
        selfcheck._RESULTS[("native", "cpu")] = failed
        assert ctx.render_backend("auto", "cpu") == "torch"
    assert ctx.backend == "torch" and ctx.metrics["backend_self_check"][0]["ok"] is False
    (entry,) = ctx.fallbacks
    assert entry["what"] == "native render backend on cpu" and entry["used"] == "torch" and "grad_sh" in entry["why"]


@needs_native
def test_the_check_runs_inside_no_grad():
    """A stage's first render is often inside torch.no_grad(): the check still gets gradients."""
    with selfcheck.forget(), torch.no_grad():
        assert selfcheck.self_check("native", "cpu", render).ok
