"""Read one raw file and check its rows against the transition schema; a bad part becomes a dead letter.

A Parquet file whose Arrow schema is the transition schema is checked a column at a time (Arrow compute): its types
are already guaranteed, so only the value rules are left (missing required fields, schema version, step, domain,
action kind, JSON fields, timing order), and only the columns those rules and curation read are read. A row those
column checks flag is read again whole and goes through the row validator, which names every wrong field; anything
else (JSONL, other schemas) is read whole and checked row by row.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.layout import EPISODES_DIR, TRANSITIONS_DIR, episode_path
from schemas.transition import (ADDED_IN_1_1, TRANSITION_SCHEMA, TRANSITION_SCHEMA_1_0, TRANSITION_SCHEMA_1_1,
                                is_transition_schema, with_current_columns)
from schemas.validate import (DOMAIN_PATTERN, JSON_FIELDS, REQUIRED_TRANSITION_FIELDS, SUPPORTED_SCHEMA_VERSIONS,
                              json_error, record_id, transition_errors)
from transforms import stats
from transforms.io import (ReadError, SourcedRow, dead_letter, episode_ids, is_episode_record, parquet_row_groups,
                           read_bytes, read_parquet_row_group, read_raw_file)

DEAD_LETTER = "dead_letter"
RECORDED_AT = "recorded_at_s"  # the key curation_rows adds: see recorded_at
# What curation reads of a valid row: no timings (turning timestamps into datetimes costs more than the rest). Of a
# transition-schema file's provenance, only the fields CHECKED_COLUMNS names are read.
# schema_version: curation counts the rows of each version, and those older than task.group (transforms.prepare).
CURATION_COLUMNS = ("episode_id", "step", "domain", "task", "state", "action", "next_observation", "done", "error",
                    "perturbations", "provenance", "replay_observations", "schema_version")
# What is read of a transition-schema file: the curation columns and the rest of what flagged_rows checks, in the
# schema's order. Not the other timings, env fields, truncated or reference_observation, nor the provenance fields
# that neither curation (transforms.prepare.curated_row) nor a value rule reads: decoding them cost an episode file
# ~15% of its read, and the four provenance ones ~10% of the rest (26 leaf columns read of 40).
CHECKED_COLUMNS = ("schema_version", "episode_id", "step", "domain", "env.details_json", "task", "state", "action",
                   "next_observation", "timings.action_start", "timings.action_end", "done", "error",
                   "perturbations", "provenance.collector", "provenance.stand_in", "provenance.extra_json",
                   "replay_observations")


class Rejected(NamedTuple):
    """A part of a raw file that cannot be curated, with the dead-letter record that explains why."""
    letter: dict


def read_valid_chunks(path: str, count: bool = True) -> Iterator[list[SourcedRow | Rejected]]:
    """One raw file -> its rows in chunks of whole episodes (a Parquet row group; a JSONL file is one chunk): for
    every row (source, position, row) if valid, Rejected if not, and Rejected for every unreadable part. `count`
    adds them to the run's counters. An episode record (transforms.io.raw_files gives those whose transitions no
    file holds) is one chunk of its dead letter."""
    if is_episode_record(path):
        yield list(_record_without_rows(path, count))
        return
    if not path.endswith(".parquet"):
        yield list(_checked_rows(read_raw_file(path), count))
        return
    offset, in_file = 0, _FileCounts(path)
    for group, table in enumerate(parquet_row_groups(path, _columns_to_read)):
        if isinstance(table, ReadError):
            yield list(_rejected_unreadable(table, count))
            offset += len(table.letters)
            continue
        if table.schema.equals(CHECKED_SCHEMA_1_0) or table.schema.equals(CHECKED_SCHEMA_1_1):
            table = with_current_columns(table)
        try:
            if has_checked_columns(table.schema):
                items = _checked_table(path, group, table, offset, count)
            else:
                items = list(_checked_rows(((path, offset + i, row) for i, row in enumerate(table.to_pylist())),
                                           count))
        except UnicodeDecodeError:
            # Arrow does not check a string column's UTF-8 when it reads a file, only when a value is converted: one
            # bad string failed the run. Both branches convert every row before counting any.
            items = _checked_one_by_one(path, group, table, offset, count)
        yield _short_episodes_rejected(path, group, table, items, count, in_file)
        offset += table.num_rows



def _record_without_rows(record: str, count: bool) -> Iterator[Rejected]:
    """The dead letter of an episode whose record promises transitions that no file holds (a record of 0 steps
    promises none), holding the record as read."""
    try:
        text = read_bytes(record).decode("utf-8", "replace")
        steps = json.loads(text).get("steps")
    except OSError:  # removed or unreadable since it was listed: the letter still names it
        text, steps = "", None
    except (ValueError, AttributeError):  # not a JSON object: collect records such an episode again too
        steps = None
    if steps == 0:
        return
    if count:
        stats.count_total(stats.RECORDS_WITHOUT_ROWS)
    episode_id = record.rpartition("/")[2].removesuffix(".json")
    root, _, inside = record.rpartition(f"/{EPISODES_DIR}/")
    domain = inside.partition("/")[0]
    promised = f"{steps} steps" if isinstance(steps, int) else "its steps"
    yield Rejected(dead_letter(episode_id, record, "missing", (
        f"episode {episode_id}: its record {record} says {promised}, but its transitions are missing: "
        f"{root}/{TRANSITIONS_DIR}/{domain}/{episode_id}.parquet does not exist, no readable pack in that folder "
        f"names the episode and no row read holds it; collecting into {root} again records it anew"), text))


class _FileCounts:
    """Rows per episode id in a whole Parquet file, counted on first use: one more read of its episode_id column
    (a short, dictionary-encoded column; a row group's ids at a time, so memory holds one count per episode).
    Collectors and pack keep an episode in one row group, where its rows match its record and this is never read;
    another tool (DuckDB, Spark, pyarrow) cuts row groups by size, across episodes."""

    def __init__(self, path: str):
        self.path, self.counts = path, None

    def __getitem__(self, episode_id) -> int:
        if self.counts is None:
            self.counts = Counter(episode_ids(self.path))  # an unreadable row group's rows are not read
        return self.counts[episode_id]


def _short_episodes_rejected(path: str, group: int, table: pa.Table, items: list, count: bool,
                             in_file: _FileCounts) -> list:
    """`items` of one row group, with every row of an episode whose record (episodes/DOMAIN/ID.json) gives another
    number of steps than the file holds turned into a dead letter: a file cut short that still reads (rows lost
    in a copy, a row group dropped) was curated without a word. An episode whose rows in this group match its
    record is whole here (collectors and pack write them so); only another's are counted over the whole file
    (`in_file`). Local collections only: on a bucket each record would be a request of its own."""
    wrong = _step_count_mismatches(path, table, in_file)
    if not wrong:
        return items
    whole = _whole_group(path, group, table)  # a dead letter holds the whole record
    for index, item in enumerate(items):
        if isinstance(item, Rejected):
            continue
        source, position, row = item
        reason = wrong.get(row["episode_id"])
        if reason is not None:
            if count:
                stats.count(stats.DEAD, stats.domain_of(row, source), "validate")
            items[index] = Rejected(dead_letter(record_id(row), source, "validate", reason,
                                                whole.slice(index, 1).to_pylist()[0]))
    return items


def _step_count_mismatches(path: str, table: pa.Table, in_file: _FileCounts) -> dict[str, str]:
    """episode id -> why, for the episodes of a row group of a local collection's Parquet file whose record gives
    another number of steps than the group's rows and than the whole file's (`in_file`). The record is the one
    beside the file's domain folder (episodes/DOMAIN/ID.json), as the collector wrote both: a row's own domain may
    be the invalid value that dead-letters it. An episode without a readable record is left alone: a collect killed
    before writing it, or a file dropped in by hand. So is one whose own file is a new recording, its record not yet
    written (see _recorded_again)."""
    marker = f"/{TRANSITIONS_DIR}/"
    if "://" in path or marker not in path or "episode_id" not in table.column_names:
        return {}
    root, _, inside = path.rpartition(marker)
    domain, _, name = inside.partition("/")
    if not name:  # a file right under transitions/, not in a domain folder: no collector wrote it
        return {}
    wrong = {}
    for episode_id, read in Counter(table.column("episode_id").to_pylist()).items():
        # An id that is no file name (an invalid row's) has no record: never a path to read elsewhere.
        record = episode_path(root, domain, episode_id) if isinstance(episode_id, str) and "/" not in episode_id \
            and episode_id not in ("", ".", "..") else None
        fields = _record_fields(record) if record is not None else {}
        steps = fields.get("steps")
        if not isinstance(steps, int) or steps == read:
            continue
        read = in_file[episode_id]  # its other rows may be in other row groups of the file
        if steps == read:
            continue
        mismatch = f"episode {episode_id}: its record {record} says {steps} steps, but {path} holds {read} of its " \
                   "transitions"
        if name != f"{episode_id}.parquet" or not _written_after(path, record):
            cause = "the file lost rows, in a copy or on disk" if read < steps else \
                "the file or the record was changed after collect wrote them"
            # Collect takes a packed episode as whole (it reads no pack's rows): only without its record is the
            # episode recorded again.
            redo = "collecting into that folder again records the episode anew" if name == f"{episode_id}.parquet" \
                else f"remove {record} and collect into that folder again to record the episode anew"
            wrong[episode_id] = f"{mismatch} ({cause}): {redo}"
        elif fields.get("outcome") != "error" and read < steps:
            wrong[episode_id] = f"{mismatch}{_recorded_again(root)}"
    return wrong


def _recorded_again(root: str) -> str:
    """Why an episode file written after its record, holding fewer steps than the record says, is dead-lettered.
    Collect records an episode again when its record ended in an error or its files are damaged, writing the new
    file first and the record last: between the two (a collect running, or stopped there) the file is a whole new
    recording. After an error, or with more steps than the record says, that is all it can be, and its rows are
    curated as a new episode's are (only this check reads the record). A damaged episode's new file with fewer
    steps cannot be told from one that lost rows and got a new time doing so (a copy that did not keep file times,
    a rewrite), so it is dead-lettered, with both causes."""
    return (", and was written after the record: a collect recording the episode again (as it does a damaged one) "
            "is running or was stopped before writing the new record, or the file lost rows since (a copy that did "
            f"not keep file times, a rewrite); run collect into {root} again to finish it, then curate")


def _written_after(path: str, record: Path) -> bool:
    try:
        return os.stat(path).st_mtime_ns > record.stat().st_mtime_ns
    except OSError:
        return False


def _record_fields(record: Path) -> dict:
    """An episode record's fields; {} if it cannot be read as a JSON object."""
    try:
        fields = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return fields if isinstance(fields, dict) else {}


def _projected(schema: pa.Schema, columns: tuple[str, ...]) -> pa.Schema:
    """The schema of a table read with these columns (whole top-level ones, or dotted struct fields)."""
    fields: dict[str, list[str] | None] = {}
    for column in columns:
        head, _, child = column.partition(".")
        fields[head] = fields.get(head, []) + [child] if child else None
    projected = []
    for name, children in fields.items():
        field = schema.field(name)
        projected.append(field if children is None else
                         field.with_type(pa.struct([field.type.field(child) for child in children])))
    return pa.schema(projected)


CHECKED_SCHEMA = _projected(TRANSITION_SCHEMA, CHECKED_COLUMNS)
# A 1.0 file has no replay_observations: the same columns without it (read_valid_chunks adds it as nulls).
CHECKED_COLUMNS_1_0 = CHECKED_COLUMNS[:-1]
CHECKED_SCHEMA_1_0 = _projected(TRANSITION_SCHEMA_1_0, CHECKED_COLUMNS_1_0)
# A 1.1 file's task has no group (read_valid_chunks adds it as null).
CHECKED_SCHEMA_1_1 = _projected(TRANSITION_SCHEMA_1_1, CHECKED_COLUMNS)


def has_checked_columns(schema: pa.Schema) -> bool:
    """A table read from a transition-schema file with CHECKED_COLUMNS (see _columns_to_read). Schema.equals (in C++,
    ~0.2 us) settles the tables read from files the collectors wrote; names and types (~15-90 us: a Python object per
    type) the others, such as those of a file whose required fields were written nullable."""
    return schema.equals(CHECKED_SCHEMA) or (schema.names == CHECKED_SCHEMA.names
                                             and schema.types == CHECKED_SCHEMA.types)


def _columns_to_read(schema: pa.Schema) -> list[str] | None:
    if not is_transition_schema(schema):
        return None
    return list(CHECKED_COLUMNS if ADDED_IN_1_1.name in schema.names else CHECKED_COLUMNS_1_0)


def flagged_rows(table: pa.Table) -> set[int]:
    """Rows of a transition-schema table (all of its columns, or CHECKED_COLUMNS) that may break a value rule: a
    superset of the invalid rows (the row validator decides). Column by column, over distinct values where values
    repeat: raw files are small (one episode), where a compute kernel's fixed cost per call would be more than the
    checks."""
    table = table.combine_chunks()
    flagged: set[int] = set()

    def values(dotted: str) -> list:
        head, *rest = dotted.split(".")
        column = table.column(head).chunk(0) if table.num_rows else pa.array([], table.schema.field(head).type)
        for name in rest:
            column = column.field(name)
        return column.to_pylist()

    def flag(column: list, bad) -> None:
        wrong = {value for value in set(column) if bad(value)}
        if wrong:
            flagged.update(i for i, value in enumerate(column) if value in wrong)

    for name in REQUIRED_TRANSITION_FIELDS:
        if table.column(name).null_count:
            flagged.update(pc.indices_nonzero(pc.is_null(table.column(name))).to_pylist())
    flag(values("schema_version"), lambda v: v not in SUPPORTED_SCHEMA_VERSIONS)
    flag(values("step"), lambda v: v is not None and v < 0)
    flag(values("domain"), lambda v: v is None or not DOMAIN_PATTERN.match(v))
    flag(values("action.kind"), lambda v: not v)
    for dotted in JSON_FIELDS:
        flag(values(dotted), lambda v: bool(v) and json_error(v) is not None)
    timings = table.column("timings").chunk(0) if table.num_rows else None
    if timings is not None:
        start = timings.field("action_start").to_numpy(zero_copy_only=False)
        end = timings.field("action_end").to_numpy(zero_copy_only=False)
        flagged.update(int(i) for i in np.flatnonzero(end < start))
    return flagged


def _checked_table(path: str, group: int, table: pa.Table, offset: int, count: bool) -> list:
    flagged = flagged_rows(table)
    rows = curation_rows(table)
    # The row validator checks every field, and a dead letter holds the whole record: flagged rows are read whole.
    whole = _whole_group(path, group, table) if flagged else table
    flagged_rows_read = {index: whole.slice(index, 1).to_pylist()[0] for index in flagged}
    if count:
        _count_unflagged(rows, flagged)
    items = [(path, position, row) for position, row in enumerate(rows, offset)]
    for index, row in flagged_rows_read.items():
        items[index] = _checked_row((path, offset + index, row), count)
    return items


def _whole_group(path: str, group: int, table: pa.Table) -> pa.Table:
    """A row group read with all its columns, or the columns read already if one of the others cannot be read (a
    bad page in a column curation does not read): its rows' dead letters then hold those columns."""
    try:
        return read_parquet_row_group(path, group)
    except (pa.ArrowException, OSError):
        return table


def _checked_one_by_one(path: str, group: int, table: pa.Table, offset: int, count: bool) -> list:
    """A row group holding a string that is not UTF-8, read whole and converted a row at a time: only the rows
    holding such a string are dead-lettered."""
    whole = _whole_group(path, group, table)
    items = []
    for index in range(whole.num_rows):
        row = whole.slice(index, 1)
        try:
            items.append(_checked_row((path, offset + index, row.to_pylist()[0]), count))
        except UnicodeDecodeError as exc:
            items.append(_not_utf8(path, offset + index, row, exc, count))
    return items


def _not_utf8(path: str, position: int, row: pa.Table, exc: UnicodeDecodeError, count: bool) -> Rejected:
    """The dead letter of a row holding a string that is not UTF-8; its record has those strings as bytes (written
    out as base64)."""
    columns = [name for name in row.column_names if not _converts(row.column(name))]
    record = row.cast(pa.schema([field.with_type(_strings_as_binary(field.type)) for field in row.schema]))
    if count:
        stats.count(stats.IN, stats.domain_of_path(path))
        stats.count(stats.DEAD, stats.domain_of_path(path), "validate")
    reason = (f"{', '.join(columns)}: holds a string that is not UTF-8 "
              f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})")
    return Rejected(dead_letter(f"{path}#{position}", path, "validate", reason, record.to_pylist()[0]))


def _converts(column: pa.ChunkedArray) -> bool:
    try:
        column.to_pylist()
    except UnicodeDecodeError:
        return False
    return True


def _strings_as_binary(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.binary()
    if pa.types.is_struct(arrow_type):
        return pa.struct([field.with_type(_strings_as_binary(field.type)) for field in arrow_type])
    if pa.types.is_list(arrow_type):
        return pa.list_(arrow_type.value_field.with_type(_strings_as_binary(arrow_type.value_type)))
    return arrow_type


# From this many rows on, a table's states are compared with the previous rows' next observations in Arrow: a dozen
# compute calls, whose fixed cost a one-episode file (20 rows) would pay more per row than the conversions it saves.
REPEAT_CHECK_ROWS = 256
_STATE_COLUMN = CURATION_COLUMNS.index("state")


def curation_rows(table: pa.Table) -> list[dict]:
    """CURATION_COLUMNS of each row of a transition-schema table, as dicts, plus RECORDED_AT: when its action
    started, in epoch seconds (None if unknown). A state equal to the previous row's next observation (the same
    episode one step on) is that very dict: its raw bytes are not converted and kept twice, and transforms.prepare
    reuses the observation's text on finding it so."""
    rows = _curation_rows(table)
    if "timings" in table.column_names:
        # As integers, not datetimes: converting timestamps costs more than the rest of a row's columns.
        starts = pc.cast(pc.struct_field(table.column("timings"), "action_start"), pa.int64()).to_pylist()
        for row, start in zip(rows, starts):
            row[RECORDED_AT] = None if start is None else start / 1e6
    return rows


def recorded_at(row: dict) -> float | None:
    """When a row's action started, in epoch seconds: RECORDED_AT where curation_rows put it, else its
    timings.action_start (a datetime, or an ISO string in a JSONL record); None if unknown."""
    if RECORDED_AT in row:
        return row[RECORDED_AT]
    timings = row.get("timings")
    start = timings.get("action_start") if isinstance(timings, dict) else None
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            return None
    if not isinstance(start, datetime):
        return None
    return (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()


def _curation_rows(table: pa.Table) -> list[dict]:
    curation = table.select(CURATION_COLUMNS).combine_chunks()
    if curation.num_rows < REPEAT_CHECK_ROWS:
        return curation.to_pylist()
    states = curation.column("state").chunk(0)
    repeats = _repeats_previous_next(states, curation.column("next_observation").chunk(0))
    rows = curation.set_column(_STATE_COLUMN, "state", pa.nulls(curation.num_rows)).to_pylist()
    others = iter(states.filter(pa.array(~repeats)).to_pylist())
    previous_next = None
    for row, repeat in zip(rows, repeats.tolist()):
        row["state"] = previous_next if repeat else next(others)
        previous_next = row["next_observation"]
    return rows


def _repeats_previous_next(states: pa.StructArray, next_observations: pa.StructArray) -> np.ndarray:
    """Per row, whether its state is the previous row's next observation: both present, each field equal or both
    null."""
    after, before = states.slice(1), next_observations.slice(0, len(next_observations) - 1)
    same = pc.and_(after.is_valid(), before.is_valid())
    for index in range(states.type.num_fields):
        state_field, next_field = after.field(index), before.field(index)
        both_null = pc.and_(state_field.is_null(), next_field.is_null())
        same = pc.and_(same, pc.coalesce(pc.equal(state_field, next_field), both_null))
    return np.concatenate([[False], same.to_numpy(zero_copy_only=False)])


def _count_unflagged(rows: list[dict], flagged: set[int]) -> None:
    """Count the rows read, per domain; flagged rows are counted by the row validator, with their domain as it
    reads it."""
    domains = Counter(map(itemgetter("domain"), rows))
    for index in flagged:
        domains[rows[index]["domain"]] -= 1
    for domain, records in domains.items():
        if records:
            stats.count(stats.IN, domain, records=records)


def _rejected_unreadable(error: ReadError, count: bool):
    if count:
        domain = stats.domain_of_path(error.letter["source"])
        stats.count(stats.IN, domain, records=len(error.letters))
        stats.count(stats.DEAD, domain, "read", records=len(error.letters))
    for letter in error.letters:
        yield Rejected(letter)


def _checked_rows(items, count: bool):
    for item in items:
        if isinstance(item, ReadError):
            yield from _rejected_unreadable(item, count)
        else:
            yield _checked_row(item, count)


def _checked_row(item: SourcedRow, count: bool) -> SourcedRow | Rejected:
    source, position, row = item
    if count:
        stats.count(stats.IN, stats.domain_of(row, source))
    errors = transition_errors(row)
    if not errors:
        return item
    rid = record_id(row)
    if rid == "<unknown>":
        rid = f"{source}#{position}"
    if count:
        stats.count(stats.DEAD, stats.domain_of(row, source), "validate")
    return Rejected(dead_letter(rid, source, "validate", "; ".join(str(e) for e in errors), row))
