"""`worldline sandbox ...`: build the base image offline, list and remove worldline containers.

Docker is imported inside each command so `worldline --help` stays instant.
"""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Build and inspect sandbox images.")
console = Console(stderr=True)


@app.command("build-image")
def build_image(
    tag: str = typer.Option(None, "--tag", help="Image tag (default: worldline/base:bookworm)."),
    packages: str = typer.Option(None, "--packages",
                                 help="Comma-separated Debian packages (default: the terminal set)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the tag exists."),
):
    """Build the base image: from a registry when one answers, otherwise debootstrap + docker import (offline)."""
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
    prefix: str = typer.Option(None, "--prefix", help="Only containers whose name starts with this."),
    orphans_only: bool = typer.Option(False, "--orphans", help="Only containers whose owning process is gone."),
):
    """Remove worldline containers (all of them, those with a name prefix, or only orphans of dead runs)."""
    from sandboxes.docker_sandbox import remove_containers, remove_orphans

    removed = remove_orphans() if orphans_only else remove_containers(name_prefix=prefix)
    console.print(f"removed {len(removed)} container(s)")
    for name in removed:
        print(name)
