"""Terminal output of ``splat2sim batch`` (only the CLI uses this module): a line per scan as
it starts and finishes, and the summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from splat2sim.batch.summary import problem_text, quality_text, rich_table


class BatchConsole:
    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.total = 0
        self.finished = 0

    def batch_planned(self, batch: dict) -> None:
        self.total = len(batch["scans"])
        if self.quiet:
            return
        ex = batch["executor"]
        pending = sum(s["status"] == "pending" for s in batch["scans"])
        line = f"batch: {self.total} scans, {pending} to build, {self.total - pending} fresh; {ex.get('executor')} executor"
        line += f", {ex.get('workers')} workers x {ex.get('threads_per_worker')} threads"
        if ex.get("reason"):
            line += f" ({ex['reason']})"
        self.console.print(Text(line, style="bold"))

    def scan_started(self, entry: dict) -> None:
        if not self.quiet:
            self.console.print(Text(f"  {entry['status']:<8} {entry['name']}  ({entry['why']})", style="dim"))

    def scan_finished(self, entry: dict) -> None:
        self.finished += 1
        if self.quiet:
            return
        status = entry["status"]
        style = {"done": "green", "skipped-fresh": "green", "failed": "red"}.get(status, "white")
        text = Text(f"[{self.finished}/{self.total}] ")
        text.append(f"{status:<13}", style=style)
        text.append(f" {entry['name']}")
        if status == "done":
            text.append(f" in {entry['seconds']:.1f} s")
        detail = problem_text(entry) if status == "failed" else quality_text(entry.get("metrics") or {})
        if detail:
            text.append(f"  {detail}", style="red" if status == "failed" else "")
        self.console.print(text)

    def summary(self, batch: dict, path) -> None:
        """The table (always printed, also with --quiet: it is the result of the command)."""
        out = Console()
        out.print(rich_table(batch))
        failed = [s for s in batch["scans"] if s["status"] == "failed"]
        for scan in failed:
            error = scan.get("error") or {}
            self.console.print(Text(f"{scan['name']}: {problem_text(scan)}", style="red"))
            if error.get("hint"):
                self.console.print(Text(f"  hint: {error['hint']}", style="cyan"))
        out.print(Text(f"record: {path}", style="dim"))
