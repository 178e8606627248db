"""`worldline setup ...`: install what a collector needs on this machine into WORLDLINE_HOME, without a checkout
(a checkout's `make setup` runs the same commands through scripts/setup.d/)."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Install what collectors need into WORLDLINE_HOME (default: the checkout, or "
                       "${XDG_DATA_HOME:-~/.local/share}/worldline once installed).")


@app.callback()
def setup() -> None:
    """A group even with one command: `worldline setup mcp-servers`, with room for more to install."""


@app.command("mcp-servers")
def mcp_servers(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands that would run; install nothing."),
) -> None:
    """Install the shipped MCP servers, at their pinned versions: the PyPI ones into WORLDLINE_HOME/.venv-mcp, the
    npm ones into WORLDLINE_HOME/.mcp-servers. What is installed already is left alone. Then cache apt's answer for
    the search-packages server in WORLDLINE_HOME/.cache (apt is asked again only after apt-get update or a package
    change)."""
    from sandboxes.mcp_install import InstallError, describe, fill_apt_cache, install, missing_runtime_tools, plan
    from schemas.home import HOME_VARIABLE, worldline_home

    home = worldline_home()
    if dry_run:
        for line in describe(plan(home)):
            typer.echo(line)
        return
    try:
        steps = install(home, echo=lambda line: typer.echo(line, err=True))
    except InstallError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"MCP servers {'installed' if steps else 'already installed'} in {HOME_VARIABLE}={home}", err=True)
    cache, said = fill_apt_cache(home)
    if cache is not None:
        typer.echo(f"apt's answer for search-packages cached in {cache}", err=True)
    else:
        # Not an error: the server then asks apt at each start, 0.4-0.9 s slower.
        typer.echo(f"Note: no apt cache for search-packages (it asks apt at each start){': ' + said if said else ''}",
                   err=True)
    absent = missing_runtime_tools()
    if absent:
        # Not an error: the servers are installed; a collection would stop on these, each naming the tool.
        typer.echo(f"Note: the servers also need {', '.join(absent)} at run time "
                   f"(apt-get install -y {' '.join(absent.values())})", err=True)
