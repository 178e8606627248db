"""The column checks of a Parquet file must flag every row the row validator rejects, and the rows read through
them must be rejected with the row validator's own reasons."""

import copy
import json
import random
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.transition import TRANSITION_SCHEMA
from schemas.validate import transition_errors
from transforms import stats
from transforms.validate import (CHECKED_COLUMNS, CHECKED_SCHEMA, CURATION_COLUMNS, RECORDED_AT, REPEAT_CHECK_ROWS,
                                 Rejected, curation_rows, flagged_rows, has_checked_columns, is_transition_schema,
                                 read_valid_chunks)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def good_row(step: int) -> dict:
    observation = {"text": "ok", "raw": b"ok", "raw_format": "text", "meta_json": "{}"}
    return {"schema_version": "1.0", "episode_id": "ep", "step": step, "domain": "terminal",
            "env": {"kind": "docker-image", "id": "img", "digest": "", "details_json": "{}"},
            "task": {"id": "t", "instruction": "do"}, "state": observation,
            "action": {"kind": "keys", "arguments_json": "{}", "text": "ls"}, "next_observation": observation,
            "timings": {"action_start": T0, "action_end": T0 + timedelta(seconds=1), "observe_latency_ms": 1.0,
                        "wait_ms": 0.0},
            "done": False, "truncated": False, "error": None, "perturbations": [], "reference_observation": None,
            "provenance": {"collector": "test", "collector_version": "1", "worldline_version": "0", "seed": 1,
                           "host": "h", "stand_in": None, "extra_json": "{}"}}


BREAKAGES = {
    "schema_version": lambda row: row.update(schema_version="9.9"),
    "step": lambda row: row.update(step=-4),
    "domain": lambda row: row.update(domain="Bad Domain"),
    "action.kind": lambda row: row["action"].update(kind=""),
    "action.arguments_json": lambda row: row["action"].update(arguments_json="{broken"),
    "state.meta_json": lambda row: row["state"].update(meta_json="[1,"),
    "env.details_json": lambda row: row["env"].update(details_json="nope"),
    "provenance.extra_json": lambda row: row["provenance"].update(extra_json="{'single': 1}"),
    "timings.action_end": lambda row: row["timings"].update(action_end=T0 - timedelta(seconds=1)),
    "action": lambda row: row.update(action=None),
    "next_observation": lambda row: row.update(next_observation=None),
}


def broken_table():
    rows = [good_row(0)]
    for step, (name, breakage) in enumerate(BREAKAGES.items(), start=1):
        row = copy.deepcopy(good_row(step))
        breakage(row)
        rows.append(row)
        rows.append(good_row(100 + step))
    return rows, pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA)


def test_column_checks_flag_every_invalid_row():
    rows, table = broken_table()
    invalid = {i for i, row in enumerate(rows) if transition_errors(row)}
    assert len(invalid) == len(BREAKAGES)
    assert invalid <= flagged_rows(table)


def test_rows_read_through_the_column_checks_get_the_row_validators_reasons(tmp_path):
    rows, table = broken_table()
    path = tmp_path / "ep.parquet"
    pq.write_table(table, path)
    assert is_transition_schema(pq.read_schema(path))  # so the column checks, not the row fallback, ran
    items = [item for chunk in read_valid_chunks(str(path), count=False) for item in chunk]
    rejected = [item.letter for item in items if isinstance(item, Rejected)]
    assert len(rejected) == len(BREAKAGES)
    for letter, name in zip(rejected, BREAKAGES):
        assert letter["reason"].startswith(name) or f"{name}:" in letter["reason"], (name, letter["reason"])
        assert letter["source"] == str(path)
    valid = [item for item in items if not isinstance(item, Rejected)]
    assert [position for _, position, _ in valid] == [i for i, row in enumerate(rows) if not transition_errors(row)]
    assert valid[0][2]["next_observation"]["raw"] == b"ok"


def test_the_columns_read_flag_what_the_whole_table_flags(tmp_path):
    _, table = broken_table()
    path = tmp_path / "ep.parquet"
    pq.write_table(table, path)
    read = pq.ParquetFile(path).read(columns=list(CHECKED_COLUMNS))  # as io.parquet_row_groups reads
    assert has_checked_columns(read.schema)
    assert read.num_columns < table.num_columns
    assert flagged_rows(read) == flagged_rows(table)


def test_a_flagged_rows_dead_letter_holds_the_whole_record_from_its_own_row_group(tmp_path):
    rows, table = broken_table()
    path = tmp_path / "ep.parquet"
    pq.write_table(table, path, row_group_size=4)  # flagged rows in several groups, past the first
    items = [item for chunk in read_valid_chunks(str(path), count=False) for item in chunk]
    rejected = [json.loads(item.letter["record_json"]) for item in items if isinstance(item, Rejected)]
    invalid = [row for row in rows if transition_errors(row)]
    assert [record["step"] for record in rejected] == [row["step"] for row in invalid]
    for record in rejected:
        assert {"timings", "truncated", "reference_observation", "env"} <= record.keys()
        assert record["env"]["kind"] == "docker-image"


def _read_counters(path) -> dict[str, int]:
    """The run counters of reading one file with counting on, from a real (one-step) Beam pipeline."""
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        _ = pipeline | beam.Create([str(path)]) | beam.FlatMap(lambda p: [len(c) for c in read_valid_chunks(p)])
    return stats.counters_from_result(pipeline.result)


def test_every_row_is_counted_once_under_its_domain_flagged_or_not(tmp_path):
    rows, _ = broken_table()
    for row in rows[::3]:
        row["domain"] = "web"
    path = tmp_path / "ep.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA), path, row_group_size=7)
    counters = _read_counters(path)
    invalid = [row for row in rows if transition_errors(row)]
    assert counters["in"] == len(rows)
    for domain in {row["domain"] for row in rows}:
        assert counters[f"in|domain={domain}"] == sum(row["domain"] == domain for row in rows), domain
    assert counters["dead_lettered|validate"] == len(invalid)
    assert sum(count for name, count in counters.items() if name.startswith("in|domain=")) == len(rows)


def _observation(rng: random.Random):
    """Few distinct values per field, nulls among them, so that many pairs are equal and many differ in one field."""
    if rng.random() < 0.1:
        return None
    return {"text": rng.choice([None, "", "a"]), "raw": rng.choice([None, b"", b"x", b"y"]),
            "raw_format": rng.choice(["text", "tmux-ansi", None]), "meta_json": rng.choice(["{}", None])}


def test_a_state_equal_to_the_previous_next_observation_is_read_as_that_dict(tmp_path):
    rng = random.Random(3)
    rows = []
    for step in range(REPEAT_CHECK_ROWS + 100):
        row = good_row(step)
        row["next_observation"] = _observation(rng)
        # Mostly the previous next observation, as in an episode; else anything, equal to it or not by chance.
        row["state"] = (copy.deepcopy(rows[-1]["next_observation"]) if rows and rng.random() < 0.5
                        else _observation(rng))
        rows.append(row)
    # Two chunks, as a table concatenated from two reads.
    half = len(rows) // 2
    table = pa.concat_tables([pa.Table.from_pylist(part, schema=TRANSITION_SCHEMA)
                              for part in (rows[:half], rows[half:])])

    read = curation_rows(table)

    starts = [row.pop(RECORDED_AT) for row in read]
    assert starts == [row["timings"]["action_start"].timestamp() for row in rows]
    assert read == table.select(CURATION_COLUMNS).to_pylist()
    repeats = [index for index in range(1, len(rows))
               if rows[index]["state"] is not None and rows[index - 1]["next_observation"] is not None
               and rows[index]["state"] == rows[index - 1]["next_observation"]]
    assert len(repeats) > 100
    assert [index for index in range(1, len(read)) if read[index]["state"] is not None
            and read[index]["state"] is read[index - 1]["next_observation"]] == repeats


def test_a_short_tables_states_are_read_as_dicts_of_their_own():
    rows = [good_row(step) for step in range(3)]
    read = curation_rows(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA))
    assert read[1]["state"] == read[0]["next_observation"] and read[1]["state"] is not read[0]["next_observation"]


def test_checked_columns_are_recognised_by_names_and_types_whatever_the_nullability(tmp_path):
    _, table = broken_table()
    nullable = pa.schema([field.with_nullable(True) for field in TRANSITION_SCHEMA])
    path = tmp_path / "nullable.parquet"
    pq.write_table(table.cast(nullable), path)  # another writer's file: required fields written nullable
    read = pq.ParquetFile(path).read(columns=list(CHECKED_COLUMNS))
    assert not read.schema.equals(CHECKED_SCHEMA)  # so names and types decide
    assert has_checked_columns(read.schema)
    assert not has_checked_columns(read.drop_columns(["done"]).schema)
    assert not has_checked_columns(read.set_column(2, "step", read.column("step").cast(pa.int64())).schema)
