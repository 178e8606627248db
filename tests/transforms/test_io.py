import json
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq

from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from transforms.io import ReadError, raw_file_patterns, read_raw_file, row_from_json, to_json, write_text

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
