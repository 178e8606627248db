"""`worldline score --shards DIR --predictions FILE.jsonl`: score a model's completions against stage-3 rows with the
rubric's reference scorer (transforms.rewards) and print, per domain, the mean reward and pass@n. Several completions
per id (a GRPO group, pass@k samples) are each scored."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import typer

from pipelines.commands.errors import fail

STAGE3_COLUMNS = "id, domain, reference, exact_spans, format_spans, rubric_id"


def score(shards: Path = typer.Option(..., "--shards", help="A curate output folder (or its stage3/ folder)."),
          predictions: Path = typer.Option(..., "--predictions", help='JSON lines {"id": <stage-3 id>, '
                                                                      '"completion": "..." or [messages]}; an id '
                                                                      'may repeat, one line per sample.'),
          output: Path | None = typer.Option(None, "--output", help="Write each sample's reward, whether it matched "
                                                                    "and why not, as JSON lines, to this file.")):
    """Score completions against stage-3 rows (rubric worldline/<domain>/v1) and print, per domain, the mean reward
    over samples and pass@n (the share of rows with a matching sample)."""
    glob = _stage3_glob(shards)
    _check_output(output)
    samples = _read_predictions(predictions)
    rows, stage3_rows = _stage3_rows(glob, {record for _, record, _ in samples})
    _refuse_unknown_ids(samples, rows, predictions, shards)
    _refuse_unknown_rubrics(samples, rows, predictions)
    scores = [_scored(line, record, completion, rows[record]) for line, record, completion in samples]
    if output is not None:
        _write_output(output, scores)
    # a plain line, not the table's title: rich would wrap a long path to the table's width
    typer.echo(f"scored {len(_matched(scores))} of {stage3_rows} stage-3 rows of {shards} ({len(scores)} samples "
               f"from {predictions})")
    _print_summary(scores)
    if output is None and (failed := sum(not line["matched"] for line in scores)):
        typer.echo(f"{failed} of {len(scores)} samples did not match: --output FILE writes each sample's reason.")


def _refuse_unknown_ids(samples: list, rows: dict, predictions: Path, shards: Path) -> None:
    first_lines = {}
    for line, record, _ in samples:
        first_lines.setdefault(record, line)
    if unknown := sorted((line, record) for record, line in first_lines.items() if record not in rows):
        line, record = unknown[0]
        raise fail(f"{predictions}:{line}: id {record!r} is not a stage-3 row of {shards}"
                   + (f" (nor are {len(unknown) - 1} more)" if len(unknown) > 1 else ""), 2)


def _refuse_unknown_rubrics(samples: list, rows: dict, predictions: Path) -> None:
    """Before any sample is scored: a row whose rubric this scorer does not implement is input the command cannot
    start on (exit 2, as README says), found from the ids alone."""
    from transforms.rewards import RUBRICS

    unknown: dict[str, tuple[int, str]] = {}
    for line, record, _ in samples:
        if (rubric := rows[record][-1]) not in RUBRICS:
            unknown.setdefault(rubric, (line, record))
    if unknown:
        rubric, (line, record) = next(iter(unknown.items()))
        others = f" (and {len(unknown) - 1} more unknown rubric ids)" if len(unknown) > 1 else ""
        raise fail(f"stage-3 row {record} ({predictions}:{line}): unknown rubric id {rubric!r}{others}: this scorer "
                   f"implements {', '.join(RUBRICS)} (a plugin's domain is known where the plugin that describes it "
                   "is installed)", 2)


def _check_output(output: Path | None) -> None:
    """Refuse, before reading the predictions, an --output that is a folder or in a missing one; what the file
    system refuses only shows when writing (_write_output)."""
    if output is None:
        return
    if output.is_dir():
        raise fail(f"--output {output} is a folder: name a file to write the scores to, such as "
                   f"{output / 'scores.jsonl'}", 2)
    if not output.parent.is_dir():
        raise fail(f"--output {output}: the folder {output.parent} does not exist", 2)


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


def _read_predictions(path: Path) -> list[tuple[int, str, str]]:
    """(line number, id, completion text) of each sample, in the file's order; a line that is not such an object is
    refused naming the line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise fail(f"--predictions {path}: {exc.strerror or exc}", 2) from exc
    samples = []
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
                raise fail(f"{path}:{number}: not JSON ({_json_problem(exc)})", 2) from exc
            completion = _completion(record.get("completion")) if isinstance(record, dict) else None
            if not (isinstance(record, dict) and isinstance(record.get("id"), str) and completion is not None):
                raise fail(f'{path}:{number}: expected {{"id": "<stage-3 id>", "completion": "..."}}, the completion '
                           f'a string or a list of messages ({{"role": ..., "content": "..."}}), got '
                           f"{text.strip()[:80]}", 2)
            samples.append((number, record["id"], completion))
    if not samples:
        raise fail(f"{path} holds no predictions", 2)
    return samples


def _json_problem(exc: json.JSONDecodeError) -> str:
    # json's messages for a position end in "at" ("Invalid control character at"); a raw newline inside a string
    # is how an unclosed string shows, and its column is the line's end
    if exc.msg.startswith("Invalid control character") and exc.doc[exc.pos] == "\n":
        return f"a string is not closed before the line ends at column {exc.colno}"
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


def _completion(value) -> str | None:
    """The completion's text: a string as it is, a conversational completion (a list of messages, as TRL gives it)
    read as trl_reward reads it; None for anything else."""
    from transforms.rewards import completion_text

    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(message, dict) for message in value) and (
            not value or isinstance(value[-1].get("content"), (str, list))):
        return completion_text(value)
    return None


def _stage3_rows(glob: str, ids: set[str]) -> tuple[dict[str, tuple], int]:
    """The stage-3 rows of the predictions' ids (id -> (domain, reference, exact_spans, format_spans, rubric_id)),
    and how many stage-3 rows the shards hold."""
    import duckdb
    import pyarrow as pa

    with duckdb.connect() as con:
        con.register("wanted", pa.table({"id": pa.array(sorted(ids), pa.string())}))
        try:
            found = con.execute(f"SELECT {STAGE3_COLUMNS} FROM read_parquet(?, union_by_name = true) "
                                "JOIN wanted USING (id)", [glob]).fetchall()
            (total,), = con.execute("SELECT count(*) FROM read_parquet(?, union_by_name = true)", [glob]).fetchall()
        except duckdb.Error as exc:
            raise fail(f"cannot read {glob}: {str(exc).splitlines()[0]}") from exc
    return {record: row for record, *row in found}, total


def _scored(line: int, record: str, completion: str, row: tuple) -> dict:
    from transforms.rewards import extract_prediction, score

    domain, *stage3 = row
    try:
        result = score(extract_prediction(completion, stage3[0]), *stage3)
    except ValueError as exc:
        raise fail(f"stage-3 row {record}: {exc}") from exc
    return {"line": line, "id": record, "domain": domain, "rubric_id": stage3[-1], "reward": result.reward,
            "matched": result.matched, "reason": result.reason}


def _print_summary(scores: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    by_domain = defaultdict(list)
    for line in scores:
        by_domain[line["domain"]].append(line)
    table = Table("domain", "rows", "samples", "mean reward", "pass@n")
    for domain, lines in [*sorted(by_domain.items()), ("all", scores)]:
        matched = _matched(lines)
        table.add_row(domain, str(len(matched)), str(len(lines)),
                      f"{sum(line['reward'] for line in lines) / len(lines):.3f}",
                      f"{sum(matched.values()) / len(matched):.3f}")
    Console().print(table)


def _matched(scores: list[dict]) -> dict[str, bool]:
    """id -> whether any of its samples matched (pass@n, n being that row's samples)."""
    matched = {}
    for line in scores:
        matched[line["id"]] = matched.get(line["id"], False) or line["matched"]
    return matched


def _write_output(output: Path, scores: list[dict]) -> None:
    try:
        _write_atomically(output, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in scores))
    except OSError as exc:
        raise fail(f"--output {output}: cannot write a file in {output.parent} ({exc.strerror or exc}): name a "
                   "file in a folder you can write to", 2) from exc


def _write_atomically(path: Path, text: str) -> None:
    """path holds the whole text or, if writing stops, what it held before."""
    from schemas.files import atomic_open

    # No fsync: the scores are made again by running the same command.
    with atomic_open(path, "w", fsync=False, encoding="utf-8") as handle:
        handle.write(text)
