"""What a benchmark records about the machine it ran on (standard library only, so the
peers' interpreter can import it too)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def checkout_env(repo: Path, ext_dir: Path) -> dict:
    """The environment that runs ``repo``'s splat2sim in a fresh interpreter, with a native
    build cache of its own (``ext_dir``), built here before any clock starts: torch rebuilds an
    extension whose include paths changed, so checkouts sharing one cache would time a
    compile (30-40 s on 2 cores) whenever before and after alternate."""
    env = {**os.environ, "PYTHONPATH": str(repo), "SPLAT2SIM_EXT_DIR": str(ext_dir)}
    subprocess.run([sys.executable, "-c", "from splat2sim.render import build_native; build_native()"], cwd=repo, env=env, check=True)
    return env
