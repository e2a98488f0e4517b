"""Terminal output for the CLI: rich progress bars, stage summaries, tables.

Only the CLI imports this module; library code reports through ``splat2sim.progress``.
"""

from __future__ import annotations

import contextlib
import time

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


#: Seconds between progress lines when the output is a log file rather than a terminal.
LOG_PROGRESS_INTERVAL_S = 15.0


class _LogTask:
    """Progress for a log file (no terminal, so no live bar): one plain line at most every
    ``interval`` seconds and one at the end, each with the count, elapsed time and an
    estimate of the time left from the rate so far."""

    def __init__(self, console: Console, description: str, total: int | None, interval: float):
        self._console, self._description, self._total = console, description, total
        self._interval, self._done = interval, 0
        self._t0 = self._last = time.monotonic()

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self.line()

    def update(self, *, total=None, description=None) -> None:
        if total is not None:
            self._total = total
        if description is not None:
            self._description = description

    def line(self, final: bool = False) -> None:
        elapsed = time.monotonic() - self._t0
        if self._total:
            frac = min(1.0, self._done / self._total)
            text = f"{self._description}: {self._done}/{self._total} ({100 * frac:.0f} %), {elapsed:.0f} s"
            if 0 < frac < 1 and not final:
                text += f", about {elapsed * (1 - frac) / frac:.0f} s left"
        else:
            text = f"{self._description}: {self._done} done, {elapsed:.0f} s"
        self._console.print(text, highlight=False, soft_wrap=True)


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

    def note(self, stage, message):
        if not self.quiet:
            self.console.print(f"[cyan]{stage}:[/] {message}")

    @contextlib.contextmanager
    def progress(self, description, total=None):
        if self.quiet:
            from splat2sim.progress import _NullTask

            yield _NullTask()
            return
        if not self.console.is_terminal:  # a log file: periodic plain lines instead of a live bar
            task = _LogTask(self.console, description, total, LOG_PROGRESS_INTERVAL_S)
            yield task
            task.line(final=True)
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=self.console, transient=True) as progress:
            task_id = progress.add_task(description, total=total)
            yield _Task(progress, task_id)
