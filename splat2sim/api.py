"""The Python API: build a workspace, run one stage, ask what is fresh.

    from splat2sim import api
    result = api.build("capture.mp4", "ws/", overrides=["frames.target_count=40"])
    for row in api.status("ws/"):
        print(row.stage, row.state, row.reason)

Everything here raises ``splat2sim.errors`` exceptions and never prints; pass a
``reporter`` (e.g. ``splat2sim.ui.RichReporter()``) for progress output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import time
from dataclasses import dataclass, field
from pathlib import Path

from splat2sim import __version__
from splat2sim.config import Config, dump_config, load_config, read_config_file
from splat2sim.errors import ConfigError, InputError, Splat2SimError, WorkspaceError, resource_error, translate_resource_faults
from splat2sim.estimate import announce, learn
from splat2sim.hardware import PresetChoice, resolve_preset
from splat2sim.progress import NullReporter, Reporter
from splat2sim.stages import STAGES, StageContext, StageSpec
from splat2sim.workspace import RecordProblem, StageRecord, Workspace, layout
from splat2sim.workspace.record import compute_fingerprint, host_info, new_output_id


@dataclass
class StageStatus:
    stage: str
    state: str  # fresh | stale | missing | failed | incomplete | not implemented
    reason: str = ""
    record: StageRecord | None = None


@dataclass
class StageOutcome:
    stage: str
    action: str  # ran | skipped
    reason: str
    seconds: float = 0.0
    record: StageRecord | None = None


@dataclass
class BuildResult:
    workspace: Path
    outcomes: list[StageOutcome] = field(default_factory=list)
    not_implemented: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the build ran but missed its purpose
    preset: PresetChoice | None = None  # the preset this build started from (None: the workspace's stored config)

    @property
    def ran(self) -> list[str]:
        return [o.stage for o in self.outcomes if o.action == "ran"]


# ----------------------------------------------------------------------------- config
def workspace_config(ws: Workspace) -> Config | None:
    """The config stored by the workspace's latest build, or None."""
    path = ws.root / layout.WORKSPACE_CONFIG
    if not path.is_file():
        return None
    try:
        stored = read_config_file(path)
        return Config.defaults().apply({**stored, "_stored": True} if isinstance(stored, dict) else stored, origin=str(path))
    except ConfigError as exc:
        raise ConfigError(
            f"the workspace's stored config is invalid: {exc.message}",
            hint=f"fix or delete {path} (defaults are used without it)",
        ) from exc


def resolve_config(ws: Workspace | None, *, preset=None, config_files=(), overrides=()) -> Config:
    """Options layer on the workspace's stored config (a new one starts from the machine's preset); a preset starts from defaults."""
    choice = resolve_preset(ws, preset)
    base = workspace_config(ws) if ws is not None else None
    return load_config(base=base, preset=choice.name if choice else None, files=list(config_files), overrides=list(overrides))


def _stage_config(spec: StageSpec, config: Config) -> dict:
    data = dataclasses.asdict(config.section(spec.name))
    for key in spec.global_keys:
        data[f"run.{key}"] = getattr(config.run, key)
    return data


def check_stage_name(name: str, *, must_exist: bool = True) -> str:
    if name not in layout.STAGE_ORDER:
        close = difflib.get_close_matches(name, layout.STAGE_ORDER, n=1)
        raise ConfigError(
            f"unknown stage '{name}'",
            hint=(f"did you mean '{close[0]}'? " if close else "") + "stages: " + ", ".join(layout.STAGE_ORDER),
        )
    if must_exist and name not in STAGES:
        raise ConfigError(
            f"stage '{name}' is not implemented in splat2sim {__version__}",
            hint="implemented stages: " + ", ".join(STAGES),
        )
    return name


def implemented_stages() -> list[str]:
    return [name for name in layout.STAGE_ORDER if name in STAGES]


def _context(ws: Workspace, spec: StageSpec, config: Config, input_path, reporter, out_dir=None) -> StageContext:
    return StageContext(
        stage=spec.name,
        workspace=ws,
        config=config.section(spec.name),
        run_config=config.run,
        out_dir=out_dir,
        input_path=Path(input_path) if input_path else None,
        reporter=reporter,
        upstream=tuple(spec.upstream),
        caches=tuple(spec.caches),
    )


def _fingerprint(ws: Workspace, spec: StageSpec, config: Config, input_path) -> tuple[str, dict, dict]:
    upstream = {}
    for name in spec.upstream:
        try:
            record = ws.read_record(name)
        except RecordProblem as exc:
            raise WorkspaceError(f"upstream stage '{name}' is incomplete: {exc}", hint=f"run `splat2sim {name}` first") from None
        if record is None:
            raise WorkspaceError(
                f"stage '{spec.name}' needs the '{name}' stage, which has not run in {ws.root}",
                hint=f"run `splat2sim build INPUT -o {ws.root}` (or `splat2sim {name}`) first",
            )
        upstream[name] = record.output_id
    inputs = spec.input_hashes(_context(ws, spec, config, input_path, NullReporter())) if spec.input_hashes else {}
    fingerprint = compute_fingerprint(spec.name, spec.version, _stage_config(spec, config), upstream, inputs)
    return fingerprint, upstream, inputs


def _why_stale(spec: StageSpec, record: StageRecord, config: Config, upstream: dict, inputs: dict) -> str:
    if record.stage_version != spec.version:
        return f"stage version changed ({record.stage_version} -> {spec.version})"
    for name, output_id in upstream.items():
        if record.upstream.get(name) != output_id:
            return f"upstream '{name}' changed"
    current = _stage_config(spec, config)
    changed = sorted(k for k in set(current) | set(record.config) if current.get(k) != record.config.get(k))
    if changed:
        return "config changed: " + ", ".join(f"{spec.name}.{k}" if not k.startswith("run.") else k for k in changed)
    for label, digest in inputs.items():
        if record.inputs.get(label) != digest:
            return f"input changed ({label})"
    return "fingerprint changed"


def stage_status(ws: Workspace, spec: StageSpec, config: Config, input_path) -> StageStatus:
    try:
        record = ws.read_record(spec.name)
    except RecordProblem as exc:
        return StageStatus(spec.name, "incomplete", str(exc))
    failure = ws.read_failure(spec.name)
    if record is None:
        if failure:
            return StageStatus(spec.name, "failed", failure.get("message", ""))
        return StageStatus(spec.name, "missing", "not run yet")
    try:
        fingerprint, upstream, inputs = _fingerprint(ws, spec, config, input_path)
    except Splat2SimError as exc:
        return StageStatus(spec.name, "stale", exc.message, record)
    if fingerprint == record.fingerprint:
        note = f" (a later re-run failed: {failure.get('message', '')})" if failure else ""
        return StageStatus(spec.name, "fresh", "up to date" + note, record)
    return StageStatus(spec.name, "stale", _why_stale(spec, record, config, upstream, inputs), record)


# ----------------------------------------------------------------------------- running
def _run_stage(ws: Workspace, spec: StageSpec, config: Config, input_path, reporter: Reporter) -> StageOutcome:
    """Run one stage; a resource fault (disk full, read-only, permission) anywhere in it,
    staging and commit included, becomes a ResourceError that names the path and the fix."""
    try:
        return _run_stage_unchecked(ws, spec, config, input_path, reporter)
    except OSError as exc:
        translated = resource_error(exc, f"running the {spec.name} stage")
        if translated is None:
            raise
        translated.stage = spec.name
        with contextlib.suppress(OSError):  # on a read-only workspace the record cannot be written either
            ws.record_failure(spec.name, translated, None)
        raise translated from exc


def _run_stage_unchecked(ws: Workspace, spec: StageSpec, config: Config, input_path, reporter: Reporter) -> StageOutcome:
    fingerprint, upstream, inputs = _fingerprint(ws, spec, config, input_path)
    runner = spec.load_runner()
    reporter.stage_started(spec.name, spec.description)
    est = announce(ws.root, spec.name, config, reporter)
    started = time.time()
    t0 = time.perf_counter()
    with ws.staging(spec.name) as staged:
        ctx = _context(ws, spec, config, input_path, reporter, out_dir=staged)
        try:
            runner(ctx)
        except BaseException as exc:
            if isinstance(exc, Splat2SimError):
                exc.stage = exc.stage or spec.name
            if not isinstance(exc, KeyboardInterrupt):
                ws.record_failure(spec.name, exc, fingerprint)
            reporter.stage_failed(spec.name, exc)
            raise
        seconds = time.perf_counter() - t0
        stamp, guess = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), round(est.seconds, 1) if est else None
        timings = {"started": stamp, "seconds": round(seconds, 3), "steps": ctx.timings, "estimate_seconds": guess}
        record = StageRecord(
            stage=spec.name,
            stage_version=spec.version,
            fingerprint=fingerprint,
            output_id=new_output_id(fingerprint),
            config=_stage_config(spec, config),
            upstream=upstream,
            inputs=inputs,
            metrics=ctx.metrics,
            warnings=ctx.warnings,
            fallbacks=ctx.fallbacks,
            backend=ctx.backend,
            timings=timings,
            splat2sim_version=__version__,
            host=host_info(),
        )
        ws.commit(spec.name, staged, record)
    ws.clear_failure(spec.name)
    learn(est, seconds)
    reporter.stage_finished(spec.name, seconds, ctx.summary, ctx.warnings)
    return StageOutcome(spec.name, "ran", "", seconds, record)


def _remember(ws: Workspace, config: Config, input_path, preset: PresetChoice | None = None) -> None:
    meta = ws.read_meta()
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if preset is not None:  # None: the stored config was kept, and so is the record of its preset
        meta["preset"] = preset.to_dict()
    meta.update(
        {
            "input": str(Path(input_path).absolute()) if input_path else meta.get("input"),
            "created": meta.get("created", now),
            "updated": now,
            "splat2sim_version": __version__,
        }
    )
    ws.write_meta(meta)
    path = ws.root / layout.WORKSPACE_CONFIG
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# The resolved config of this workspace's latest build.\n" + dump_config(config))
    tmp.replace(path)


def _input_for(ws: Workspace | None, given) -> Path | None:
    if given is not None:  # a given input that is not there is said before anything else is
        if not (path := Path(given).expanduser().absolute()).exists():
            raise InputError(f"input {path} does not exist", hint="check the path (and that the file finished copying)")
        return path
    stored = ws.read_meta().get("input") if ws is not None else None
    return Path(stored) if stored else None


@translate_resource_faults("writing the workspace")
def build(
    input=None,
    workspace=".",
    *,
    preset: str | None = None,
    config_files=(),
    overrides=(),
    from_stage: str | None = None,
    until: str | None = None,
    force=(),
    reporter: Reporter | None = None,
) -> BuildResult:
    """Run every stage that is not fresh, in order. Stops at the first failure (raised)."""
    reporter = reporter or NullReporter()
    for name in [n for n in (from_stage, *force) if n is not None]:
        check_stage_name(name)
    if until is not None:
        check_stage_name(until, must_exist=False)
    if from_stage is not None and until is not None and layout.STAGE_ORDER.index(from_stage) > layout.STAGE_ORDER.index(until):
        raise ConfigError(f"--from {from_stage} comes after --until {until}: no stage is in that range",
                          hint=f"stages run in the order {', '.join(layout.STAGE_ORDER)}")  # fmt: skip
    if not Path(workspace).exists():  # a missing input or a bad option is refused before the folder is made
        _input_for(None, input)
        resolve_config(None, preset=preset, config_files=config_files, overrides=overrides)
    ws = Workspace.open(workspace, create=True)
    ws.read_meta()  # a workspace from a newer splat2sim, or a corrupt one, is refused before anything is written
    result = BuildResult(workspace=ws.root)
    with ws.locked():
        result.preset = choice = resolve_preset(ws, preset)
        config = resolve_config(ws, preset=choice.name if choice else None, config_files=config_files, overrides=overrides)
        input_path = _input_for(ws, input)
        if input_path is None:
            raise WorkspaceError(
                f"no input given and workspace {ws.root} has none recorded",
                hint="pass the video or image folder: `splat2sim build INPUT -o WORKSPACE`",
            )
        if choice is not None and choice.chosen == "auto":
            reporter.note("build", f"preset {choice.name}, chosen for this machine ({choice.reason}); --preset overrides it")
        order = list(layout.STAGE_ORDER)
        last, first = (order.index(until) if until else len(order) - 1), (order.index(from_stage) if from_stage else 0)
        for index, name in enumerate(order[: last + 1]):
            if name not in STAGES:
                result.not_implemented.append(name)
                continue
            spec = STAGES[name]
            forced = name in force or (from_stage is not None and index >= first)
            if not forced:
                status = stage_status(ws, spec, config, input_path)
                if status.state == "fresh":
                    ws.clear_failure(name)  # a failed attempt with other settings no longer matters
                    reporter.stage_skipped(name, "fresh")
                    result.outcomes.append(StageOutcome(name, "skipped", "fresh", 0.0, status.record))
                    continue
            outcome = _run_stage(ws, spec, config, input_path, reporter)
            result.outcomes.append(outcome)
            _remember(ws, config, input_path, choice)
        if not any(o.action == "ran" for o in result.outcomes):
            _remember(ws, config, input_path, choice)
        result.problems = _purpose_problems(ws, result)
    return result


def _purpose_problems(ws: Workspace, result: BuildResult) -> list[str]:
    """What makes a build that ran without error useless: no object found."""
    segment = next((o for o in result.outcomes if o.stage == "segment"), None)
    record = segment.record if segment is not None and segment.record is not None else None
    if record is None and segment is not None:
        record = ws.read_record("segment")
    if record is not None and record.metrics.get("objects") == 0:
        return ["no object was found: the scene has only the support surface, nothing to push, grasp or knock over"]
    return []


@translate_resource_faults("writing the workspace")
def run_stage(
    workspace,
    stage: str,
    *,
    input=None,
    preset: str | None = None,
    config_files=(),
    overrides=(),
    force: bool = False,
    reporter: Reporter | None = None,
) -> StageOutcome:
    """Run one stage on the upstream results already in the workspace."""
    reporter = reporter or NullReporter()
    check_stage_name(stage)
    spec = STAGES[stage]
    ws = Workspace.open(workspace, create=(stage == "frames"))
    with ws.locked():
        config = resolve_config(ws, preset=preset, config_files=config_files, overrides=overrides)
        input_path = _input_for(ws, input)
        for name in spec.upstream:
            up = stage_status(ws, STAGES[name], config, input_path)
            if up.state in ("missing", "failed", "incomplete"):
                raise WorkspaceError(
                    f"stage '{stage}' needs '{name}', which is {up.state} in {ws.root}",
                    hint=f"run `splat2sim {name} {ws.root}` or `splat2sim build` first",
                )
            if up.state == "stale":
                reporter.warning(stage, f"upstream '{name}' is stale ({up.reason}); `splat2sim build` refreshes it")
        if not force:
            status = stage_status(ws, spec, config, input_path)
            if status.state == "fresh":
                reporter.stage_skipped(stage, "fresh")
                return StageOutcome(stage, "skipped", "fresh", 0.0, status.record)
        outcome = _run_stage(ws, spec, config, input_path, reporter)
        _remember(ws, config, input_path)
        return outcome


def status(workspace, *, preset=None, config_files=(), overrides=()) -> list[StageStatus]:
    """Freshness of every stage of the pipeline (planned ones included)."""
    ws = Workspace.open(workspace)
    config = resolve_config(ws, preset=preset, config_files=config_files, overrides=overrides)
    input_path = _input_for(ws, None)
    rows = []
    states: dict[str, str] = {}
    for name in layout.STAGE_ORDER:
        if name not in STAGES:
            rows.append(StageStatus(name, "not implemented", "planned"))
            continue
        row = stage_status(ws, STAGES[name], config, input_path)
        if row.state == "fresh":
            # fresh against its upstream's current result, but that result is itself out of date
            behind = [u for u in STAGES[name].upstream if states.get(u) not in (None, "fresh")]
            if behind:
                row = StageStatus(name, "stale", f"upstream '{behind[0]}' is {states[behind[0]]}", row.record)
        states[name] = row.state
        rows.append(row)
    return rows
