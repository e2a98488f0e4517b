"""The command line: a thin typer layer over ``splat2sim.api``.

Heavy modules are imported inside commands so that ``splat2sim --help`` stays instant.
Only this module prints and exits; the library raises.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from splat2sim import __version__

app = typer.Typer(
    name="splat2sim",
    help="Turn a phone video of a real scene into simulator scenes a robot can touch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_STATE = {"debug": False, "quiet": False}

# Options shared by every command that resolves a config.
PresetOpt = typer.Option(None, "--preset", "-p", help="start from a preset: cpu, gpu, quality, or auto (this machine's: a new workspace's default)")
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML or TOML config file (repeatable)")
SetOpt = typer.Option(None, "--set", "-s", help="override one value: section.key=value (repeatable)")


# exit code of a build that ran without error but found no object (see README's exit codes)
NO_OBJECTS_EXIT_CODE = 7


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _reporter():
    from splat2sim.ui import RichReporter

    return RichReporter(quiet=_STATE["quiet"])


def _version(value: bool):
    if value:
        typer.echo(f"splat2sim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks of errors"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars or summaries"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
):
    _STATE["debug"] = debug
    _STATE["quiet"] = quiet


@app.command()
def build(
    input: Optional[Path] = typer.Argument(None, help="video file or image folder (defaults to the workspace's input)"),
    output: Path = typer.Option(..., "--output", "-o", help="workspace folder"),
    from_stage: Optional[str] = typer.Option(None, "--from", help="re-run this stage and everything after it"),
    until: Optional[str] = typer.Option(None, "--until", help="stop after this stage"),
    force: List[str] = typer.Option([], "--force", help="re-run this stage even if fresh (repeatable)"),
    splat: Optional[Path] = typer.Option(None, "--splat", help="use this 3DGS .ply instead of training (splat.import_ply)"),
    marker_size: Optional[float] = typer.Option(None, "--marker-size", help="side of the ArUco marker in the scene, metres"),
    known_length: Optional[float] = typer.Option(None, "--known-length", help="a known distance in metres (see poses.known_length_*)"),
    preset: Optional[str] = PresetOpt,
    config: Optional[List[Path]] = ConfigOpt,
    set_: Optional[List[str]] = SetOpt,
):
    """Build INPUT into simulator scenes, running every stage that is not fresh."""
    from splat2sim import api

    set_ = list(set_ or [])
    if splat is not None:
        set_.append(f"splat.import_ply={splat.expanduser().absolute()}")
    if marker_size is not None:
        set_.append(f"poses.marker_size={marker_size}")
    if known_length is not None:
        set_.append(f"poses.known_length={known_length}")

    result = api.build(
        input,
        output,
        preset=preset,
        config_files=config or [],
        overrides=set_ or [],
        from_stage=from_stage,
        until=until,
        force=force,
        reporter=_reporter(),
    )
    if not _STATE["quiet"]:
        console = _console()
        ran = ", ".join(result.ran) or "nothing (all fresh)"
        console.print(f"[green]built[/] {result.workspace}: ran {ran}")
        if result.not_implemented:
            console.print(f"[dim]stages not in this version yet: {', '.join(result.not_implemented)}[/]")
    if result.problems:
        for problem in result.problems:
            _console().print(f"[bold red]error:[/] {problem}")
        _console().print("  hint: film the objects on a textured surface from several sides (see `splat2sim status` and the segment warnings)")
        raise typer.Exit(NO_OBJECTS_EXIT_CODE)


def _stage_command(stage: str, description: str, takes_input: bool):
    def command(
        workspace: Path = typer.Argument(..., help="workspace folder"),
        input: Optional[Path] = typer.Option(None, "--input", "-i", help="video or image folder (frames only)") if takes_input else None,
        force: bool = typer.Option(False, "--force", help="re-run even if fresh"),
        preset: Optional[str] = PresetOpt,
        config: Optional[List[Path]] = ConfigOpt,
        set_: Optional[List[str]] = SetOpt,
    ):
        from splat2sim import api

        api.run_stage(
            workspace,
            stage,
            input=input,
            preset=preset,
            config_files=config or [],
            overrides=set_ or [],
            force=force,
            reporter=_reporter(),
        )

    if not takes_input:
        # typer reads the signature: drop the --input option for stages that take none.
        import inspect

        signature = inspect.signature(command)
        command.__signature__ = signature.replace(parameters=[p for n, p in signature.parameters.items() if n != "input"])
    command.__doc__ = f"Run the '{stage}' stage: {description}."
    return command


def _register_stage_commands():
    from splat2sim.stages import STAGES

    for spec in STAGES.values():
        app.command(name=spec.name, help=f"Run the '{spec.name}' stage: {spec.description}.")(
            _stage_command(spec.name, spec.description, takes_input=not spec.upstream)
        )


_register_stage_commands()


def _register_subcommands():
    from splat2sim.cli_config import register_config_commands
    from splat2sim.cli_models import register_models_command
    from splat2sim.cli_view import register_view_command

    register_models_command(app)
    register_config_commands(app, PresetOpt, ConfigOpt, SetOpt)
    register_view_command(app)


_register_subcommands()


@app.command()
def status(
    workspace: Path = typer.Argument(..., help="workspace folder"),
    preset: Optional[str] = PresetOpt,
    config: Optional[List[Path]] = ConfigOpt,
    set_: Optional[List[str]] = SetOpt,
):
    """Which stages are fresh, stale (and why), or missing."""
    from rich.table import Table

    from splat2sim import api

    rows = api.status(workspace, preset=preset, config_files=config or [], overrides=set_ or [])
    colours = {"fresh": "green", "stale": "yellow", "missing": "dim", "failed": "red", "incomplete": "red", "not implemented": "dim"}
    table = Table(title=f"splat2sim status: {workspace}", title_justify="left")
    for column in ("stage", "state", "why", "ran", "seconds"):
        table.add_column(column)
    for row in rows:
        colour = colours.get(row.state, "white")
        ran = row.record.timings.get("started", "")[:16].replace("T", " ") if row.record else ""
        seconds = f"{row.record.timings.get('seconds', 0):.1f}" if row.record else ""
        table.add_row(row.stage, f"[{colour}]{row.state}[/]", row.reason, ran, seconds)
    from rich.console import Console

    Console().print(table)


@app.command()
def doctor():
    """Versions, backends and what is available here (and why not)."""
    from rich.console import Console
    from rich.table import Table

    from splat2sim.doctor import collect

    report = collect()
    console = Console()
    table = Table(title="packages", title_justify="left")
    table.add_column("package")
    table.add_column("version")
    for name, version in report["packages"].items():
        table.add_row(name, version or "[red]not installed[/]")
    console.print(table)
    table = Table(title="capabilities", title_justify="left")
    for column in ("what", "available", "details"):
        table.add_column(column)
    for item in report["capabilities"]:
        table.add_row(item["name"], "[green]yes[/]" if item["ok"] else "[red]no[/]", item["detail"])
    console.print(table)


@app.command()
def synth(
    output: Path = typer.Argument(..., help="folder for video.mp4 and its ground truth"),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same capture"),
    objects: Optional[int] = typer.Option(None, "--objects", "-n", help="number of procedural objects (default: 2-5 by seed)"),
    kinds: Optional[str] = typer.Option(None, "--kinds", help="comma-separated object kinds, e.g. mug,box,can"),
    marker: bool = typer.Option(True, "--marker/--no-marker", help="an ArUco marker of known size on the table"),
    duration: Optional[float] = typer.Option(None, "--duration", help="video length in seconds"),
    size: Optional[str] = typer.Option(None, "--size", help="video size WIDTHxHEIGHT, e.g. 640x480"),
    mesh: Optional[List[str]] = typer.Option(None, "--mesh", help="extra object from a mesh file: PATH:MASS_KG[:NAME] (repeatable)"),
    ycb: Optional[Path] = typer.Option(None, "--ycb", help="folder of YCB objects (<name>/textured.obj + masses.json): adds them all"),
    set_: Optional[List[str]] = typer.Option(None, "--set", "-s", help="any SynthConfig field: key=value (repeatable)"),
):
    """Render a synthetic table-top capture with ground truth (a test input for the pipeline)."""
    from splat2sim.synth import generate_capture

    config = _synth_config(seed, objects, kinds, marker, duration, size, mesh or [], ycb, set_ or [])
    result = generate_capture(output, config, reporter=_reporter())
    if not _STATE["quiet"]:
        _console().print(
            f"[green]wrote[/] {result.video} ({result.num_frames} frames, {result.num_objects} objects"
            f"{', marker' if result.marker else ''}) and {result.ground_truth} in {result.seconds:.1f} s"
        )


def _synth_config(seed, objects, kinds, marker, duration, size, meshes, ycb, sets):
    import dataclasses
    import json

    import yaml

    from splat2sim.errors import ConfigError, InputError
    from splat2sim.synth import MeshFile, SynthConfig

    values: dict = {"seed": seed, "marker": marker}
    if objects is not None:
        values["num_objects"] = objects
    if kinds:
        values["object_kinds"] = [k.strip() for k in kinds.split(",") if k.strip()]
    if duration is not None:
        values["duration_s"] = duration
    if size:
        try:
            width, height = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--size {size!r}: expected WIDTHxHEIGHT", hint="for example --size 640x480") from None
        values.update(width=width, height=height)
    mesh_files = []
    for item in meshes:
        parts = item.rsplit(":", 2) if item.count(":") >= 2 else item.rsplit(":", 1)
        if len(parts) < 2:
            raise ConfigError(f"--mesh {item!r}: expected PATH:MASS_KG[:NAME]", hint="for example --mesh mug.obj:0.35:mug")
        path, mass, name = parts[0], parts[1], parts[2] if len(parts) > 2 else Path(parts[0]).stem
        try:
            mesh_files.append(MeshFile(path, float(mass), name))
        except ValueError:
            raise ConfigError(f"--mesh {item!r}: mass {mass!r} is not a number", hint="mass in kilograms, e.g. 0.35") from None
    if ycb is not None:
        masses_path = ycb / "masses.json"
        if not masses_path.is_file():
            raise InputError(f"{ycb} has no masses.json", hint="point --ycb at a folder of <name>/textured.obj with masses.json")
        for name, mass in sorted(json.loads(masses_path.read_text()).items()):
            mesh_files.append(MeshFile(str(ycb / name / "textured.obj"), float(mass), name))
    if mesh_files:
        values["mesh_files"] = mesh_files
    fields = {f.name for f in dataclasses.fields(SynthConfig)}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            import difflib

            close = difflib.get_close_matches(key, fields, n=1)
            raise ConfigError(
                f"--set {item!r}: unknown synth setting '{key}'",
                hint=(f"did you mean '{close[0]}'? " if close else "") + "settings: " + ", ".join(sorted(fields)),
            )
        values[key] = yaml.safe_load(raw)
    try:
        return SynthConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"invalid synth settings: {exc}") from None


@app.command()
def batch(
    inputs: List[Path] = typer.Argument(..., help="videos, folders of scans, or manifests (.csv / .yaml)"),
    output: Path = typer.Option(..., "--output", "-o", help="batch folder: one workspace per scan, and batch.json"),
    until: Optional[str] = typer.Option(None, "--until", help="stop every scan after this stage"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="scans at once (default: from cores and memory)"),
    ray: Optional[str] = typer.Option(None, "--ray", help="run as Ray tasks: auto, local, or a cluster address"),
    preset: Optional[str] = PresetOpt,
    config: Optional[List[Path]] = ConfigOpt,
    set_: Optional[List[str]] = SetOpt,
):
    """Build many scans, each into OUT/<name>/; skips fresh ones; exit code 1 if any failed."""
    from splat2sim.batch import BatchFailed, collect_scans, run_batch
    from splat2sim.batch.console import BatchConsole

    scans = collect_scans(inputs, preset=preset, config_files=config or [], overrides=set_ or [], exclude=output)
    reporter = BatchConsole(quiet=_STATE["quiet"])
    result = run_batch(scans, output, until=until, workers=workers, ray=ray, reporter=reporter)
    reporter.summary(result.data, result.path)
    if result.failed:
        names = ", ".join(s["name"] for s in result.failed)
        raise BatchFailed(
            f"{len(result.failed)} of {len(scans)} scans failed: {names}",
            hint=f"details in {result.path}; fix them and run the same command again (complete scans are skipped)",
        )


def _click_exceptions():
    try:  # typer >= 0.2x ships its own copy of click
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


GLOBAL_FLAGS = ("--debug", "--quiet", "-q")


def hoist_global_options(args: list[str]) -> list[str]:
    """The global flags moved in front of the command, so `splat2sim status WS --debug`
    works like `splat2sim --debug status WS` (click only reads them before the command)."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in GLOBAL_FLAGS]
    return flags + rest + args[end:]


def main(argv: list[str] | None = None) -> int:
    from splat2sim.errors import Splat2SimError

    click_exc = _click_exceptions()

    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    try:
        code = app(args=args, prog_name="splat2sim", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into a returned exit code
            raise KeyboardInterrupt
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except click_exc.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _console().print("[yellow]interrupted[/]: finished stages are intact; run the same command again to resume")
        return 130
    except Splat2SimError as exc:
        console = _console()
        where = f" in stage '{exc.stage}'" if exc.stage else ""
        if debug:
            console.print_exception()
        console.print(f"[red]error{where}:[/] {exc.message}", highlight=False)
        if exc.hint:
            console.print(f"[cyan]hint:[/] {exc.hint}", highlight=False)
        return exc.exit_code
    except Exception as exc:  # a bug: say so, keep the traceback behind --debug
        console = _console()
        if debug:
            console.print_exception()
        console.print(f"[red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        if not debug:
            console.print("run again with --debug for the traceback, and please report it")
        return 70


if __name__ == "__main__":
    sys.exit(main())
