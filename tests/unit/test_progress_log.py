"""Progress in a log file: no live bar (nothing would show), plain lines at an interval."""

from __future__ import annotations

import io

from rich.console import Console

from splat2sim import ui


def test_a_log_file_gets_periodic_progress_lines_with_the_time_left(monkeypatch):
    out = io.StringIO()
    reporter = ui.RichReporter(Console(file=out, force_terminal=False, width=200))
    monkeypatch.setattr(ui, "LOG_PROGRESS_INTERVAL_S", 0.0)  # a line per step, so the test is instant
    with reporter.progress("Training (native)", total=4) as task:
        for _ in range(4):
            task.advance()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Training (native): 1/4 (25 %)") and "left" in lines[0]
    assert lines[-1].startswith("Training (native): 4/4 (100 %)") and "left" not in lines[-1]
    assert len(lines) == 5  # four steps and the final line
    assert "\x1b[" not in out.getvalue()  # plain text: no terminal control codes in a log


def test_the_interval_keeps_a_log_short(monkeypatch):
    out = io.StringIO()
    reporter = ui.RichReporter(Console(file=out, force_terminal=False, width=200))
    monkeypatch.setattr(ui, "LOG_PROGRESS_INTERVAL_S", 3600.0)
    with reporter.progress("Convex decomposition", total=1000) as task:
        for _ in range(1000):
            task.advance()
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]  # only the final line
    assert out.getvalue().startswith("Convex decomposition: 1000/1000 (100 %)")


def test_quiet_prints_no_progress():
    out = io.StringIO()
    with ui.RichReporter(Console(file=out, force_terminal=False), quiet=True).progress("x", total=2) as task:
        task.advance(2)
    assert out.getvalue() == ""
