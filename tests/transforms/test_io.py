import json
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from transforms.io import (ReadError, parquet_row_groups, raw_file_patterns, read_raw_file, row_from_json, to_json,
                           write_text)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def transition(step):
    return Transition("ep", step, "terminal", EnvInfo("docker-image", "img"), "t", "do", Observation("a", b"a"),
                      Action("keys", {"k": step}, f"k{step}"), Observation("b", b"\xff\x00b"),
                      Timings(T0, T0 + timedelta(seconds=1)), Provenance("test", "1"))


def test_parquet_rows_come_back_with_source_and_position(tmp_path):
    EpisodeStore(tmp_path).write(Episode("ep", "terminal", EnvInfo("docker-image", "img"), "t", "do", "scripted",
                                         "success", 3, "script_done", T0, T0, Provenance("test", "1")),
                                 [transition(i) for i in range(3)])
    path = str(tmp_path / "transitions" / "terminal" / "ep.parquet")
    items = list(read_raw_file(path))
    assert [(source, position, row["step"]) for source, position, row in items] == [(path, i, i) for i in range(3)]
    assert items[0][2]["next_observation"]["raw"] == b"\xff\x00b"


def test_jsonl_bad_line_becomes_a_named_read_error(tmp_path):
    path = tmp_path / "rows.jsonl"
    good = {"step": 1, "next_observation": {"raw": "text ok"},
            "timings": {"action_start": "2026-11-25T12:00:00+00:00"}}
    path.write_text(json.dumps(good) + "\n\n{broken\n")
    first, second = list(read_raw_file(str(path)))
    assert first[1] == 1 and first[2]["next_observation"]["raw"] == b"text ok"
    assert first[2]["timings"]["action_start"] == T0
    assert isinstance(second, ReadError)
    assert second.letter["record_id"] == f"{path}:3" and second.letter["stage"] == "read"
    assert "not JSON" in second.letter["reason"] and second.letter["record_json"] == "{broken"


def test_corrupt_parquet_is_a_read_error_not_a_crash(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    [item] = list(read_raw_file(str(path)))
    assert isinstance(item, ReadError) and "unreadable Parquet" in item.letter["reason"]


def test_a_flipped_byte_in_an_episode_file_is_caught_by_its_page_checksum(tmp_path):
    EpisodeStore(tmp_path).write(Episode("ep", "terminal", EnvInfo("docker-image", "img"), "t", "do", "scripted",
                                         "success", 3, "script_done", T0, T0, Provenance("test", "1")),
                                 [transition(i) for i in range(3)])
    path = tmp_path / "transitions" / "terminal" / "ep.parquet"
    data = bytearray(path.read_bytes())
    at = data.index(b"k1")  # an action text, in an uncompressed page: the flip still decodes
    data[at + 1:at + 2] = b"7"
    path.write_bytes(bytes(data))
    assert pq.read_table(path, page_checksum_verification=False).column("action").to_pylist()[1]["text"] == "k7"
    [item] = list(read_raw_file(str(path)))
    assert isinstance(item, ReadError) and [letter["record_id"] for letter in item.letters] == \
        [f"{path}#{row}" for row in range(3)]
    assert "row group 0, rows 0-2" in item.letter["reason"] and "CRC" in item.letter["reason"]


def test_json_coercion_leaves_wrong_types_for_the_validator():
    row = row_from_json({"state": {"raw": 5}, "timings": {"action_end": "not a time"}})
    assert row["state"]["raw"] == 5 and row["timings"]["action_end"] == "not a time"
    assert row_from_json({"state": {"raw": {"base64": "/w=="}}})["state"]["raw"] == b"\xff"


def test_dead_letter_json_keeps_binary_and_times():
    text = to_json({"raw": b"\xff\x01", "ok": b"hi", "at": T0})
    assert json.loads(text) == {"raw": {"base64": "/wE="}, "ok": "hi", "at": "2026-11-25T12:00:00+00:00"}


def test_patterns_cover_both_formats_under_transitions():
    assert raw_file_patterns("/data/raw/") == ["/data/raw/transitions/**.parquet", "/data/raw/transitions/**.jsonl"]


def test_write_text_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "stats.json"
    write_text(str(target), "one")
    write_text(str(target), "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["stats.json"]


def test_parts_are_published_by_rename_and_an_empty_output_still_has_its_table(tmp_path):
    import pyarrow as pa

    from transforms.io import PartFiles, TableBatches, commit_parts

    schemas = {"kept": pa.schema([pa.field("id", pa.string())]), "none": pa.schema([pa.field("n", pa.int64())])}
    batches, parts = TableBatches(schemas, rows=2), PartFiles(str(tmp_path / "work"), schemas)
    for i in range(5):
        table = batches.add("kept", {"id": str(i)})
        if table is not None:
            parts.write("kept", table)
    for name, table in batches.flush():
        parts.write(name, table)
    written = parts.close()
    abandoned = PartFiles(str(tmp_path / "work"), schemas)  # a retried bundle's part: never reported, never published
    abandoned.write("kept", pa.table({"id": ["x"]}, schema=schemas["kept"]))
    commit_parts(written, str(tmp_path / "out"), schemas)
    [kept] = list((tmp_path / "out" / "kept").glob("*.parquet"))
    assert kept.name == "part-00000-of-00001.parquet"
    parquet = pq.ParquetFile(kept)
    assert parquet.read().column("id").to_pylist() == ["0", "1", "2", "3", "4"]
    assert parquet.num_row_groups == 3 and parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    [empty] = list((tmp_path / "out" / "none").glob("*.parquet"))
    assert pq.read_table(empty).num_rows == 0 and pq.read_schema(empty).names == ["n"]


def _varied_stage_rows(count: int) -> list[tuple[dict, dict, dict]]:
    """Stage rows as curation builds them, over rows with missing fields, empty lists and non-ASCII text."""
    from transforms.stages import build_stage_rows

    episode = []
    for step in range(count):
        text = ["", "plain", "ünïcødé ✓ 日本語", "\x00nul and\ttab", "x" * 5000][step % 5]
        episode.append({"id": f"ép:{step}", "episode_id": "ép", "step": step, "domain": ["terminal", "robots"][step % 2],
                        "instruction": None if step % 3 == 0 else f"do {text}", "action_text": text or None,
                        "state_text": None if step % 4 == 1 else text, "next_text": text,
                        "next_volatile_spans": ([] if step % 2 else None) if len(text) < 2
                        else [{"start": 0, "end": 1, "kind": None}, {"start": 1, "end": len(text), "kind": "pid"}]})
    return [build_stage_rows(episode[:step], row, f"trace {row['next_text']}", window=step % 3)
            for step, row in enumerate(episode)]


def test_added_tables_come_back_in_full_tables_of_the_batch_size_in_order():
    import pyarrow as pa

    from schemas.stages import STAGE2_SCHEMA
    from transforms.io import TableBatches

    rows = [row for _, row, _ in _varied_stage_rows(23)]
    batches, tables, start = TableBatches({"stage2": STAGE2_SCHEMA}, rows=10), [], 0
    for size in (3, 0, 4, 12, 1, 3):  # uneven per-file tables, one of them empty
        tables += batches.add_table("stage2", pa.Table.from_pylist(rows[start:start + size], schema=STAGE2_SCHEMA))
        start += size
    assert [table.num_rows for table in tables] == [10, 10]
    tables += [table for _, table in batches.flush()]
    assert [table.num_rows for table in tables] == [10, 10, 3]
    assert list(batches.flush()) == []
    assert pa.concat_tables(tables).equals(pa.Table.from_pylist(rows, schema=STAGE2_SCHEMA))


def _written_stage2_columns(tmp_path, rows: int) -> dict:
    """Stage 2 rows written by io.parquet_writer and read back whole: the column chunks' metadata by path."""
    import pyarrow as pa

    from schemas.stages import STAGE2_SCHEMA
    from transforms.io import parquet_writer

    table = pa.Table.from_pylist([row for _, row, _ in _varied_stage_rows(rows)], schema=STAGE2_SCHEMA)
    with parquet_writer(str(tmp_path / "stage2.parquet"), STAGE2_SCHEMA) as writer:
        writer.write_table(table)
    parquet = pq.ParquetFile(tmp_path / "stage2.parquet")
    assert parquet.read().equals(table)
    group = parquet.metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


def test_long_text_columns_are_written_without_statistics(tmp_path):
    columns = _written_stage2_columns(tmp_path, 12)
    for path in ("messages.list.element.content", "target"):
        assert columns[path].statistics is None
    for path in ("id", "domain", "step", "messages.list.element.role", "reasoning_source"):
        assert columns[path].statistics.has_min_max
    assert all(column.compression == "ZSTD" for column in columns.values())


def test_only_short_and_repeated_text_columns_are_dictionary_encoded(tmp_path):
    columns = _written_stage2_columns(tmp_path, 40)
    # a chat turn comes back in later steps' history: its dictionary holds each distinct turn once
    assert columns["messages.list.element.content"].has_dictionary_page
    assert "RLE_DICTIONARY" in columns["messages.list.element.content"].encodings
    for path in ("id", "domain", "messages.list.element.role", "reasoning_source"):
        assert columns[path].has_dictionary_page
    assert not columns["target"].has_dictionary_page and "RLE_DICTIONARY" not in columns["target"].encodings


def test_row_groups_read_the_columns_picked_for_each_files_own_schema(tmp_path):
    """The columns picked are remembered per file schema: a file of another schema gets its own pick."""
    EpisodeStore(tmp_path).write(Episode("ep", "terminal", EnvInfo("docker-image", "img"), "t", "do", "scripted",
                                         "success", 3, "script_done", T0, T0, Provenance("test", "1")),
                                 [transition(i) for i in range(3)])
    episode_file = tmp_path / "transitions" / "terminal" / "ep.parquet"
    whole = pq.read_table(episode_file)
    older = tmp_path / "older.parquet"  # the older episode format: zstd everywhere, the Arrow schema stored
    pq.write_table(whole, older, compression="zstd", use_dictionary=False, write_statistics=False)
    other = tmp_path / "other.parquet"  # a schema without struct columns
    pq.write_table(pa.table({"episode_id": ["ep"] * 2, "step": [0, 1], "note": ["a", "b"]}), other)

    def columns_of(schema):
        return ["step", "action", "timings.action_end"] if "action" in schema.names else ["note"]

    for path in (episode_file, other, older, other, episode_file):
        (table,) = parquet_row_groups(str(path), columns_of)
        expected = pq.ParquetFile(path).read_row_group(0, columns=columns_of(pq.read_schema(path)))
        assert table.equals(expected), path
    (table,) = parquet_row_groups(str(episode_file), columns_of)
    assert table.column_names == ["step", "action", "timings"]
    assert table.schema.field("timings").type.names == ["action_end"]
    assert table.column("action").to_pylist()[2] == {"kind": "keys", "arguments_json": '{"k": 2}', "text": "k2"}


def test_part_files_write_no_empty_row_group(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.io import PartFiles

    schema = pa.schema([pa.field("n", pa.int64())])
    parts = PartFiles(str(tmp_path / "parts"), {"t": schema})
    parts.write("t", schema.empty_table())
    assert parts.close() == []  # a bundle whose rows all failed leaves no part
    parts.write("t", pa.table({"n": [1, 2]}, schema=schema))
    parts.write("t", schema.empty_table())
    ((_, path),) = parts.close()
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [2]


def test_a_part_file_holds_at_most_its_row_groups_and_the_next_part_takes_the_rest(tmp_path):
    # An open writer keeps every row group's metadata: a bundle's one part per output grew a worker with the input.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.io import PartFiles

    schema = pa.schema([pa.field("n", pa.int64())])
    parts = PartFiles(str(tmp_path / "parts"), {"t": schema}, row_groups=2)
    for start in range(0, 5):
        parts.write("t", pa.table({"n": [start * 10, start * 10 + 1]}, schema=schema))
    written = parts.close()
    groups = [pq.ParquetFile(path).metadata.num_row_groups for _, path in written]
    assert groups == [2, 2, 1]
    values = [value for _, path in written for value in pq.read_table(path).column("n").to_pylist()]
    assert values == [n for start in range(5) for n in (start * 10, start * 10 + 1)]
    assert parts.close() == []  # reported once
