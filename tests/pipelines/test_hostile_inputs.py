"""Hostile raw inputs through the real `worldline curate` command: every record ends in an output or in dead_letter/
with a reason naming it, the good records next to a bad one are kept, and no traceback reaches the user.

One curation run over one raw collection holding every hostile file serves most tests (module fixture `hostile`)."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.pack import pack_collection
from collectors.store import EpisodeStore
from pipelines.curate import run_curation
from pipelines.output_folder import OutputExistsError, output_lock
from schemas.transition import TRANSITION_SCHEMA
from tests.pipelines.curation_raw_collection import _episode

PACK_GROUPS, PACK_GROUP_ROWS, BAD_GROUP = 4, 6, 2  # a pack of 4 row groups of 6 rows; group 2 is corrupted


def curate(raw, out, *args):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(out), *args], capture_output=True, text=True, timeout=300)


def rows(out, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{out / name}/*.parquet')").to_arrow_table().to_pylist()


def _steps(name, count):
    """Actions and outputs of an episode, every output its own words (no two rows are near duplicates)."""
    return [(f"{name} cmd {i}", f"{name} out {i} " + " ".join(f"{name}w{i}x{j}" for j in range(12)))
            for i in range(count)]


def _row(episode_id, step, raw="", **fields):
    return {"schema_version": "1.0", "episode_id": episode_id, "step": step, "domain": "search",
            "action": {"kind": "call", "arguments_json": "{}", "text": f"search({episode_id} {step})"},
            "next_observation": {"text": "", "raw": raw or f"{episode_id} result {step} words{step} of it",
                                 "raw_format": "text", "meta_json": "{}"}, **fields}


def _corrupt_column_chunk(path: Path, group: int, column: str) -> None:
    """Flip every byte of one column chunk of one row group, as a bad disk block would."""
    metadata = pq.ParquetFile(path).metadata.row_group(group)
    chunk = next(metadata.column(i) for i in range(metadata.num_columns)
                 if metadata.column(i).path_in_schema == column)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = bytes(b ^ 0x5A for b in
                                                            data[start:start + chunk.total_compressed_size])
    path.write_bytes(bytes(data))


def _with_invalid_utf8(table: pa.Table, row: int) -> pa.Table:
    """The table with row `row`'s next_observation.text replaced by bytes that are not UTF-8 (Arrow checks them only
    when a value is converted, so a writer can store them)."""
    observations = table.column("next_observation").combine_chunks()
    values = [text.encode() for text in observations.field("text").to_pylist()]
    values[row] = b"bad \xff\xfe text"
    offsets = np.cumsum([0] + [len(value) for value in values], dtype=np.int32)
    texts = pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(offsets.tobytes()),
                                                             pa.py_buffer(b"".join(values))])
    fields = [texts if field.name == "text" else observations.field(field.name) for field in observations.type]
    index = table.schema.get_field_index("next_observation")
    replaced = pa.StructArray.from_arrays(fields, fields=list(observations.type))
    return table.set_column(index, table.schema.field(index), replaced)


def _jsonl_lines() -> tuple[list[bytes], dict]:
    """A JSONL drop of good lines and every kind of bad one; the last line has no newline."""
    deep_meta = "[" * 5000 + "]" * 5000
    lines = {
        "good_0": json.dumps(_row("jl", 0)).encode(),
        "blank": b"   ",
        "not_json": b"{not json",
        "list": b"[1, 2]",
        "not_utf8": json.dumps(_row("jl", 90)).encode().replace(b"search(jl 90)", b"search(\xff\xfe)"),
        "lone_surrogate": json.dumps(_row("jl", 91)).replace("result", "\\ud800 result").encode(),
        "too_deep": b"[" * 100_000 + b"]" * 100_000,
        "huge_int": json.dumps(_row("jl", 92)).replace('"step": 92', '"step": ' + "9" * 5000).encode(),
        "step_too_big": json.dumps(_row("jl", 2**40)).encode(),
        "bad_base64": json.dumps(_row("jl", 94, state={"raw": {"base64": "abc"}, "raw_format": "text"})).encode(),
        "deep_meta": json.dumps(_row("jl", 93, next_observation={"raw": "x", "raw_format": "text",
                                                                 "meta_json": deep_meta})).encode(),
        # Timings with and without an offset: Arrow reads both as UTC, and comparing them raised TypeError.
        "mixed_times": json.dumps(_row("jl", 1, timings={"action_start": "2026-11-25T12:00:00+00:00",
                                                         "action_end": "2026-11-25T12:00:01"})).encode(),
        "controls_and_emoji": json.dumps(_row("jl", 2, raw="nul\x00 \x1b[31mred\x1b[0m bell\x07 \U0001F600")
                                         ).encode(),
        "good_3": json.dumps(_row("jl", 3)).encode(),
    }
    return list(lines.values()), {name: number for number, name in enumerate(lines, start=1)}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    raw, out = root / "raw", root / "out"
    store = EpisodeStore(raw)
    terminal = raw / "transitions" / "terminal"
    _episode(store, "terminal", "good", _steps("good", 3))

    # A pack whose row group 2 has a bad column chunk: the other groups are curated.
    packed = EpisodeStore(root / "packed")
    for episode in range(PACK_GROUPS * PACK_GROUP_ROWS // 3):
        _episode(packed, "terminal", f"pk{episode}", _steps(f"pk{episode}", 3))
    pack_collection(root / "packed", rows_per_group=PACK_GROUP_ROWS)
    [pack] = (root / "packed" / "transitions" / "terminal").glob("pack-*.parquet")
    _corrupt_column_chunk(pack, BAD_GROUP, "next_observation.raw")
    pack.rename(terminal / pack.name)

    # A pack whose rows have an unknown raw_format: each dead letter holds its whole row, from its own row group.
    unknown = EpisodeStore(root / "unknown")
    for episode in range(4):
        _episode(unknown, "mcp", f"uf{episode}", _steps(f"uf{episode}", 3), raw_format="no-such-format")
    pack_collection(root / "unknown", rows_per_group=5)
    [unknown_pack] = (root / "unknown" / "transitions" / "mcp").glob("pack-*.parquet")
    (raw / "transitions" / "mcp").mkdir(parents=True)
    unknown_pack.rename(raw / "transitions" / "mcp" / unknown_pack.name)

    # An episode whose row 4 holds a string that is not UTF-8.
    _episode(store, "terminal", "utf", _steps("utf", 6))
    pq.write_table(_with_invalid_utf8(pq.read_table(terminal / "utf.parquet"), 4), terminal / "utf.parquet")

    # An episode with a row the validator rejects, in a file where a column curation does not read is unreadable.
    _episode(store, "terminal", "flag", _steps("flag", 4))
    flagged = pq.read_table(terminal / "flag.parquet").to_pylist()
    flagged[2]["domain"] = "Not A Domain"
    pq.write_table(pa.Table.from_pylist(flagged, schema=TRANSITION_SCHEMA), terminal / "flag.parquet",
                   compression="none")
    _corrupt_column_chunk(terminal / "flag.parquet", 0, "provenance.seed")

    # Whole files that cannot be read, and paths that are not files.
    _episode(store, "terminal", "cut", _steps("cut", 3))
    (terminal / "cut.parquet").write_bytes((terminal / "cut.parquet").read_bytes()[:-40])
    (terminal / "empty.parquet").write_bytes(b"")
    (terminal / "dangling.jsonl").symlink_to(root / "nowhere.jsonl")
    (terminal / "folder.parquet").mkdir()

    search = raw / "transitions" / "search"
    search.mkdir(parents=True)
    lines, numbers = _jsonl_lines()
    (search / "drop.jsonl").write_bytes(b"\n".join(lines))
    (search / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(_row("bom", 0)).encode() + b"\r\n")
    # The same id in two files with other content: one is kept, the other dead-lettered.
    (search / "again.jsonl").write_text(json.dumps(_row("jl", 3, raw="another result for three")) + "\n")

    # What a killed run leaves: a work folder with parts, and shards published before it stopped (no stats.json).
    (out / ".work" / "parts" / "stage1").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["stale"]}), out / ".work" / "parts" / "stage1" / "stale.parquet")
    (out / "stage1").mkdir()
    pq.write_table(pa.table({"id": ["stale"]}), out / "stage1" / "part-old-00000-of-00001.parquet")
    refused = curate(raw, out)

    result = curate(raw, out, "--overwrite")
    assert result.returncode == 0, result.stderr[-3000:]
    records = (3 + PACK_GROUPS * PACK_GROUP_ROWS + 12 + 6 + 4 + 1 + 1  # episodes and packs; 1 per unreadable file
               + len(lines) - 1 + 1 + 1)  # JSONL lines but the blank one, bom.jsonl, again.jsonl
    return {"raw": raw, "out": out, "result": result, "refused": refused, "pack": terminal / pack.name,
            "lines": numbers, "drop": search / "drop.jsonl", "records": records}


@pytest.fixture(scope="module")
def letters(hostile):
    return rows(hostile["out"], "dead_letter")


def test_every_record_is_counted_once_and_lands_in_an_output(hostile, letters):
    stats = json.loads((hostile["out"] / "stats.json").read_text())
    assert "Traceback" not in hostile["result"].stderr
    assert stats["balanced"] and all(domain["balanced"] for domain in stats["domains"].values())
    assert stats["in"] == hostile["records"]
    assert stats["out"] == len(rows(hostile["out"], "transitions"))
    assert stats["dead_lettered"] == len(letters)
    assert stats["deduped"] == len(rows(hostile["out"], "dedupe"))
    assert f"{stats['dead_lettered']} records dead-lettered (dedupe: 1, normalize: 12, read: " in hostile[
        "result"].stderr and "FROM dead_letter" in hostile["result"].stderr


def test_a_corrupt_row_group_dead_letters_its_rows_and_the_others_are_kept(hostile, letters):
    pack = str(hostile["pack"].relative_to(hostile["raw"]))  # dead letters name files within --input
    first, last = BAD_GROUP * PACK_GROUP_ROWS, (BAD_GROUP + 1) * PACK_GROUP_ROWS - 1
    unreadable = sorted(int(letter["record_id"].rpartition("#")[2]) for letter in letters
                        if letter["source"] == pack)
    assert unreadable == list(range(first, last + 1))  # one letter per record, named file#row
    assert all(f"row group {BAD_GROUP}, rows {first}-{last}" in letter["reason"] and letter["stage"] == "read"
               for letter in letters if letter["source"] == pack)
    kept = {row["id"] for row in rows(hostile["out"], "transitions") if row["id"].startswith("pk")}
    assert len(kept) == (PACK_GROUPS - 1) * PACK_GROUP_ROWS  # the groups after the bad one too


def test_a_string_that_is_not_utf8_dead_letters_its_row_only(hostile, letters):
    [letter] = [letter for letter in letters if letter["source"].endswith("utf.parquet")]
    assert letter["record_id"].endswith("utf.parquet#4") and letter["stage"] == "validate"
    assert letter["reason"].startswith("next_observation: holds a string that is not UTF-8 (byte 0xff")
    record = json.loads(letter["record_json"])
    assert record["episode_id"] == "utf" and record["next_observation"]["text"] == {"base64": "YmFkIP/+IHRleHQ="}
    kept = sorted(row["step"] for row in rows(hostile["out"], "transitions") if row["episode_id"] == "utf")
    assert kept == [0, 1, 2, 3, 5]


def test_a_flagged_row_is_dead_lettered_when_a_column_it_does_not_need_is_unreadable(hostile, letters):
    [letter] = [letter for letter in letters if letter["record_id"] == "flag:2"]
    assert letter["stage"] == "validate" and "'Not A Domain' is not a domain name" in letter["reason"]
    assert json.loads(letter["record_json"])["next_observation"]["raw_format"] == "text"
    kept = sorted(row["step"] for row in rows(hostile["out"], "transitions") if row["episode_id"] == "flag")
    assert kept == [0, 1, 3]


def test_rows_that_cannot_be_normalized_keep_their_whole_record_from_their_own_row_group(hostile, letters):
    failed = {letter["record_id"]: json.loads(letter["record_json"]) for letter in letters
              if letter["stage"] == "normalize"}
    assert sorted(failed) == sorted(f"uf{episode}:{step}" for episode in range(4) for step in range(3))
    for record_id, record in failed.items():
        assert f"{record['episode_id']}:{record['step']}" == record_id  # the row at its own position
        assert record["timings"]["action_start"] and record["env"]["kind"] == "docker-image"  # read whole


def test_unreadable_files_are_one_dead_letter_each_naming_the_file(hostile, letters):
    for name, reason in (("cut.parquet", "Parquet magic bytes not found"), ("empty.parquet", "file size is 0")):
        [letter] = [letter for letter in letters if letter["source"].endswith(name)]
        assert letter["record_id"].endswith(f"{name}#0") and letter["stage"] == "read" and reason in letter["reason"]


@pytest.mark.parametrize("line, record_id, stage, reason", [
    ("not_json", "{drop}:{line}", "read", "line {line} is not JSON: Expecting property name"),
    ("list", "{drop}#{line}", "validate", "<record>: expected an object, got list"),
    ("not_utf8", "{drop}:{line}", "read", "line {line} is not UTF-8: byte 0xff at column"),
    ("lone_surrogate", "{drop}:{line}", "read", "line {line} cannot be read: holds a lone surrogate '\\ud800' in "
                                                "next_observation.raw"),
    ("too_deep", "{drop}:{line}", "read", "line {line} nests too deeply to read"),
    ("huge_int", "{drop}:{line}", "read", "line {line} cannot be read: Exceeds the limit (4300 digits)"),
    ("step_too_big", "jl:1099511627776", "validate", "step: 1099511627776 does not fit in int32"),
    ("deep_meta", "jl:93", "validate", "next_observation.meta_json: nests too deeply to parse"),
    ("bad_base64", "jl:94", "validate", "state.raw: expected binary, got dict {{'base64': 'abc'}}"),
])
def test_each_bad_jsonl_line_is_dead_lettered_with_its_reason(hostile, letters, line, record_id, stage, reason):
    drop = str(hostile["drop"].relative_to(hostile["raw"]))
    names = {"drop": drop, "line": hostile["lines"][line]}
    [letter] = [letter for letter in letters if letter["record_id"] == record_id.format(**names)]
    assert (letter["source"], letter["stage"]) == (drop, stage)
    assert letter["reason"].startswith(reason.format(**names)), letter["reason"]


def test_good_jsonl_lines_are_kept_whole(hostile):
    kept = {row["id"]: row for row in rows(hostile["out"], "transitions")}
    assert {"jl:0", "jl:1", "jl:2", "bom:0"} <= set(kept)  # a first line after a BOM, CRLF, mixed time offsets
    assert kept["jl:2"]["next_text"] == "nul\x00 \x1b[31mred\x1b[0m bell\x07 \U0001F600"
    assert "jl:90" not in kept and "jl:91" not in kept


def test_a_repeated_id_with_other_content_is_kept_once_and_dead_lettered_once(hostile, letters):
    kept = [row for row in rows(hostile["out"], "transitions") if row["id"] == "jl:3"]
    dead = [letter for letter in letters if letter["record_id"] == "jl:3"]
    assert len(kept) == 1 and len(dead) == 1 and dead[0]["stage"] == "dedupe"
    assert {kept[0]["next_text"], json.loads(dead[0]["record_json"])["next_text"]} == {
        "jl result 3 words3 of it", "another result for three"}
    # The letter names where the copy kept was read, so the two inputs that disagree can both be found.
    drop = hostile["drop"].relative_to(hostile["raw"])
    where = {str(drop): f"line {hostile['lines']['good_3']}", str(drop.parent / "again.jsonl"): "line 1"}
    kept_source = (set(where) - {dead[0]["source"]}).pop()
    assert dead[0]["reason"].endswith(f"was kept: {kept_source} {where[kept_source]}"), dead[0]["reason"]


def test_a_killed_runs_output_is_refused_without_overwrite_and_replaced_with_it(hostile):
    refused = hostile["refused"]
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "from a run that did not finish (no stats.json) (stage1); pass --overwrite" in refused.stderr
    run_id = json.loads((hostile["out"] / "stats.json").read_text())["settings"]["run_id"]
    assert all(path.name.startswith(f"part-{run_id}-") for path in (hostile["out"] / "stage1").iterdir())
    assert "stale" not in {row["id"] for row in rows(hostile["out"], "stage1")}
    assert not (hostile["out"] / ".work").exists()


def test_an_output_that_is_the_input_is_refused_and_the_raw_collection_kept(hostile, tmp_path):
    raw = tmp_path / "raw"
    (raw / "transitions" / "search").mkdir(parents=True)
    (raw / "transitions" / "search" / "a.jsonl").write_text(json.dumps(_row("keep", 0)) + "\n")
    for out in (raw, raw / "transitions" / "shards"):
        result = curate(raw, out, "--overwrite")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "would overwrite or be read as the raw collection" in result.stderr
    assert (raw / "transitions" / "search" / "a.jsonl").exists() and not (raw / "transitions" / "shards").exists()


def test_an_output_that_is_a_file_or_in_use_is_refused(tmp_path):
    raw = tmp_path / "raw"
    (raw / "transitions").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputExistsError, match="is a file, not a folder"):
        run_curation(str(raw), str(tmp_path / "file"))
    with output_lock(str(tmp_path / "out")):  # as a run in another process holds it
        result = curate(raw, tmp_path / "out", "--overwrite")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "another curation run is writing to" in result.stderr
    assert run_curation(str(raw), str(tmp_path / "out"))["balanced"]  # released with the run that held it
    assert not (tmp_path / "out" / ".curate.lock").exists()  # a published folder does not carry it


def test_a_lock_taken_on_the_file_a_finished_run_removed_is_taken_again(tmp_path, monkeypatch):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    stale = open(out / ".curate.lock", "a")  # opened before the run holding it removed the file
    (out / ".curate.lock").unlink()
    real_open, opened = open, []

    def open_the_removed_file_first(path, *args, **kwargs):
        opened.append(path)
        return stale if len(opened) == 1 else real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", open_the_removed_file_first)
    with output_lock(str(out)):
        monkeypatch.setattr("builtins.open", real_open)
        assert len(opened) == 2 and (out / ".curate.lock").exists()
        with open(out / ".curate.lock") as other:  # a third run, opening the path now, is shut out
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_whole_rows_are_read_back_by_position_across_row_groups_past_an_unreadable_one(hostile):
    from transforms.io import read_parquet_rows

    pack, bad = hostile["pack"], range(BAD_GROUP * PACK_GROUP_ROWS, (BAD_GROUP + 1) * PACK_GROUP_ROWS)
    positions = [0, PACK_GROUP_ROWS + 1, bad[0], bad[-1], PACK_GROUPS * PACK_GROUP_ROWS - 1]
    found = read_parquet_rows(str(pack), positions)
    assert sorted(found) == [position for position in positions if position not in bad]
    whole = pq.ParquetFile(pack).read_row_group(PACK_GROUPS - 1).to_pylist()
    assert found[positions[-1]] == whole[-1] and "timings" in found[0]
