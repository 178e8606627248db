"""Curation does not depend on how the raw files are laid out: an episode cut across row groups by another tool,
episode files renamed, or rows in JSONL beside their records curate to the same rows, with no dead letter, as the
files collectors write; rows lost from such a file are still dead-lettered, and a record whose rows are in no file
is still missing. Real files throughout: the collection written as collectors write it, rewritten with pyarrow."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import write_raw_collection

COLUMNS = "id, content_hash, state_text, next_text, next_volatile_spans"


def rows(folder, name, columns="*"):
    return duckdb.sql(f"SELECT {columns} FROM read_parquet('{folder / name}/*.parquet') ORDER BY 1").fetchall()


def letters(out) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{out / 'dead_letter'}/*.parquet')").to_arrow_table().to_pylist()


def terminal_as_one_file(raw, name: str, row_group_size: int, drop: tuple[str, int] | None = None) -> None:
    """The terminal episode files rewritten as one file of another tool (no member list), its rows interleaved
    across episodes by step and cut into row groups of `row_group_size`, which cut episodes; `drop`: one row left
    out."""
    folder = raw / "transitions" / "terminal"
    files = sorted(folder.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(path) for path in files]).sort_by([("step", "ascending"),
                                                                              ("episode_id", "ascending")])
    if drop:
        table = table.filter(pc.invert(pc.and_(pc.equal(table["episode_id"], drop[0]),
                                               pc.equal(table["step"], drop[1]))))
    for path in files:
        path.unlink()
    pq.write_table(table.replace_schema_metadata(None), folder / name, row_group_size=row_group_size)


def test_episodes_cut_across_row_groups_curate_as_whole_ones(tmp_path):
    raw, cut = tmp_path / "raw", tmp_path / "cut"
    write_raw_collection(raw)
    write_raw_collection(cut)
    terminal_as_one_file(cut, "pack-compacted.parquet", row_group_size=2)
    assert pq.ParquetFile(cut / "transitions" / "terminal" / "pack-compacted.parquet").num_row_groups > 3

    run_curation(str(raw), str(tmp_path / "out_raw"))
    stats = run_curation(str(cut), str(tmp_path / "out_cut"))

    # The fixture's JSONL drop has a bad line of its own: only the terminal episodes' letters count here.
    assert not [letter for letter in letters(tmp_path / "out_cut") if letter["record_id"].startswith("term-")]
    assert stats["records_without_rows"] == 0 and stats["balanced"]
    assert rows(tmp_path / "out_cut", "transitions", COLUMNS) == rows(tmp_path / "out_raw", "transitions", COLUMNS)


def test_a_row_lost_from_an_episode_cut_across_row_groups_is_still_dead_lettered(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    terminal_as_one_file(raw, "compacted.parquet", row_group_size=2, drop=("term-c", 2))

    run_curation(str(raw), str(tmp_path / "out"))

    found = {letter["record_id"]: letter for letter in letters(tmp_path / "out") if "its record" in letter["reason"]}
    assert set(found) == {"term-c:0", "term-c:1"}
    for letter in found.values():
        # Its two rows are in two row groups: counted over the file, not per group (1 each).
        assert "says 3 steps, but" in letter["reason"] and "holds 2 of its transitions" in letter["reason"], letter
        assert letter["source"].endswith("compacted.parquet")


def test_renamed_episode_files_and_jsonl_rows_are_not_missing(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    base = run_curation(str(raw), str(tmp_path / "out_base"))
    terminal = raw / "transitions" / "terminal"
    for number, path in enumerate(sorted(terminal.glob("*.parquet"))):
        path.rename(terminal / f"{number:03d}-{path.name}")
    web = raw / "transitions" / "web"
    for path in sorted(web.glob("*.parquet")):
        table = pq.read_table(path)
        with (web / "rows.jsonl").open("a") as handle:
            for row in table.to_pylist()[::-1]:
                handle.write(json.dumps(row, default=lambda v: v.decode() if isinstance(v, bytes) else v.isoformat())
                             + "\n")
        path.unlink()

    stats = run_curation(str(raw), str(tmp_path / "out"))

    assert not [letter for letter in letters(tmp_path / "out") if letter["stage"] == "missing"]
    assert stats["records_without_rows"] == 0 and stats["balanced"]
    assert stats["out"] == base["out"]
    assert rows(tmp_path / "out", "transitions", COLUMNS) == rows(tmp_path / "out_base", "transitions", COLUMNS)


def test_a_record_whose_rows_are_in_no_renamed_file_is_still_missing(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    terminal = raw / "transitions" / "terminal"
    (terminal / "term-a.parquet").rename(terminal / "renamed-a.parquet")
    (terminal / "term-b.parquet").unlink()

    stats = run_curation(str(raw), str(tmp_path / "out"))

    missing = [letter for letter in letters(tmp_path / "out") if letter["stage"] == "missing"]
    assert [letter["record_id"] for letter in missing] == ["term-b"]
    assert "no row read holds it" in missing[0]["reason"]
    assert stats["records_without_rows"] == 1 and stats["balanced"]
