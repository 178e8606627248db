"""`worldline sandbox ...`: build the base image offline, list and remove worldline containers (and what dead runs
left: temporary folders, cgroups).

Docker is imported inside each command so `worldline --help` stays instant.
"""

from __future__ import annotations

import os
from pathlib import Path

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
                  help="Build the terminal base image; list and remove worldline containers and what dead runs "
                       "left.")
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
    from sandboxes.container_registry import OWNER_LABEL, list_containers

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
    """Remove worldline containers left by runs that died (by default), or those with a name prefix, or all; and
    always the temporary folders and empty cgroups of runs that died (never a live run's)."""
    from sandboxes.container_registry import remove_containers, remove_orphans

    if every and (prefix or orphans_only):
        raise typer.BadParameter("--all removes every container; it cannot be combined with --prefix or --orphans")
    if prefix and orphans_only:
        raise typer.BadParameter("choose --prefix or --orphans")
    removed = remove_containers(name_prefix=prefix) if (every or prefix) else remove_orphans()
    folders, groups = remove_dead_folders(), remove_dead_cgroups()
    console.print(f"removed {len(removed)} container(s), {len(folders)} temporary folder(s) and {len(groups)} "
                  "cgroup(s) of runs that died")
    for name in [*removed, *map(str, folders), *map(str, groups)]:
        print(name)


# The temporary folders a collector makes with sandboxes.leftovers.make_temp (browser.py, mcp_servers.py,
# sites/launcher.py). A collector sweeps only its own kind when it makes one, so a SIGKILLed web run's folders stayed
# for good on a machine that then ran only terminal tasks.
TEMP_FAMILIES = ("wl-browser-", "wl-driver-", "wl-mcp-", "worldline-sites-")


def remove_dead_folders() -> list[Path]:
    """The temporary folders (in this process's temp folder) whose maker is gone, removed."""
    from sandboxes import leftovers

    return [folder for family in TEMP_FAMILIES for folder in leftovers.remove_dead_temp(family)]


def cgroup_mounts() -> list[Path]:
    """Where each cgroup hierarchy (v1 or v2) is mounted here, from /proc/self/mountinfo."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        if tail.split()[:1] in (["cgroup"], ["cgroup2"]):
            found.append(Path(fields.split()[4]))
    return list(dict.fromkeys(found))


def remove_dead_cgroups() -> list[Path]:
    """The empty cgroups whose maker is gone, wherever they are in each hierarchy: a group is made under its maker's
    own cgroup, which is another one than this command's whenever the two ran in different sessions or scopes."""
    from sandboxes import cgroup

    parents = []
    for mount in cgroup_mounts():
        # Into worldline groups too: a run started inside one (a test's, a nested collector's) makes its own there.
        for folder, children, _ in os.walk(mount):
            if any(child.startswith(cgroup.PREFIX) for child in children):
                parents.append(Path(folder))
    # Deepest first: a dead group inside another dead group goes before its parent is tried.
    return [group for parent in reversed(parents) for group in cgroup.remove_dead_groups(parent)]
