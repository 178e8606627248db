"""`worldline sandbox ...`: build the base image offline, list and remove worldline containers.

Docker is imported inside each command so `worldline --help` stays instant.
"""

from __future__ import annotations

import typer
import typer.core
from rich.console import Console


class EngineCommands(typer.core.TyperGroup):
    """An engine that does not answer ends every sandbox command as one line `Error: ...` with exit code 2."""

    def invoke(self, ctx):
        from sandboxes.engine import EngineUnreachable

        try:
            return super().invoke(ctx)
        except EngineUnreachable as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=EngineCommands,
                  help="Build the terminal base image; list and remove worldline containers.")
console = Console(stderr=True)


@app.command("build-image")
def build_image(
    tag: str = typer.Option(None, "--tag", help="Image tag (default: worldline/base:bookworm)."),
    packages: str = typer.Option(None, "--packages",
                                 help="Comma-separated Debian packages (default: the terminal set)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the tag exists."),
):
    """Build the terminal base image (worldline/base:bookworm): from a registry when one answers, otherwise
    debootstrap + docker import (offline). The desktop (os) and SWE images are built by `make setup`
    (scripts/setup.d)."""
    from sandboxes.images import DEFAULT_TERMINAL_IMAGE, ImageBuildError, build_base_image

    tag = tag or DEFAULT_TERMINAL_IMAGE
    chosen = [p.strip() for p in packages.split(",") if p.strip()] if packages else None
    try:
        image_id = build_base_image(tag, chosen, force=force)
    except ImageBuildError as exc:
        console.print(f"[red]build failed[/]: {exc}")
        raise typer.Exit(1)
    print(f"{tag} {image_id}")


@app.command("list")
def list_containers():
    """List worldline containers on the engine (label worldline=1)."""
    from sandboxes.docker_sandbox import OWNER_LABEL, list_containers

    containers = list_containers()
    if not containers:
        console.print("no worldline containers are running")  # on stderr: stdout stays one container a line
    for container in containers:
        print(f"{container['id'][:12]}\t{container['name']}\t{container['labels'].get(OWNER_LABEL, '')}")


@app.command("cleanup")
def cleanup(
    prefix: str = typer.Option(None, "--prefix", help="Containers whose name starts with this, running or not."),
    every: bool = typer.Option(False, "--all", help="Every worldline container on the engine, running ones "
                                                    "too: on a shared engine, other people's runs as well."),
    orphans_only: bool = typer.Option(False, "--orphans", help="Only containers whose owning process is gone "
                                                              "(what cleanup does without --all or --prefix)."),
):
    """Remove worldline containers left by runs that died (by default), or those with a name prefix, or all."""
    from sandboxes.docker_sandbox import remove_containers, remove_orphans

    if every and (prefix or orphans_only):
        raise typer.BadParameter("--all removes every container; it cannot be combined with --prefix or --orphans")
    if prefix and orphans_only:
        raise typer.BadParameter("choose --prefix or --orphans")
    removed = remove_containers(name_prefix=prefix) if (every or prefix) else remove_orphans()
    console.print(f"removed {len(removed)} container(s)")
    for name in removed:
        print(name)
