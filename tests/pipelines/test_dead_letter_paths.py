"""Dead letters are published with the shards: they name the raw files relative to the --input folder, at every
stage, as stats.json names the input by its folder's name (privacy audit PR5: the collecting machine's absolute
paths were in `source`, `record_id`, dedupe reasons and the curated row kept in `record_json`)."""

from __future__ import annotations

import json

import duckdb
import pytest

from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import write_raw_collection


def _letters(out) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{out / 'dead_letter'}/*.parquet')").to_arrow_table().to_pylist()


@pytest.mark.parametrize("spelled", ["absolute", "./raw/"])
def test_every_stage_names_files_within_the_input_folder(tmp_path, monkeypatch, spelled):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    good = (raw / "transitions" / "drop.jsonl").read_text().splitlines()[0]
    # The same id with other content in a second file: one copy is dead-lettered at dedupe, naming the other.
    (raw / "transitions" / "again.jsonl").write_text(good.replace("1 result", "2 results") + "\n")
    (raw / "transitions" / "terminal" / "term-c.parquet").unlink()  # its record: a `missing` letter
    monkeypatch.chdir(tmp_path)

    stats = run_curation(str(raw) if spelled == "absolute" else spelled, str(tmp_path / "out"))

    letters = _letters(tmp_path / "out")
    by_stage = {letter["stage"]: letter for letter in letters}
    assert set(by_stage) == {"read", "validate", "normalize", "dedupe", "missing"}, letters
    assert stats["dead_lettered"] + stats["records_without_rows"] == len(letters)
    for letter in letters:
        assert str(tmp_path) not in json.dumps(letter), letter  # nor a relative path that leads out of it
        assert not letter["source"].startswith(("/", ".")), letter
    assert by_stage["read"]["record_id"] == "transitions/drop.jsonl:3"
    assert by_stage["read"]["source"] == "transitions/drop.jsonl"
    assert by_stage["normalize"]["source"] == "transitions/mcp/mcp-a.parquet"
    assert by_stage["missing"]["source"] == "episodes/terminal/term-c.json"
    assert "collecting into raw again" in by_stage["missing"]["reason"], by_stage["missing"]["reason"]
    dedupe = by_stage["dedupe"]
    other = ({"transitions/drop.jsonl", "transitions/again.jsonl"} - {dedupe["source"]}).pop()
    assert f"was kept: {other} line " in dedupe["reason"], dedupe["reason"]
    # The curated row it holds names its file the same way, and is otherwise the row as curated.
    row = json.loads(dedupe["record_json"])
    assert row["source"] == dedupe["source"] and row["id"] == "json-a:0" and row["next_text"] in (
        "1 result", "2 results")
    # The card says what the letters hold and what to drop before publishing them.
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Drop `record_json`, or this folder, before publishing" in card
    assert "`source` (the raw file, relative to the input folder)" in card
