"""`worldline query DIR "SQL"`: run SQL over a curated or raw folder through ready-made duckdb views."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.commands.errors import fail

MAX_CELL = 120


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def query(folder: Path = typer.Argument(..., metavar="FOLDER", help="Curation output or raw collection folder."),
          sql: str = typer.Argument(..., metavar="SQL", help="SQL over the views: transitions, stage1, stage2, stage3, dedupe, "
                                              "dead_letter; raw_transitions and episodes for a raw folder."),
          limit: int = typer.Option(100, help="Rows to print at most.")):
    """Run SQL (duckdb) over a collection or shard folder and print the result as a table."""
    import duckdb
    from rich.console import Console
    from rich.table import Table

    from pipelines.views import open_views, unfinished_curation, view_sources

    try:
        connection, broken = open_views(folder)
        unfinished = unfinished_curation(folder)
        if unfinished:
            typer.echo(f"Warning: {unfinished}", err=True)
        for name, reason in broken.items():
            typer.echo(f"Warning: no view {name}: {reason}", err=True)
        result = connection.execute(sql)
        columns = [d[0] for d in result.description or []]
        rows = result.fetchmany(limit + 1)
    except duckdb.CatalogException as exc:
        views = [name for name in view_sources(folder) if name not in broken]
        raise fail(f"{exc}\nViews in {folder}: {', '.join(views)}") from exc
    except (FileNotFoundError, duckdb.Error) as exc:
        raise fail(str(exc)) from exc
    table = Table(*columns, show_lines=False)
    for row in rows[:limit]:
        table.add_row(*(_cell(v) for v in row))
    console = Console(width=max(120, Console().width))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(first {limit} rows shown; pass --limit for more)")
