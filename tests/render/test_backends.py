"""Backend selection and its errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from splat2sim.errors import ConfigError, DependencyError
from splat2sim.render import render, resolve_backend
from splat2sim.render.extension_build import summarize_build_error as _summarize_build_error
from splat2sim.render.native import _hint_for

from .scenes import random_scene


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(ConfigError) as exc:
        resolve_backend("cuda-magic")
    assert "cuda-magic" in str(exc.value) and "torch" in exc.value.hint
    g, cams = random_scene(0, n=30)
    with pytest.raises(ConfigError):
        render(g, cams, backend="vulkan")


def test_gsplat_on_cpu_is_a_dependency_error():
    with pytest.raises(DependencyError) as exc:
        resolve_backend("gsplat", "cpu")
    assert "gsplat has no CPU rasterizer" in exc.value.message
    assert "native" in str(exc.value) and "torch" in str(exc.value)
    g, cams = random_scene(0, n=30)
    with pytest.raises(DependencyError):
        render(g, cams, backend="gsplat")


def test_torch_backend_always_resolves():
    assert resolve_backend("torch", "cpu")[0] == "torch"


def test_auto_on_cpu_picks_native_and_says_why(native_ok):
    name, reason = resolve_backend("auto", "cpu")
    assert name == "native" and reason.startswith("auto:")
    g, cams = random_scene(0, n=30, dtype=torch.float32)
    out = render(g, cams)
    assert out.backend == "native" and "native" in out.backend_reason


def test_missing_native_sources_raise_dependency_error_naming_the_fix(tmp_path):
    # Fresh interpreter: the loader caches its result per process.
    code = (
        "from splat2sim.errors import DependencyError\n"
        "from splat2sim.render import resolve_backend\n"
        "try:\n    resolve_backend('native', 'cpu')\nexcept DependencyError as e:\n"
        "    print('ERR', e.message); print('HINT', e.hint)\n"
        "print('AUTO', resolve_backend('auto', 'cpu'))\n"
    )
    env = dict(os.environ, SPLAT2SIM_CSRC=str(tmp_path / "nowhere"), SPLAT2SIM_EXT_DIR=str(tmp_path / "ext"))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ERR The native backend's C++ sources are missing" in res.stdout
    assert "HINT" in res.stdout and "backend='torch'" in res.stdout
    assert "AUTO ('torch', " in res.stdout and "auto: pure PyTorch reference, because" in res.stdout


def test_build_error_summary_and_hints():
    log = (
        "[1/5] c++ -c ext.cpp\nFAILED: ext.o\n"
        "csrc/cpu/sh.cpp:12:3: error: 'foo' was not declared in this scope\n"
        "ninja: build stopped: subcommand failed.\n"
    )
    summary = _summarize_build_error(log)
    assert "error: 'foo' was not declared" in summary
    assert "ninja" in _hint_for("RuntimeError: Ninja is required to load C++ extensions")
    assert "make native" in _hint_for(log)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_on_cuda_prefers_native_cuda_then_gsplat():  # pragma: no cover - GPU machines only
    g, cams = random_scene(0, n=100, dtype=torch.float32)
    g = type(g)(*(t.cuda() for t in (g.means, g.log_scales, g.quats, g.opacity_logits, g.sh)))
    name, reason = resolve_backend("auto", "cuda")
    out = render(g, cams, backend=name)
    ref = render(g, cams, backend="torch")
    assert out.rgb.shape == ref.rgb.shape
    if name == "native":
        assert "native CUDA extension" in reason
    elif name == "gsplat":  # gsplat bounds radii with opacity too: compare loosely
        assert "native CUDA" in reason  # says why the native kernels were not used
        assert (out.rgb - ref.rgb).abs().mean().item() < 1e-2


@pytest.mark.parametrize("backend", ["torch", "native"])
def test_render_features_composite_with_the_colours(backend, request):
    """A feature of ones composites to the pixel's opacity; two one-hot groups split it."""
    from splat2sim.render import render_features

    if backend == "native":
        request.getfixturevalue("native_ok")
    g, cams = random_scene(3, n=200, sh_degree=1)
    group = torch.arange(g.num) % 2
    feats = torch.stack([torch.ones(g.num), (group == 0).double(), (group == 1).double()], 1).to(g.dtype)  # [N,3]
    out, comp = render_features(g, cams, feats, backend=backend)
    assert comp.shape == (cams.num, cams.height, cams.width, 3)
    plain = render(g, cams, backend=backend)
    assert torch.allclose(out.rgb, plain.rgb, atol=1e-6)  # the colours are untouched
    assert torch.allclose(comp[..., 0:1], out.alpha, atol=1e-6)  # float64 rounding only
    assert torch.allclose(comp[..., 1] + comp[..., 2], comp[..., 0], atol=1e-6)
