"""`splat2sim models`: list, check and (on request only) download model weights."""

import typer


def register_models_command(app) -> None:
    """Add the `models` command group to the typer ``app``."""

    models_app = typer.Typer(help="Model weights the stages can use (SAM, CLIP): list, check, download.", no_args_is_help=False,
                             invoke_without_command=True)  # fmt: skip
    app.add_typer(models_app, name="models")

    @models_app.callback()
    def _list(ctx: typer.Context, hash_files: bool = typer.Option(False, "--hash", help="also verify checksums (slow for big files)")):
        """List the weights each stage can use, where they are looked for, and their state."""
        if ctx.invoked_subcommand is not None:
            return
        from splat2sim import models as M

        typer.echo(f"models folder: {M.models_dir()}  (set ${M.ENV_VAR} to change it)")
        for spec in M.MODELS.values():
            result = M.check(spec, hash_files=hash_files)
            typer.echo(f"  {spec.name:15s} {spec.stage:17s} {result.state:18s} {spec.description}")
            if result.detail:
                typer.echo(f"  {'':15s} {'':17s} {result.detail}")

    @models_app.command("download")
    def _download(name: str = typer.Argument(..., help="model name as listed by `splat2sim models`")):
        """Download NAME from its official source into the models folder (verified)."""
        from splat2sim import models as M
        from splat2sim.errors import Splat2SimError

        try:
            path = M.download(name)
        except Splat2SimError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        typer.echo(f"saved {path}")
