"""An episode whose transitions file lost rows but still reads (a copy cut short, a row group dropped) is not curated
as if whole: each row it still has becomes a dead letter naming the episode, its record's step count and the rows
read. It was curated silently, the lost steps leaving no trace (fault-injection audit). Real files throughout: the
collection written as collectors write it, the damaged file rewritten with pyarrow."""

from __future__ import annotations

import json
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from collectors.pack import pack_collection
from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import write_raw_collection


def rows(folder, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet')").to_arrow_table().to_pylist()


def drop_rows(path, episode_id: str, step: int) -> None:
    """Rewrite a Parquet file without one step of one episode; the file (and a pack's member list) stays valid."""
    table = pq.read_table(path)
    keep = pc.invert(pc.and_(pc.equal(table["episode_id"], episode_id), pc.equal(table["step"], step)))
    # The file's key-value metadata (a pack's member list) is not all in the table's schema: carried over whole.
    metadata = {**(table.schema.metadata or {}), **(pq.ParquetFile(path).metadata.metadata or {})}
    metadata.pop(b"ARROW:schema", None)
    pq.write_table(table.filter(keep).replace_schema_metadata(metadata), path)


def assert_episode_dead_lettered(out, episode_id: str, steps: list[int], source_name: str) -> None:
    stats = json.loads((out / "stats.json").read_text())
    assert stats["balanced"], stats
    letters = {row["record_id"]: row for row in rows(out, "dead_letter")}
    for step in steps:
        letter = letters[f"{episode_id}:{step}"]
        assert letter["stage"] == "validate"
        assert letter["source"].endswith(source_name), letter["source"]
        assert f"episode {episode_id}: its record" in letter["reason"], letter["reason"]
        assert f"says {len(steps) + 1} steps, but" in letter["reason"], letter["reason"]
        assert f"holds {len(steps)} of its transitions" in letter["reason"], letter["reason"]
        assert json.loads(letter["record_json"])["action"]["text"]  # the whole row, not the columns curation reads
    assert not [row for row in rows(out, "transitions") if row["episode_id"] == episode_id]
    assert not [row for row in rows(out, "dedupe") if row["id"].startswith(f"{episode_id}:")]


def test_an_episode_file_missing_a_row_is_dead_lettered(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    drop_rows(raw / "transitions" / "terminal" / "term-c.parquet", "term-c", 2)
    shutil.rmtree(raw / "episodes" / "mcp")  # an episode without a record (collect killed before it) is curated

    stats = run_curation(str(raw), str(tmp_path / "out"))

    assert_episode_dead_lettered(tmp_path / "out", "term-c", [0, 1], "term-c.parquet")
    assert {row["record_id"] for row in rows(tmp_path / "out", "dead_letter") if "its record" in row["reason"]} == {
        "term-c:0", "term-c:1"}
    assert stats["dead_lettered_by_stage"]["validate"] == 1 + 2  # the JSONL drop's wrong field, and term-c's rows
    # The other episodes are curated as before: term-a's rows are out, term-b's deduped against them.
    assert {row["id"] for row in rows(tmp_path / "out", "transitions")} >= {"term-a:0", "term-a:1", "term-a:2"}


def test_a_pack_missing_a_row_dead_letters_only_that_episode(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    assert pack_collection(raw).episodes_packed == 5
    pack = next((raw / "transitions" / "web").glob("pack-*.parquet"))
    drop_rows(pack, "web-a", 0)

    run_curation(str(raw), str(tmp_path / "out"))

    assert_episode_dead_lettered(tmp_path / "out", "web-a", [1], pack.name)
    # Collect takes a packed episode as whole: the way to record it again is to remove its record.
    reasons = {row["reason"] for row in rows(tmp_path / "out", "dead_letter") if row["record_id"].startswith("web-a")}
    assert reasons and all("web-a.json and collect into that folder again" in reason for reason in reasons), reasons
    assert {row["id"] for row in rows(tmp_path / "out", "transitions") if row["domain"] == "terminal"} >= {
        "term-a:0", "term-a:1", "term-a:2"}

