"""`worldline query DIR "SQL"`: run SQL over a curated or raw folder through ready-made duckdb views."""

from __future__ import annotations

import csv
import json
import re
import signal
import sys
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path

import typer

from pipelines.commands.errors import fail

MAX_CELL = 120
# C0 controls but newline and tab (which a table cell lays out), DEL and C1 controls, written out: a collected page or
# tool output may hold an escape sequence that would recolour the operator's terminal, retitle it, or (OSC 52) write
# its clipboard. Rich's own escape_control_codes covers only BEL, BS, VT, FF and CR, and passes ESC and NUL through.
_CONTROL_SHOWN = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"}


class Format(str, Enum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


def _cell(value):
    """A value as a table cell: controls shown as `\\x1b`, cut at MAX_CELL characters, and plain text (a `[bold]`
    or `[/x]` in a value is text, not Rich markup)."""
    from rich.text import Text

    text = ("" if value is None else str(value)).translate(_CONTROL_SHOWN)
    return Text(text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…")


def _plain(value):
    """A value duckdb returned that JSON has no type for, as text: raw bytes decoded (an undecodable byte as \\xNN),
    times in ISO 8601, decimals and UUIDs as written."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def _csv_field(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, dict)):  # a list or struct column, as JSON so it can be parsed back
        return json.dumps(value, default=_plain, ensure_ascii=False)
    return _plain(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for name in columns:
        table.add_column(Text(name.translate(_CONTROL_SHOWN)))
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console(width=max(120, Console().width)).print(table)


def _print_csv(columns: list[str], rows: list[tuple]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    # The writer quotes a field holding the line terminator, not one holding a lone CR, which a reader then takes
    # for the end of the line: a row with a CR is written all quoted (it reads back the same).
    quoted = csv.writer(sys.stdout, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    for row in rows:
        fields = [_csv_field(v) for v in row]
        (quoted if any(isinstance(f, str) and "\r" in f for f in fields) else writer).writerow(fields)


def _print_jsonl(columns: list[str], rows: list[tuple]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(dict(zip(columns, row)), default=_plain, ensure_ascii=False) + "\n")


# Columns a curate output gained after its first release, and the tables that carry each (task_group: transitions
# first, the stage tables since session 24; state_meta_json since session 28).
ADDED_COLUMNS = {"task_group": ("transitions", "stage1", "stage2", "stage3"), "state_meta_json": ("transitions",)}
_MISSING_COLUMN = re.compile(r'column "([^"]+)" not found')

PRINTERS = {Format.table: _print_table, Format.csv: _print_csv, Format.jsonl: _print_jsonl}


def _missing_column_hint(folder: Path, exc: Exception) -> str:
    """A line on what to do when a query of a curate output names a column it predates (ADDED_COLUMNS): the docs'
    recipes read them."""
    import pyarrow.parquet as pq

    from schemas.layout import is_curation_output

    missing = _MISSING_COLUMN.search(str(exc))
    column = missing[1] if missing else None
    if column not in ADDED_COLUMNS or not is_curation_output(folder):
        return ""
    # dedupe and dead_letter never have one: only a table that carries the column today, curated before it, earns
    # the hint.
    older = []
    for table in ADDED_COLUMNS[column]:
        shard = next((path for path in sorted((folder / table).glob("*.parquet")) if not path.name.startswith(".")),
                     None)
        if shard is not None and column not in pq.read_schema(shard).names:
            older.append(table)
    if not older:
        return ""
    return (f"\nHint: {folder} was curated before its {', '.join(older)} table{'s' if len(older) > 1 else ''} had a "
            f"{column} column: curate its raw collection again (worldline curate --input RAW --output NEW) to get it.")


def query(folder: Path = typer.Argument(..., metavar="FOLDER", help="Curation output or raw collection folder."),
          sql: str = typer.Argument(..., metavar="SQL", help="SQL over the views: transitions, stage1, stage2, stage3, dedupe, "
                                              "dead_letter; raw_transitions and episodes for a raw folder."),
          limit: int = typer.Option(100, help="Rows to print at most."),
          output_format: Format = typer.Option(
              Format.table, "--format",
              help=f"table: cells longer than {MAX_CELL} characters are cut short; csv (a header line, then one "
                   "line a row) or jsonl (one JSON object a row): whole values, for a file or another program.")):
    """Run SQL (duckdb) over a collection or shard folder and print the result as a table, CSV or JSON lines."""
    import duckdb

    from pipelines.views import open_views, reading, unfinished_curation, view_sources
    from schemas.interrupts import interrupt_on_sigterm, interrupted_exit_code, signal_name

    interrupt_on_sigterm()
    try:
        with reading(folder):
            connection, broken = open_views(folder)
            unfinished = unfinished_curation(folder)
            if unfinished:
                typer.echo(f"Warning: {unfinished}", err=True)
            for name, reason in broken.items():
                typer.echo(f"Warning: no view {name}: {reason}", err=True)
            result = connection.execute(sql)
            columns = [d[0] for d in result.description or []]
            rows = result.fetchmany(limit + 1)
    except KeyboardInterrupt as exc:  # mostly while waiting for a pack of the collection to end
        typer.echo(f"{signal_name(getattr(exc, 'signum', signal.SIGINT))}: the query stopped.", err=True)
        raise typer.Exit(interrupted_exit_code(exc)) from None
    except duckdb.CatalogException as exc:
        views = [name for name in view_sources(folder) if name not in broken]
        raise fail(f"{exc}\nViews in {folder}: {', '.join(views)}") from exc
    except FileNotFoundError as exc:  # a refusal before any work, as collect's and curate's exit 2
        raise fail(str(exc), 2) from exc
    except duckdb.Error as exc:
        raise fail(str(exc) + _missing_column_hint(folder, exc)) from exc
    PRINTERS[output_format](columns, rows[:limit])
    if len(rows) > limit:  # on stderr: stdout holds only the rows, for a file or a pipe
        typer.echo(f"(first {limit} rows shown; pass --limit for more)", err=True)
