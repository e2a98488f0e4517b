"""Small synthetic scans for the batch tests: three tiny captures and a corrupt 'video'."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

# Every batch test stops at `poses` on tiny captures, so the suite stays fast on 2 cores.
UNTIL = "poses"
OVERRIDES = ["frames.target_count=8", "poses.marker_size=0.08"]
SET_ARGS = [arg for item in OVERRIDES for arg in ("--set", item)]


@pytest.fixture(scope="session")
def captures(tmp_path_factory) -> dict[str, Path]:
    """name -> video of a small synthetic table-top capture (distinct seeds)."""
    from splat2sim.synth import SynthConfig, generate_capture

    root = tmp_path_factory.mktemp("batch_captures")
    videos = {}
    for name, seed, kinds in (("site_a", 2, ["box", "can"]), ("site_b", 3, ["mug", "box"]), ("site_c", 4, ["can", "bowl"])):
        config = SynthConfig(seed=seed, width=256, height=192, duration_s=1.5, fps=10, object_kinds=kinds, texture_size=256, settle_seconds=0.5)
        videos[name] = generate_capture(root / name, config).video
    return videos


def scan_folder(root: Path, captures: dict[str, Path], *, corrupt: bool = True, names=("site_a", "site_b", "site_c")) -> Path:
    """A folder of scans: <name>.mp4 copies of the captures, and corrupt.mp4 (text)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(captures[name], root / f"{name}.mp4")
    if corrupt:
        (root / "corrupt.mp4").write_text("this is not a video\n" * 50)
    return root


def output_hashes(workspace: Path, stages=("frames", "poses")) -> dict[str, str]:
    """sha256 of every file the stages wrote, except their records (timings, run ids, hosts)."""
    out = {}
    for stage in stages:
        for path in sorted((workspace / stage).rglob("*")):
            if path.is_file() and path.name != "_stage.json":
                out[str(path.relative_to(workspace))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
