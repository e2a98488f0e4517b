"""How long a stage will take, said before it starts: its work, counted from its config and
what the stages before it wrote, times a rate in seconds per unit of that work.

The rate is this machine's own, learned from its earlier runs of the stage (kept in
``$SPLAT2SIM_STAGE_RATES``, default ``~/.cache/splat2sim/stage_rates.json``), or before the first
run a reference measured on a 2-core CPU: the median rate over the bundled example and
synthetic captures 300-302 built with the cpu preset (bench/bench_e2e.py, 40 keyframes at
640x480; the workspaces' own stage records). Collision varies most: CoACD runs only on the
objects that need it (stages/collision/decide.py), which is not known before the stage, so
its estimate is an upper bound (every object decomposed) and is not learned from.

    est = estimate(ws, "splat", config)      # None for the short stages
    est.message()   # "about 2 min (1000 iterations at 320 px, up to 30k Gaussians; reference 2-core CPU)"

Rates are kept per unit of work on an idle machine: a run's time is divided by how busy the
machine was (``contention``: the 1-minute load average over the cores, at least 1; CPU time
is shared), and an estimate is multiplied by how busy it is now. One run of a stage beside
another heavy job would otherwise double every later estimate.
    learn(est, seconds)                      # after the stage: this machine's rate
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

# seconds per unit of work on the reference 2-core CPU (see the module docstring)
REFERENCE_RATES = {
    "poses": 2.6,  # per keyframe x megapixel (SfM: features and matches grow with the pixels)
    "splat": 0.43,  # per iteration x training megapixel x 10k Gaussians (the cap); 0.63 before the tile cull and the separable SSIM (bench_e2e a62413c: 0.68 of it)
    "segment": 3.0,  # per 10k Gaussians (16 views rendered, depth votes): 8.8-9.1 s for 30k (segment_cpu.json 311715a; 9.2 per 10k before)
    "mesh": 6.3,  # per object
    "collision": 19.0,  # per object, if each needs CoACD: an upper bound (bench_collision_decide, 13 objects on their proxies: 249 s; 36 before the proxy)
}
ANNOUNCE_SECONDS = 10.0  # shorter stages are not worth a line
LEARN_WEIGHT = 0.5  # each new run's share of the learned rate (the machine's load varies)


@dataclass
class Work:
    stage: str
    units: float
    what: str  # the work in words, e.g. "40 keyframes"
    upper_bound: bool = False  # the work may be far less (collision: near-convex objects take a second); not learned from


@dataclass
class Estimate:
    work: Work
    seconds: float
    source: str  # where the rate comes from

    def message(self) -> str:
        bound = "up to about" if self.work.upper_bound else "about"
        return f"{bound} {format_duration(self.seconds)} ({self.work.what}; rate from {self.source})"


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, 5 * round(seconds / 5)):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def contention() -> float:
    """How many runnable processes share each core (1-minute load average / cores, >= 1)."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:  # no load average on this platform
        return 1.0


def rates_path() -> Path:
    return Path(os.environ.get("SPLAT2SIM_STAGE_RATES", Path.home() / ".cache" / "splat2sim" / "stage_rates.json"))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _upstream(ws_root: Path, artifact) -> dict | None:
    """An upstream stage's JSON artifact (splat2sim.artifacts) as a dict, or None when it is
    missing or unreadable: then there is no estimate, and the stage itself says what is wrong."""
    from splat2sim.artifacts.base import ArtifactError

    try:
        return artifact.read_dict(ws_root / artifact.stage)
    except ArtifactError:
        return None


def stage_work(ws_root: Path, stage: str, config) -> Work | None:
    """The work of ``stage`` in the workspace at ``ws_root`` with ``config`` (a Config), or
    None when the stage is short or what it needs to count is not there yet."""
    from splat2sim.artifacts import frames as frames_artifacts
    from splat2sim.artifacts import segment as segment_artifacts
    from splat2sim.artifacts import splat as splat_artifacts

    frames = _upstream(ws_root, frames_artifacts.FRAMES) if stage in ("poses", "splat") else None
    if stage == "poses" and frames:
        n, size = len(frames.get("frames", [])), frames.get("image_size") or {"width": 640, "height": 480}
        return Work(stage, n * size["width"] * size["height"] / 1e6, f"{n} keyframes at {size['width']}x{size['height']}")
    if stage == "splat" and frames:
        cfg = config.section("splat")
        size = frames.get("image_size") or {"width": 4, "height": 3}
        aspect = min(size["width"], size["height"]) / max(size["width"], size["height"], 1)
        megapixels = cfg.train_max_side**2 * aspect / 1e6
        units = cfg.iterations * megapixels * cfg.max_gaussians / 1e4
        return Work(stage, units, f"{cfg.iterations} iterations at {cfg.train_max_side} px, up to {cfg.max_gaussians / 1000:.0f}k Gaussians")
    if stage == "segment":
        metrics = _upstream(ws_root, splat_artifacts.METRICS)
        if metrics and metrics.get("gaussians"):
            return Work(stage, metrics["gaussians"] / 1e4, f"{metrics['gaussians'] / 1000:.0f}k Gaussians")
    if stage in ("mesh", "collision"):
        objects = _upstream(ws_root, segment_artifacts.OBJECTS)
        if objects is not None:
            n = len(objects.get("objects", []))
            if stage == "collision":
                return Work(
                    stage, n, f"{n} object{'s' * (n != 1)} if each needs CoACD; a near-convex one gets its hull in a second", upper_bound=True
                )
            return Work(stage, n, f"{n} object{'s' * (n != 1)}")
    return None


def estimate(ws_root: Path, stage: str, config) -> Estimate | None:
    """The time ``stage`` will take, or None when it has no work model (a short stage)."""
    work = stage_work(Path(ws_root), stage, config)
    if work is None:
        return None
    learned = (_read_json(rates_path()) or {}).get(stage)
    busy = contention()
    load = f", x{busy:.1f} for the machine's load" if busy > 1.2 else ""
    if learned and learned.get("rate", 0) > 0:
        runs = int(learned.get("runs", 1))
        return Estimate(work, work.units * float(learned["rate"]) * busy, f"this machine's {runs} earlier run{'s' * (runs != 1)}{load}")
    return Estimate(work, work.units * REFERENCE_RATES[stage] * busy, f"reference 2-core CPU{load}")


def learn(est: Estimate | None, seconds: float) -> None:
    """Fold a finished run into this machine's rate for its stage (None: no work model). The
    file is a cache: a machine that cannot write it keeps the reference rates (a read-only
    home is no reason to fail a build)."""
    if est is None or est.work.units <= 0 or est.work.upper_bound:
        return
    path = rates_path()
    rates = _read_json(path) or {}
    old = rates.get(est.work.stage)
    rate = seconds / contention() / est.work.units
    if old and old.get("rate", 0) > 0:
        rate = LEARN_WEIGHT * rate + (1 - LEARN_WEIGHT) * float(old["rate"])
    rates[est.work.stage] = {"rate": rate, "runs": int(old.get("runs", 0) if old else 0) + 1}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rates, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass


def announce(ws_root: Path, stage: str, config, reporter) -> Estimate | None:
    """``estimate``, and a note to ``reporter`` (a splat2sim.progress.Reporter) when it is long."""
    est = estimate(ws_root, stage, config)
    if est is not None and est.seconds >= ANNOUNCE_SECONDS:
        reporter.note(stage, "estimate: " + est.message())
    return est
