"""`splat2sim config`: show the resolved configuration, list the presets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register_config_commands(app, preset_opt, config_opt, set_opt) -> None:
    """Add the `config` command group to the typer ``app`` (options shared with cli.py)."""
    config_app = typer.Typer(help="Show and check configuration.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("show")
    def config_show(
        workspace: Optional[Path] = typer.Argument(None, help="show this workspace's config"),
        preset: Optional[str] = preset_opt,
        config: Optional[List[Path]] = config_opt,
        set_: Optional[List[str]] = set_opt,
    ):
        """Print the resolved config as YAML (a valid starting point for --config)."""
        from splat2sim import api
        from splat2sim.config import dump_config
        from splat2sim.workspace import Workspace

        ws = Workspace.open(workspace) if workspace else None
        resolved = api.resolve_config(ws, preset=preset, config_files=config or [], overrides=set_ or [])
        typer.echo(dump_config(resolved), nl=False)

    @config_app.command("presets")
    def config_presets():
        """List the presets."""
        from splat2sim.config import available_presets

        for name in available_presets():
            typer.echo(name)
