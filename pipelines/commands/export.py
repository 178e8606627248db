"""`worldline export`: curated transitions -> AgentWorldBench JSONL or ATIF trajectories.

Reads the `transitions/` Parquet folder of a curate output one episode at a time (duckdb sorts by episode and
streams record batches), so memory holds one episode, not the dataset. The export is written into a folder beside
--out and renamed onto it when complete: --out holds one whole export, never a mix of two runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from pipelines.commands.errors import fail
from schemas.interrupts import interrupt_on_sigterm, interrupted_exit_code, note_interrupts, signal_name
from pipelines.staging import NO_EXCHANGE, exchange, owned_folder, remove_stale
from schemas.files import atomic_open

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Export curated transitions to AgentWorldBench JSONL or ATIF v1.4 trajectories.")

InputOption = Annotated[Path, typer.Option("--input", help="A curate output folder (or its transitions/ folder).")]
OutOption = Annotated[Path, typer.Option("--out", "--output", help="Folder to write the export into: new or empty, "
                                                                  "or an earlier export with --overwrite (--output "
                                                                  "too, as curate names it).")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace the earlier export in --out, once the new "
                                                                   "one is complete.")]
BATCH_ROWS = 2048


# Columns only a curate output's transitions have: a raw collection's rows carry the action and observations as
# structs and bytes, which the exports would have read as empty.
CURATED_COLUMNS = ("domain", "episode_id", "step", "action_text", "next_text")


def _curate_output(input_dir: Path) -> Path:
    """The curate output folder `--input` names: the folder itself, or the one above when given its transitions/."""
    if not input_dir.is_dir():
        what = "is a file, not a folder" if input_dir.exists() else "does not exist"
        raise typer.BadParameter(f"{input_dir} {what}", param_hint="--input")
    if input_dir.name == "transitions" and not (input_dir / "transitions").is_dir():
        return input_dir.parent
    return input_dir


def _parquet_glob(input_dir: Path) -> str:
    """The glob of the curated transitions shards, OUT/transitions/*.parquet, once checked to be one: never a
    recursive glob, which took in a killed run's half-written .work/ parts and a raw collection's episodes."""
    import duckdb

    from pipelines.views import unfinished_curation
    from schemas.layout import is_curation_output, raw_layout

    root = _curate_output(input_dir)
    folder = root / "transitions"
    wanted = ("pass the folder `worldline curate --output` wrote (the curate output folder, which holds "
              "transitions/*.parquet, stage1/ ... and stats.json)")
    if raw_layout(root):
        raise typer.BadParameter(
            f"{root} is a raw collection (transitions/DOMAIN/*.parquet, episodes/), not a curate output: "
            f"curate it first (`worldline curate --input {root} --output OUT`) and pass OUT, the curate output "
            "folder", param_hint="--input")
    if not any(p for p in folder.glob("*.parquet") if not p.name.startswith(".")):
        if is_curation_output(root) and not (root / "stats.json").exists():
            raise typer.BadParameter(
                f"{root} has no curated transitions ({folder}/*.parquet): the curation run that wrote it did not "
                "finish; curate again with --overwrite, then pass that folder", param_hint="--input")
        raise typer.BadParameter(f"{root} has no curated transitions ({folder}/*.parquet): {wanted}",
                                 param_hint="--input")
    glob = str(folder / "*.parquet")
    try:
        with duckdb.connect() as con:
            columns = {row[0] for row in con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [glob]).fetchall()}
    except duckdb.Error as exc:
        raise typer.BadParameter(f"cannot read {glob}: {str(exc).splitlines()[0]}", param_hint="--input") from exc
    missing = [name for name in CURATED_COLUMNS if name not in columns]
    if missing:
        raise typer.BadParameter(f"{folder} does not hold curated transitions (no {', '.join(missing)} column): "
                                 f"{wanted}", param_hint="--input")
    unfinished = unfinished_curation(root)
    if unfinished:
        typer.echo(f"Warning: {unfinished}", err=True)
    return glob


def _stage2_glob(input_dir: Path) -> str | None:
    folder = _curate_output(input_dir) / "stage2"
    return str(folder / "*.parquet") if any(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) \
        else None


def episodes(input_dir: Path, with_traces: bool = False, with_system: bool = False) -> Iterator[list[dict]]:
    """Curated transitions grouped by episode, in (domain, episode_id) order, each episode's rows by step.

    with_traces adds `trace`: the reasoning of the transition's stage-2 target, when the curate output has one.
    with_system adds `system`: the system message of the transition's stage-2 chat, when it has one."""
    import duckdb

    query, params = "SELECT t.* FROM read_parquet(?, union_by_name = true) t", [_parquet_glob(input_dir)]
    stage2 = _stage2_glob(input_dir) if with_traces or with_system else None
    if stage2:
        added, selected = [], ["id"]
        if with_traces:
            # Lazy match: the trace is ours (think tags removed), the observation after it may contain anything.
            trace = r"regexp_extract(s.target, '^<think>([\s\S]*?)</think>\n<predicted_observation>', 1)"
            added.append(f"NULLIF({trace}, '') AS trace")
            selected.append("target")
        if with_system:
            added.append("s.system")
            selected.append("CASE WHEN messages[1].role = 'system' THEN messages[1].content END AS system")
        query = (f"SELECT t.*, {', '.join(added)} FROM read_parquet(?, union_by_name = true) t LEFT JOIN "
                 f"(SELECT {', '.join(selected)} FROM read_parquet(?, union_by_name = true)) s ON s.id = t.id")
        params.append(stage2)
    con = duckdb.connect()
    try:
        # duckdb sorts out of core when the data outgrows memory; the reader then hands over batches.
        reader = con.sql(query + " ORDER BY t.domain, t.episode_id, t.step", params=params).to_arrow_reader(BATCH_ROWS)
        episode: list[dict] = []
        for batch in reader:
            for row in batch.to_pylist():
                if episode and (row["episode_id"], row["domain"]) != (episode[0]["episode_id"], episode[0]["domain"]):
                    yield episode
                    episode = []
                episode.append(row)
        if episode:
            yield episode
    except (duckdb.Error, OSError) as exc:  # a shard that broke after the check (pyarrow raises OSError subclasses)
        raise fail(f"cannot read {input_dir}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()


def atomic_text(path: Path) -> AbstractContextManager[TextIO]:
    """A text file that appears under its name only once closed without error; its folder is made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # No fsync: an export is made again from its curate output by running the same command.
    return atomic_open(path, "w", fsync=False, encoding="utf-8")


def _safe_name(name: str) -> str:
    """A file name for an id. An id that had to be changed gets a hash of the original, so two ids that differ only
    in the replaced characters ("a/b", "a:b", "a_b") never write the same file."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if safe == name and name not in ("", ".", ".."):
        return name
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def _is_awb_file(entry: Path) -> bool:
    return entry.is_file() and entry.name.endswith("_test.jsonl")


def _is_atif_folder(entry: Path) -> bool:
    return entry.is_dir() and all(item.is_file() and item.suffix == ".json" for item in entry.iterdir())


@contextmanager
def export_folder(out: Path, overwrite: bool, kind: str, is_ours) -> Iterator[Path]:
    """The folder to write the export into, published as `out` when the block ends without error. A second export
    into the same folder used to add its files to the first one's, leaving stale ones beside them; now a non-empty
    `out` is refused, or with `overwrite` replaced whole, once the new export is complete. `overwrite` replaces only
    what an export of this kind writes (`is_ours` for each entry): anything else in `out` is named and left alone."""
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a folder", 2)
    held = sorted(out.iterdir()) if out.is_dir() else []
    # Checked first: suggesting --overwrite for a folder it would then refuse (the shards folder) sent users round.
    foreign = [entry for entry in held if not is_ours(entry)]
    if foreign:
        raise fail(f"--out {out} holds {_names(foreign)}, which an {kind} export does not write: choose a new or "
                   "empty folder (--overwrite replaces an earlier export only)", 2)
    if held and not overwrite:
        raise fail(f"--out {out} already holds an earlier {kind} export ({_names(held)}): pass --overwrite to "
                   "replace it with this export, or choose a new or empty folder", 2)
    _remove_stale(out)
    # Beside `out`, so both renames stay on one file system; made by the first file written (atomic_text).
    staging = owned_folder(out, "export")
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    note_interrupts(published_note(out))
    staging.mkdir(parents=True, exist_ok=True)  # an export of no episodes still replaces the earlier one
    _replace_folder(staging, out)


def published_note(out: Path) -> str:
    """What a signal gets from the publish on: the command finishes (exit 0) rather than stop."""
    return f"this export is published whole in {out}; finishing"


def _remove_stale(out: Path) -> None:
    """Remove the folders exports into `out` left when killed: a staging folder, or the earlier export renamed aside
    where the file system cannot exchange folders (kept while `out` is missing: it is then the only copy)."""
    for folder, pid in remove_stale(out, ["export", "replaced"], keep_while_out_missing=["replaced"]):
        typer.echo(f"removed {folder}, left by an export (pid {pid}) that was killed", err=True)


def _names(entries: list[Path]) -> str:
    shown = ", ".join(entry.name + ("/" if entry.is_dir() else "") for entry in entries[:5])
    return shown + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")


@contextmanager
def interrupts_reported(out: Path) -> Iterator[None]:
    """Ctrl-C or SIGTERM: export_folder has removed the unfinished export; say what --out holds and exit 130 or 143
    as curate does. SIGTERM used to end the process at once, leaving the hidden staging folder beside --out."""
    interrupt_on_sigterm()
    try:
        yield
    except KeyboardInterrupt as exc:
        # Never after the publish: from there on a signal only gets a note (export_folder).
        what = signal_name(getattr(exc, "signum", signal.SIGINT))
        typer.echo(f"{what}: the export stopped; its unfinished files are removed and {out} is as it was: run the same "
                   "command again.", err=True)
        raise typer.Exit(interrupted_exit_code(exc)) from None


def _replace_folder(new: Path, out: Path) -> None:
    """Put `new` in the place of `out` whole: the two folders are exchanged in one rename(2) and the earlier export,
    now in `new`, removed. Where the file system cannot exchange them, the earlier one is renamed aside first
    (rename(2) replaces a folder only when it is empty): `out` is then missing for an instant, never a mix."""
    if not out.is_dir() or not any(out.iterdir()):
        os.replace(new, out)
        return
    try:
        exchange(new, out)
        shutil.rmtree(new)
        return
    except OSError as exc:
        if exc.errno not in NO_EXCHANGE:
            raise
    old = owned_folder(out, "replaced")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old)


@app.command()
def agentworldbench(input: InputOption, out: OutOption, overwrite: OverwriteOption = False) -> None:
    """One {domain}_test.jsonl per domain, one line per evaluated turn."""
    from transforms.exports.agentworldbench import episode_lines, file_name, own_system

    counts, todays = {}, Counter()
    with interrupts_reported(out), export_folder(out, overwrite, "agentworldbench", _is_awb_file) as folder:
        # Episodes arrive sorted by domain, so each domain's file is written whole before the next is opened.
        for domain, domain_episodes in itertools.groupby(episodes(input, with_system=True),
                                                         key=lambda rows: rows[0]["domain"]):
            name = file_name(_safe_name(domain))
            counts[name] = 0
            with atomic_text(folder / name) as handle:
                for number, rows in enumerate(domain_episodes):
                    if own_system(rows) is None:
                        todays[domain] += 1
                    for line in episode_lines(rows, trajectory_id=number):
                        # ASCII escapes: the eval opens the file in the platform's default encoding, and a raw
                        # U+2028 or U+0085 in a line would split it for readers that use str.splitlines.
                        handle.write(json.dumps(line) + "\n")
                        counts[name] += 1
    for name, count in counts.items():
        typer.echo(f"{out / name}: {count} lines")
    if todays:
        per_domain = ", ".join(f"{domain} {n}" for domain, n in sorted(todays.items()))
        total = sum(todays.values())
        typer.echo(f"Note: {input} has no stage-2 system message for {total} episode{'s' if total != 1 else ''} "
                   f"({per_domain}): their system_str is this worldline's prompt, which may not be the one they were "
                   "curated with.")


@app.command()
def atif(input: InputOption, out: OutOption, overwrite: OverwriteOption = False) -> None:
    """One ATIF v1.4 trajectory JSON per episode, under OUT/{domain}/{episode_id}.json; stage-2 reasoning from
    stage2/ goes to each agent step's extra.world_model_reasoning."""
    from transforms.exports.atif import episode_trajectory, trajectory_json

    written = 0
    with interrupts_reported(out), export_folder(out, overwrite, "atif", _is_atif_folder) as folder:
        for rows in episodes(input, with_traces=True):
            trajectory = episode_trajectory(rows)
            name = folder / _safe_name(rows[0]["domain"]) / f"{_safe_name(rows[0]['episode_id'])}.json"
            with atomic_text(name) as f:
                # ASCII escapes: Harbor's validator opens the file in the platform's default encoding.
                json.dump(trajectory_json(trajectory), f, indent=2)
                f.write("\n")
            written += 1
    typer.echo(f"{out}: {written} trajectories")
