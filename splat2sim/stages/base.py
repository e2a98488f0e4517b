"""What a stage is: a spec (name, version, upstream, config) and a run function.

A stage's ``run(ctx)`` reads upstream artifacts through ``ctx.read(artifact)`` (the
declarations in ``splat2sim.artifacts``) or ``ctx.upstream_dir(name)``, both of which refuse
a stage that is not in the spec's ``upstream`` list, and writes only into ``ctx.out_dir`` (a
staging folder renamed into place afterwards) and its declared caches (``ctx.cache_dir``). It reports
through ``ctx``: ``ctx.metrics``, ``ctx.warn()``, ``ctx.fallback()``, ``ctx.backend``,
``ctx.summary`` and ``ctx.progress()``. It raises a ``Splat2SimError`` subclass when it
cannot produce a usable result; it never prints.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from splat2sim.progress import NullReporter, Reporter


@dataclass(frozen=True)
class StageSpec:
    name: str
    version: int  # bump when the stage's outputs change for the same inputs
    description: str
    upstream: tuple[str, ...]
    config_cls: type
    runner: str  # "module:function", imported only when the stage runs
    # Returns {label: sha256} of the files the stage reads from outside the workspace.
    input_hashes: Callable[["StageContext"], dict[str, str]] | None = None
    global_keys: tuple[str, ...] = ()  # keys of the `run` config section that matter
    caches: tuple[str, ...] = ()  # workspace caches the stage may read and write (.cache/<stage>/<name>)

    def load_runner(self) -> Callable[["StageContext"], None]:
        import importlib

        module_name, _, func = self.runner.partition(":")
        return getattr(importlib.import_module(module_name), func)


@dataclass
class StageContext:
    stage: str
    workspace: Any  # splat2sim.workspace.Workspace
    config: Any  # the stage's config dataclass
    run_config: Any  # splat2sim.config.RunConfig
    out_dir: Path | None  # staging folder; None while only fingerprinting
    input_path: Path | None = None  # the build's input (video, folder, ...)
    reporter: Reporter = field(default_factory=NullReporter)
    metrics: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fallbacks: list[dict] = field(default_factory=list)
    backend: str | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # rows for the end-of-stage table
    timings: dict = field(default_factory=dict)
    upstream: tuple[str, ...] | None = None  # the spec's declared upstream stages (None: unchecked)
    caches: tuple[str, ...] = ()

    def upstream_dir(self, stage: str) -> Path:
        """The folder of a declared upstream stage; any other stage is refused, so the
        fingerprint (built from the declared list) covers everything the stage reads."""
        if self.upstream is not None and stage not in self.upstream:
            from splat2sim.errors import UndeclaredUpstreamError

            raise UndeclaredUpstreamError(
                f"stage '{self.stage}' read '{stage}/', which is not in its declared upstream list ({', '.join(self.upstream) or 'none'})",
                hint=f"add '{stage}' to the upstream of '{self.stage}' in splat2sim/stages/__init__.py",
            )
        return self.workspace.stage_dir(stage)

    def read(self, artifact):
        """An upstream artifact (a ``splat2sim.artifacts`` JsonArtifact), version-checked."""
        return artifact.read(self.upstream_dir(artifact.stage))

    def cache_dir(self, name: str) -> Path:
        """A declared cache of this stage (kept across runs, outside the stage folder)."""
        if name not in self.caches:
            from splat2sim.errors import UndeclaredUpstreamError

            raise UndeclaredUpstreamError(f"stage '{self.stage}' has no declared cache '{name}'",
                                          hint=f"add '{name}' to the caches of '{self.stage}' in splat2sim/stages/__init__.py")  # fmt: skip
        return self.workspace.cache_dir(self.stage, name)

    def metric_frame(self):
        """The converter from poses' world units to metres (``scale/scale.json``)."""
        from splat2sim.artifacts.scale import SCALE, MetricFrame

        return MetricFrame.from_doc(self.read(SCALE))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.reporter.warning(self.stage, message)

    def fallback(self, what: str, used: str, why: str) -> None:
        """Record that ``what`` could not be done as asked and ``used`` was done instead."""
        self.fallbacks.append({"what": what, "used": used, "why": why})
        self.warn(f"{what}: fell back to {used} ({why})")

    def progress(self, description: str, total: int | None = None):
        return self.reporter.progress(description, total)

    def render_backend(self, name: str, device: str = "cpu") -> str:
        """Resolve the rasterizer backend for this stage and record it: the backend, why, its
        self-check, and a fallback for every backend that failed its self-check here."""
        from splat2sim.render import resolve_backend, selfcheck

        backend, reason = resolve_backend(name, device)
        self.backend = backend
        self.metrics["backend_reason"] = reason
        checks = [c for c in (selfcheck.cached(b, device) for b in ("native", "gsplat")) if c is not None]
        if checks:
            self.metrics["backend_self_check"] = [c.to_dict() for c in checks]
        for c in checks:
            if not c.ok:
                self.fallback(f"{c.backend} render backend on {c.device}", backend, f"failed its self-check: {c.detail}")
        return backend

    @contextlib.contextmanager
    def timed(self, step: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - start, 4)
