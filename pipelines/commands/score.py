"""`worldline score --shards DIR --predictions FILE.jsonl`: score a model's completions against stage-3 rows with the
rubric's reference scorer (transforms.rewards) and print the mean reward per domain."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import typer

from pipelines.commands.errors import fail

STAGE3_COLUMNS = "id, domain, reference, exact_spans, format_spans, rubric_id"


def score(shards: Path = typer.Option(..., "--shards", help="A curate output folder (or its stage3/ folder)."),
          predictions: Path = typer.Option(..., "--predictions", help='JSON lines {"id": <stage-3 id>, '
                                                                      '"completion": "..."}, one per row scored.'),
          output: Path | None = typer.Option(None, "--output", help="Write each row's reward, whether it matched "
                                                                    "and why not, as JSON lines, to this file.")):
    """Score completions against stage-3 rows (rubric worldline/<domain>/v1) and print the mean reward per domain."""
    glob = _stage3_glob(shards)
    if output is not None and not output.parent.is_dir():
        raise fail(f"--output {output}: the folder {output.parent} does not exist", 2)
    completions = _read_predictions(predictions)
    rows = _stage3_rows(glob, completions)
    unknown = [(line, record) for record, (line, _) in completions.items() if record not in rows]
    if unknown:
        line, record = min(unknown)
        raise fail(f"{predictions}:{line}: id {record!r} is not a stage-3 row of {shards}"
                   + (f" (nor are {len(unknown) - 1} more)" if len(unknown) > 1 else ""), 2)
    scores = [_scored(record, completion, rows[record]) for record, (_, completion) in completions.items()]
    _print_summary(scores, f"{predictions} against {shards}")
    if output is not None:
        _write_atomically(output, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in scores))


def _stage3_glob(shards: Path) -> str:
    from pipelines.views import unfinished_curation

    if not shards.is_dir():
        raise fail(f"--shards {shards} {'is a file, not a folder' if shards.exists() else 'does not exist'}", 2)
    root = shards.parent if shards.name == "stage3" and not (shards / "stage3").is_dir() else shards
    if not any(path for path in (root / "stage3").glob("*.parquet") if not path.name.startswith(".")):
        raise fail(f"--shards {shards} has no stage-3 shards ({root / 'stage3'}/*.parquet): pass the folder "
                   "`worldline curate --output` wrote", 2)
    if unfinished := unfinished_curation(root):
        typer.echo(f"Warning: {unfinished}", err=True)
    return str(root / "stage3" / "*.parquet")


def _read_predictions(path: Path) -> dict[str, tuple[int, str]]:
    """id -> (line number, completion), in the file's order; a line that is not such an object, or repeats an id,
    is refused naming the line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise fail(f"--predictions {path}: {exc.strerror or exc}", 2) from exc
    completions: dict[str, tuple[int, str]] = {}
    with handle:
        for number, line in enumerate(handle, 1):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise fail(f"{path}:{number}: not UTF-8 text ({exc.reason} at column {exc.start + 1})", 2) from exc
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise fail(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})", 2) from exc
            if not (isinstance(record, dict) and isinstance(record.get("id"), str)
                    and isinstance(record.get("completion"), str)):
                raise fail(f'{path}:{number}: expected {{"id": "<stage-3 id>", "completion": "..."}} with string '
                           f"values, got {text.strip()[:80]}", 2)
            if record["id"] in completions:
                raise fail(f"{path}:{number}: id {record['id']!r} again (first on line "
                           f"{completions[record['id']][0]})", 2)
            completions[record["id"]] = number, record["completion"]
    if not completions:
        raise fail(f"{path} holds no predictions", 2)
    return completions


def _stage3_rows(glob: str, completions: dict) -> dict[str, tuple]:
    """The stage-3 rows of the predictions' ids: id -> (domain, reference, exact_spans, format_spans, rubric_id)."""
    import duckdb
    import pyarrow as pa

    with duckdb.connect() as con:
        con.register("wanted", pa.table({"id": pa.array(list(completions), pa.string())}))
        try:
            found = con.execute(f"SELECT {STAGE3_COLUMNS} FROM read_parquet(?, union_by_name = true) "
                                "JOIN wanted USING (id)", [glob]).fetchall()
        except duckdb.Error as exc:
            raise fail(f"cannot read {glob}: {str(exc).splitlines()[0]}") from exc
    return {record: row for record, *row in found}


def _scored(record: str, completion: str, row: tuple) -> dict:
    from transforms.rewards import extract_prediction, score

    domain, *stage3 = row
    try:
        result = score(extract_prediction(completion), *stage3)
    except ValueError as exc:
        raise fail(f"stage-3 row {record}: {exc}") from exc
    return {"id": record, "domain": domain, "rubric_id": stage3[-1], "reward": result.reward,
            "matched": result.matched, "reason": result.reason}


def _print_summary(scores: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    by_domain = defaultdict(list)
    for line in scores:
        by_domain[line["domain"]].append(line)
    table = Table("domain", "rows", "matched", "mean reward", title=f"scored {title}")
    for domain, lines in [*sorted(by_domain.items()), ("all", scores)]:
        table.add_row(domain, str(len(lines)), str(sum(line["matched"] for line in lines)),
                      f"{sum(line['reward'] for line in lines) / len(lines):.3f}")
    Console().print(table)


def _write_atomically(path: Path, text: str) -> None:
    """path holds the whole text or, if writing stops, what it held before."""
    from schemas.files import temp_file

    descriptor, temporary = temp_file(path.parent, path.name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
