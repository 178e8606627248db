"""What curate makes of episodes whose record and transitions disagree because of how collect works, not of damage:
an episode being recorded again (collect writes the new file first and the record last, so between the two the old
record sits beside the new file), an episode whose transitions are gone (its file deleted, its pack cut short), and
the copies a pack written before digests left beside it. Real files throughout: the collection written as collectors
write it, packed by `pack_collection`, the damage done with pyarrow and os."""

from __future__ import annotations

import json
import logging
import os
import shutil

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from collectors.pack import pack_collection
from pipelines.curate import run_curation
from pipelines.views import open_views
from schemas.packs import MEMBERS_KEY, member_digests, packed_copies
from tests.pipelines.curation_raw_collection import write_raw_collection

HOUR_NS = 3600 * 10**9


def rows(folder, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet')").to_arrow_table().to_pylist()


def letters(out) -> dict[str, dict]:
    return {row["record_id"]: row for row in rows(out, "dead_letter")}


def rewrite_record(raw, domain: str, episode_id: str, **fields) -> None:
    """The record of an earlier attempt: other fields, and an hour older than the episode's transitions file."""
    record = raw / "episodes" / domain / f"{episode_id}.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), **fields}))
    written = (raw / "transitions" / domain / f"{episode_id}.parquet").stat().st_mtime_ns
    os.utime(record, ns=(written - HOUR_NS, written - HOUR_NS))


def test_a_new_recording_after_an_errored_record_is_curated_not_blamed_on_the_disk(tmp_path):
    """Collect retries an episode that ended in an error; curate read (or collect was stopped) between its writing the
    new 3-step file and the new record. The old record's 2 steps are no evidence of lost rows: the 3 new rows are a
    whole recording and are curated, as an episode without a record yet is. They were 3 dead letters saying the file
    lost rows."""
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    rewrite_record(raw, "terminal", "term-c", steps=2, outcome="error", end_reason="env_error")

    run_curation(str(raw), str(tmp_path / "out"))

    assert not [letter for letter in letters(tmp_path / "out") if letter.startswith("term-c")]
    curated = {row["id"] for row in rows(tmp_path / "out", "transitions")}
    deduped = {row["id"] for row in rows(tmp_path / "out", "dedupe")}
    assert {"term-c:0", "term-c:1", "term-c:2"} <= curated | deduped

    # The file time decides: a record written after its file was written for that file, error or not.
    os.utime(raw / "episodes" / "terminal" / "term-c.json")
    run_curation(str(raw), str(tmp_path / "out"), overwrite=True)
    assert "(the file or the record was changed after collect wrote them)" in letters(tmp_path / "out")[
        "term-c:0"]["reason"]


def test_a_file_written_after_its_record_with_fewer_steps_names_both_causes(tmp_path):
    """A damaged episode being recorded again (record not error) cannot be told from a copy that lost rows and got a
    new file time: dead-lettered, saying so and what to do, where it blamed the disk alone."""
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    rewrite_record(raw, "terminal", "term-c", steps=4)

    run_curation(str(raw), str(tmp_path / "out"))

    found = letters(tmp_path / "out")
    for step in range(3):
        reason = found[f"term-c:{step}"]["reason"]
        assert "says 4 steps, but" in reason and "holds 3 of its transitions" in reason, reason
        assert "was written after the record: a collect recording the episode again" in reason, reason
        assert "run collect into raw again to finish it" in reason, reason  # the folder by its name alone


def test_an_episode_whose_file_is_deleted_is_one_dead_letter_and_counted(tmp_path):
    """Its record promised 3 steps; no file holds them. Curate said nothing (in=15, no dead letter for it)."""
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    (raw / "transitions" / "terminal" / "term-c.parquet").unlink()
    empty = raw / "episodes" / "web" / "web-z.json"  # a record of 0 steps promises no transitions
    empty.write_text(json.dumps({**json.loads((raw / "episodes" / "web" / "web-a.json").read_text()),
                                 "episode_id": "web-z", "steps": 0}))

    stats = run_curation(str(raw), str(tmp_path / "out"))

    letter = letters(tmp_path / "out")["term-c"]
    # Named within the input folder, and the folder by its name, as stats.json names it: the letter is published.
    assert letter["stage"] == "missing" and letter["source"] == "episodes/terminal/term-c.json"
    assert "its record" in letter["reason"] and "says 3 steps, but its transitions are missing" in letter["reason"]
    assert "collecting into raw again records it anew" in letter["reason"], letter["reason"]
    assert json.loads(letter["record_json"])["steps"] == 3
    assert stats["records_without_rows"] == 1 and stats["balanced"]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["records_without_rows"] == 1
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Episodes of the input with a record but no transitions (their file deleted, or a pack cut short): 1," \
        in card
    assert "web-z" not in letters(tmp_path / "out")


def test_a_pack_cut_short_accounts_for_each_episode_it_held(tmp_path):
    """The pack no longer reads (its footer is gone): one `read` dead letter for the file, as before, and now one per
    episode whose record it held."""
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    assert pack_collection(raw).episodes_packed == 5
    [pack] = (raw / "transitions" / "terminal").glob("pack-*.parquet")
    os.truncate(pack, pack.stat().st_size * 2 // 3)

    stats = run_curation(str(raw), str(tmp_path / "out"))

    found = letters(tmp_path / "out")
    assert f"{pack.relative_to(raw)}#0" in found
    assert {name for name, letter in found.items() if letter["stage"] == "missing"} == {"term-a", "term-b", "term-c"}
    assert stats["records_without_rows"] == 3 and stats["balanced"]


def test_a_pack_rewritten_without_its_member_list_calls_no_episode_missing(tmp_path):
    """A pack another tool rewrote (rows whole, worldline's key-value metadata gone) names no members: its episodes'
    rows are curated, so none of them is a missing episode."""
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    assert pack_collection(raw).episodes_packed == 5
    [pack] = (raw / "transitions" / "terminal").glob("pack-*.parquet")
    pq.write_table(pq.read_table(pack).replace_schema_metadata(None), pack)

    stats = run_curation(str(raw), str(tmp_path / "out"))

    assert not [name for name, letter in letters(tmp_path / "out").items() if letter["stage"] == "missing"]
    assert stats["records_without_rows"] == 0 and stats["balanced"]
    assert "term-a:0" in {row["id"] for row in rows(tmp_path / "out", "transitions")}


def old_format_pack_with_leftovers(raw):
    """A terminal pack whose members are named without digests (as packs were before), its three members put back
    beside it as a pack stopped before deleting them leaves them; term-b's is another recording of that id."""
    write_raw_collection(raw)
    folder = raw / "transitions" / "terminal"
    kept = {path.name: path.read_bytes() for path in folder.glob("term-*.parquet")}
    pack_collection(raw)
    [pack] = folder.glob("pack-*.parquet")
    table = pq.read_table(pack)
    names = list(member_digests(pq.read_metadata(pack).metadata))
    pq.write_table(table.replace_schema_metadata({MEMBERS_KEY: json.dumps(names)}), pack)
    for name, data in kept.items():
        (folder / name).write_bytes(data)
    other = pq.read_table(folder / "term-b.parquet")
    changed = other.to_pylist()
    changed[0]["done"] = not changed[0]["done"]
    pq.write_table(pa.Table.from_pylist(changed, schema=other.schema), folder / "term-b.parquet")
    return pack


def test_copies_beside_a_pack_without_digests_are_skipped_by_rows_and_named(tmp_path, caplog):
    """query read 2 rows per id (11,200 for 5,600) beside such a pack, and curate found every row an exact duplicate
    of itself. A file whose rows are the pack's rows of its episode is now skipped; one with other rows is read as
    before; each such pack is named in a warning with the command that removes them."""
    raw = tmp_path / "raw"
    pack = old_format_pack_with_leftovers(raw)
    folder = raw / "transitions" / "terminal"
    caplog.set_level(logging.WARNING)

    files = sorted(str(path) for path in folder.glob("*.parquet"))
    assert packed_copies(files) == {str(folder / "term-a.parquet"), str(folder / "term-c.parquet")}
    assert (f"{pack} (written before packs recorded digests) has 3 of its members beside it, left by a pack that "
            "was stopped: the 2 holding its rows are skipped, the 1 holding others read") in caplog.text
    assert f"run `worldline pack {raw}` to remove the copies" in caplog.text

    connection, broken = open_views(raw)
    assert not broken
    total, distinct = connection.execute("SELECT count(*), count(DISTINCT episode_id || ':' || step) FROM "
                                         "raw_transitions WHERE domain = 'terminal'").fetchone()
    assert (total, distinct) == (9 + 3, 9)  # term-b's other recording only

    stats = run_curation(str(raw), str(tmp_path / "out"))
    assert stats["domains"]["terminal"]["in"] == 9 + 3
