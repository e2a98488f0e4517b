"""Progress reporting. Library code talks to a Reporter; only the CLI's prints.

The default ``NullReporter`` is silent, so the Python API never writes to the terminal
unless the caller passes a reporter (e.g. ``splat2sim.ui.RichReporter``).
"""

from __future__ import annotations

import contextlib
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def update(self, *, total: int | None = None, description: str | None = None) -> None: ...


class Reporter(Protocol):
    def stage_started(self, stage: str, description: str) -> None: ...

    def stage_skipped(self, stage: str, reason: str) -> None: ...

    def stage_finished(self, stage: str, seconds: float, summary: list[tuple[str, str]], warnings: list[str]) -> None: ...

    def stage_failed(self, stage: str, error: BaseException) -> None: ...

    def warning(self, stage: str, message: str) -> None: ...

    def note(self, stage: str, message: str) -> None: ...

    def progress(self, description: str, total: int | None = None) -> contextlib.AbstractContextManager[ProgressTask]: ...


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        pass

    def update(self, *, total: int | None = None, description: str | None = None) -> None:
        pass


class NullReporter:
    def stage_started(self, stage, description):
        pass

    def stage_skipped(self, stage, reason):
        pass

    def stage_finished(self, stage, seconds, summary, warnings):
        pass

    def stage_failed(self, stage, error):
        pass

    def warning(self, stage, message):
        pass

    def note(self, stage, message):
        pass

    @contextlib.contextmanager
    def progress(self, description, total=None):
        yield _NullTask()
