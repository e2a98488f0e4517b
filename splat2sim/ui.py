"""Terminal output for the CLI: rich progress bars, stage summaries, tables.

Only the CLI imports this module; library code reports through ``splat2sim.progress``.
"""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


class _Task:
    def __init__(self, progress: Progress, task_id):
        self._progress = progress
        self._id = task_id

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._id, amount)

    def update(self, *, total=None, description=None) -> None:
        kwargs = {}
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = description
        self._progress.update(self._id, **kwargs)


class RichReporter:
    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(stderr=True)
        self.quiet = quiet

    def stage_started(self, stage, description):
        if not self.quiet:
            self.console.rule(f"[bold]{stage}[/] — {description}", align="left")

    def stage_skipped(self, stage, reason):
        if not self.quiet:
            self.console.print(f"[dim]{stage}: {reason}, skipped[/]")

    def stage_finished(self, stage, seconds, summary, warnings):
        if self.quiet:
            return
        table = Table(title=f"{stage} done in {seconds:.1f} s", title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="cyan")
        table.add_column()
        for key, value in summary:
            table.add_row(key, value)
        for message in warnings:
            table.add_row("[yellow]warning[/]", f"[yellow]{message}[/]")
        self.console.print(table)

    def stage_failed(self, stage, error):
        if not self.quiet and not isinstance(error, KeyboardInterrupt):
            self.console.print(f"[red]{stage} failed[/]; earlier stages are untouched")

    def warning(self, stage, message):
        pass  # warnings are listed in the stage's summary table

    @contextlib.contextmanager
    def progress(self, description, total=None):
        if self.quiet:
            from splat2sim.progress import _NullTask

            yield _NullTask()
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=self.console, transient=True) as progress:
            task_id = progress.add_task(description, total=total)
            yield _Task(progress, task_id)
