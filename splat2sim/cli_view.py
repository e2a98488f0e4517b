"""`splat2sim view WS`: the local web viewer (viser, optional; see splat2sim/viewer.py)."""

from pathlib import Path

import typer


def register_view_command(app) -> None:
    """Add the `view` command to the typer ``app``."""

    @app.command()
    def view(
        workspace: Path = typer.Argument(..., help="workspace folder (built through export)"),
        host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: reachable from other machines)"),
        port: int = typer.Option(8080, help="port (the next free one if taken)"),
        splat: bool = typer.Option(True, help="show the Gaussian splat"),
    ):
        """Open a web viewer of the scene: splat, object meshes, hulls, cameras, physics, a MuJoCo settle button."""
        import signal
        import threading

        from splat2sim.errors import Splat2SimError
        from splat2sim.viewer import open_viewer

        try:
            viewer = open_viewer(workspace, host=host, port=port, splat=splat)
        except Splat2SimError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                typer.echo(f"hint: {exc.hint}", err=True)
            raise typer.Exit(exc.exit_code) from None
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        typer.echo(f"splat2sim viewer of {workspace}: {viewer.url}  ({len(viewer.objects)} objects; Ctrl-C stops)", err=False)
        while not stop.wait(0.2):
            pass
        viewer.stop()
        typer.echo("viewer stopped")
