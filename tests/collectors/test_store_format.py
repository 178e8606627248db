"""The episode file format: zstd only for big column chunks, no stored Arrow schema; files in it and in the older
format (zstd everywhere, Arrow schema stored) read back the same, through curation's reader too."""

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.store import ZSTD_MIN_BYTES, episode_codecs, write_episode_table
from schemas.transition import TRANSITION_SCHEMA
from transforms.validate import Rejected, read_valid_chunks

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def screen(step: int) -> bytes:
    return "".join(f"line {step}.{i}: total {i * 4096} files\n" for i in range(40)).encode()


def episode(steps: int = 20) -> pa.Table:
    rows = []
    for step in range(steps):
        state = {"text": None, "raw": screen(step), "raw_format": "text", "meta_json": "{}"}
        rows.append({
            "schema_version": "1.0", "episode_id": "ep", "step": step, "domain": "terminal",
            "env": {"kind": "docker-image", "id": "img", "digest": "", "details_json": "{}"},
            "task": {"id": "t", "instruction": "count the files"}, "state": state,
            "action": {"kind": "keys", "arguments_json": "{}", "text": f"ls {step}"},
            "next_observation": {**state, "raw": screen(step + 1)},
            "timings": {"action_start": T0, "action_end": T0 + timedelta(seconds=1), "observe_latency_ms": 1.0,
                        "wait_ms": 0.0},
            "done": step == steps - 1, "truncated": False, "error": None,
            "perturbations": ["slow_commands"] if step == 3 else [], "reference_observation": None,
            "provenance": {"collector": "test", "collector_version": "1", "worldline_version": "0", "seed": 1,
                           "host": "h", "stand_in": None, "extra_json": "{}"}})
    return pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA)


def codecs_written(path) -> dict[str, str]:
    group = pq.ParquetFile(path).metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i).compression for i in range(group.num_columns)}


def test_only_column_chunks_from_the_size_limit_on_are_compressed(tmp_path):
    table = episode()
    path = tmp_path / "ep.parquet"
    write_episode_table(table, str(path))
    written = codecs_written(path)
    assert set(written) == set(episode_codecs(table))  # every leaf column is given its codec by its Parquet path
    assert {column for column, codec in written.items() if codec == "ZSTD"} == {"state.raw", "next_observation.raw"}
    assert table.column("state").combine_chunks().field("raw").nbytes >= ZSTD_MIN_BYTES
    assert table.column("task").combine_chunks().field("instruction").nbytes < ZSTD_MIN_BYTES


def test_an_episode_file_reads_back_as_written_with_its_schema_and_metadata(tmp_path):
    table = episode()
    path = tmp_path / "ep.parquet"
    write_episode_table(table, str(path))
    parquet = pq.ParquetFile(path)
    assert b"ARROW:schema" not in parquet.metadata.metadata
    assert parquet.schema_arrow.metadata == TRANSITION_SCHEMA.metadata
    assert parquet.schema_arrow.equals(TRANSITION_SCHEMA)
    assert [field.nullable for field in parquet.schema_arrow] == [field.nullable for field in TRANSITION_SCHEMA]
    assert pq.read_table(path).equals(table)


def test_older_and_newer_episode_files_are_curated_alike(tmp_path):
    table = episode()
    older, newer = tmp_path / "older.parquet", tmp_path / "newer.parquet"
    pq.write_table(table, older, compression="zstd", use_dictionary=False, write_statistics=False)  # the old format
    write_episode_table(table, str(newer))
    assert b"ARROW:schema" in pq.ParquetFile(older).metadata.metadata
    # Alternated, so each file is read after one of the other format.
    reads = [[item for chunk in read_valid_chunks(str(path), count=False) for item in chunk]
             for path in (older, newer, older, newer)]
    assert not any(isinstance(item, Rejected) for items in reads for item in items)
    rows = [[row for _, _, row in items] for items in reads]
    assert len(rows[0]) == 20 and rows[0][3]["perturbations"] == ["slow_commands"]
    assert rows[0] == rows[1] == rows[2] == rows[3]
    # Of the provenance, curation reads what it uses and what a value rule checks.
    assert rows[0][0]["provenance"] == {"collector": "test", "stand_in": None, "extra_json": "{}"}
