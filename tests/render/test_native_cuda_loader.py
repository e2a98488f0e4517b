"""The native CUDA loader on machines without what it needs: every missing piece is a
DependencyError naming the cause and the fix (never None), ``auto`` falls back and says
why, and the architecture list is the documented one. Runs on the CPU."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from splat2sim.errors import DependencyError
from splat2sim.render import native, native_cuda, resolve_backend

ROOT = Path(__file__).resolve().parents[2]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a CUDA GPU")


@no_cuda
def test_native_on_cuda_without_cuda_is_a_dependency_error_naming_cause_and_fix(monkeypatch):
    monkeypatch.setattr(native_cuda, "_error", None)  # whatever an earlier test cached
    monkeypatch.setattr(native_cuda, "_module", None)
    with pytest.raises(DependencyError) as exc:
        resolve_backend("native", "cuda")
    err = exc.value
    if torch.version.cuda is None:
        assert "CPU-only" in err.message and "CUDA build of torch" in err.hint
    else:
        assert "sees none" in err.message and "nvidia-smi" in err.hint
    assert "CPU" in err.hint  # the alternative that works here
    # the loader itself raises too (and keeps raising the same error: never returns None)
    with pytest.raises(DependencyError) as again:
        native_cuda.load_native_cuda()
    assert again.value.message == err.message
    ok, why = native_cuda.native_cuda_status()
    assert not ok and err.message in why


@no_cuda
def test_auto_on_cuda_falls_back_to_torch_and_says_why(monkeypatch):
    monkeypatch.setattr(native_cuda, "_error", None)
    name, reason = resolve_backend("auto", "cuda")
    assert name == "torch"
    assert reason.startswith("auto: pure PyTorch reference, because native CUDA: ")
    assert "gsplat" in reason


@no_cuda
def test_cpu_still_resolves_to_the_cpu_kernels(native_ok):
    name, reason = resolve_backend("native", "cpu")
    assert name == "native" and "native CPU extension" in reason


def test_each_missing_piece_has_its_own_message(monkeypatch):
    """unavailable_reason() in turn: CPU-only torch, no GPU, no nvcc, no sources."""
    monkeypatch.setattr(torch.version, "cuda", None)
    why = native_cuda.unavailable_reason()
    assert isinstance(why, DependencyError) and "CPU-only" in why.message

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    why = native_cuda.unavailable_reason()
    assert "CUDA GPU" in why.message and "12.4" in why.message and "CUDA_VISIBLE_DEVICES" in why.hint

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(native_cuda, "_nvcc", lambda: None)
    why = native_cuda.unavailable_reason()
    assert "nvcc" in why.message and "CUDA toolkit 12.4" in why.hint and "CUDA_HOME" in why.hint

    monkeypatch.setattr(native_cuda, "_nvcc", lambda: "/usr/local/cuda/bin/nvcc")
    monkeypatch.setenv("SPLAT2SIM_CSRC", "/nowhere/csrc")
    why = native_cuda.unavailable_reason()
    assert "CUDA sources are missing" in why.message and "cuda/rasterize.cu" in why.message

    monkeypatch.delenv("SPLAT2SIM_CSRC")
    assert native_cuda.unavailable_reason() is None  # everything there: the build is tried


def test_sources_listed_by_the_loader_exist():
    src = ROOT / "csrc"
    assert all((src / s).is_file() for s in native_cuda.SOURCES)
    assert {p.name for p in (src / "cuda").glob("*.cu")} == {Path(s).name for s in native_cuda.SOURCES if s.endswith(".cu")}


def test_build_error_hints():
    assert "ninja" in native_cuda._hint_for("RuntimeError: Ninja is required to load C++ extensions")
    mismatch = "The detected CUDA version (13.0) mismatches the version that was used to compile PyTorch (12.8)."
    assert "CUDA_HOME" in native_cuda._hint_for(mismatch)
    assert "SPLAT2SIM_CUDA_ARCH_LIST" in native_cuda._hint_for("nvcc fatal   : Unsupported gpu architecture 'compute_89'")
    assert "python -m splat2sim.render.native_cuda" in native_cuda._hint_for("rasterize.cu(12): error: oops")


@no_cuda
def test_arch_list_default_override_and_build_folder(monkeypatch):
    monkeypatch.delenv("SPLAT2SIM_CUDA_ARCH_LIST", raising=False)
    assert native_cuda.arch_list() == "8.0;8.6;8.9;9.0+PTX"
    monkeypatch.setenv("SPLAT2SIM_CUDA_ARCH_LIST", "9.0")
    assert native_cuda.arch_list() == "9.0"
    assert native_cuda.cuda_build_dir().name == "cuda-9_0"
    assert native_cuda.cuda_build_dir("8.0;8.6;8.9;9.0+PTX").name == "cuda-8_0_8_6_8_9_9_0_PTX"


def test_arch_list_adds_the_gpus_present(monkeypatch):
    monkeypatch.delenv("SPLAT2SIM_CUDA_ARCH_LIST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: [(12, 0), (8, 6)][i])
    assert native_cuda.arch_list() == "8.0;8.6;8.9;9.0;12.0+PTX"


def test_compile_check_builds_for_the_loader_default_architectures():
    """csrc/check/check.sh compiles for the architectures the extension is built for."""
    text = (ROOT / "csrc" / "check" / "check.sh").read_text()
    archs = re.search(r'ARCHS="\$\{NVCC_ARCHS:-([0-9 ]+)\}"', text).group(1).split()
    assert archs == [a.replace(".", "") for a in native_cuda.DEFAULT_ARCHS]


def test_native_ops_reject_devices_without_kernels():
    t = torch.zeros(3, 3, device="meta")
    with pytest.raises(DependencyError) as exc:
        native.project(t, torch.zeros(3, 4, device="meta"), t, torch.zeros(1, 4, 4, device="meta"),
                       torch.zeros(1, 4, device="meta"), 8, 8, 0.01, 100.0)  # fmt: skip
    assert "CPU and CUDA kernels only" in exc.value.message
    with pytest.raises(DependencyError):
        resolve_backend("native", "meta")
