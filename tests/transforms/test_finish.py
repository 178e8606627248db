"""Finish over one prepared file: kept rows go to the four tables, removed ones to the dedupe list (yet stay in
their episode's history), and rows whose trace or stage rows cannot be made to dead letters, named."""

import pyarrow.parquet as pq

from tests.formats.test_stages import curated_episode
from transforms.curate import DEAD_LETTER, DUPLICATES, PARTS, CurateOptions, FinishFn
from transforms.io import TableBatches, write_pickled


def test_finish_writes_kept_rows_and_dead_letters_the_rest(tmp_path):
    episode = curated_episode(7)
    other = curated_episode(3, domain="web")
    for row in other:
        row.update(id=row["id"].replace("ep1", "ep2"), episode_id="ep2")
    rows = [{**row, "source": "raw.parquet"} for row in episode + other]
    rows[2]["next_volatile_spans"] = [{"start": 3, "end": 999, "kind": "pid"}]  # outside its observation
    rows[5]["next_meta_json"] = "{not json"  # the grounded synthesizer cannot read it
    prepared = str(tmp_path / "work" / "prepared" / "file-1.pickle.lz4")
    write_pickled(prepared, rows[::-1])  # Finish puts each episode in step order itself
    finish = FinishFn(CurateOptions(reasoning_batch=2), str(tmp_path / "work"))
    finish.setup()
    finish.start_bundle()
    outputs = list(finish.process(("file", prepared), {"ep1:3": ("exact", "ep0:3")}, {}))
    outputs += list(finish.finish_bundle())

    letters = {item.value["record_id"]: item.value for item in outputs if item.tag == DEAD_LETTER}
    assert {record: letter["stage"] for record, letter in letters.items()} == {"ep1:2": "stages",
                                                                             "ep1:5": "reasoning"}
    assert letters["ep1:2"]["reason"].startswith("StageError: record ep1:2: volatile span [3,999)")
    assert [item.value["id"] for item in outputs if item.tag == DUPLICATES] == ["ep1:3"]
    tables = {name: pq.read_table(path) for name, path in (item.value.value for item in outputs if item.tag == PARTS)}
    kept = ["ep1:0", "ep1:1", "ep1:4", "ep1:5", "ep1:6", "ep2:0", "ep2:1", "ep2:2"]
    for name in ("transitions", "stage1", "stage3"):
        assert sorted(tables[name].column("id").to_pylist()) == kept
    # Only the stage-2 row needs the trace that failed.
    assert sorted(tables["stage2"].column("id").to_pylist()) == [row_id for row_id in kept if row_id != "ep1:5"]
    texts = dict(zip(tables["stage1"].column("id").to_pylist(), tables["stage1"].column("text").to_pylist()))
    assert "Action:\ncmd3\n" in texts["ep1:4"]  # the removed duplicate is still history
    # Windows of 4 turns, within the episode: ep1:4 sees steps 0-3, ep2:1 only ep2's step 0.
    assert texts["ep1:4"].count("Action:") == 5 and texts["ep2:1"].count("Action:") == 2
    # The chats show the same steps, each turn numbered by its step: the removed duplicate (3) and the rows whose
    # trace or stage rows failed (5, 2) are turns too, since they happened.
    chats = dict(zip(tables["stage2"].column("id").to_pylist(), tables["stage2"].column("messages").to_pylist()))
    turns = [message["content"].split("\n", 1)[0] for message in chats["ep1:6"] if message["role"] == "user"]
    assert turns == ["### Turn 3", "### Turn 4", "### Turn 5", "### Turn 6", "### Turn 7"]
    assert "**Action:**\n```\ncmd3\n```" in chats["ep1:6"][3]["content"]


def test_added_tables_of_one_output_stay_apart_from_another():
    import pyarrow as pa

    schemas = {"a": pa.schema([pa.field("n", pa.int64())]), "b": pa.schema([pa.field("n", pa.int64())])}
    batches = TableBatches(schemas, rows=3)
    assert batches.add_table("a", pa.table({"n": [1, 2]}, schema=schemas["a"])) == []
    full = batches.add_table("b", pa.table({"n": [7, 8, 9, 10]}, schema=schemas["b"]))
    assert [table.column("n").to_pylist() for table in full] == [[7, 8, 9]]
    assert {name: table.column("n").to_pylist() for name, table in batches.flush()} == {"a": [1, 2], "b": [10]}


def test_rows_whose_stage_texts_outgrow_an_arrow_array_are_built_apart_then_dead_lettered(tmp_path, monkeypatch):
    from transforms import stage_tables

    # The limit is 2 GiB; 15,000 bytes stands for it, and one observation of 20,000 characters for one of GBs: it is
    # in the texts of its own row and of the three after it (their windows).
    monkeypatch.setattr(stage_tables, "MAX_COLUMN_BYTES", 15_000)
    rows = [{**row, "source": "raw.parquet"} for row in curated_episode(7)]
    rows[3]["next_text"] = "x" * 20_000
    prepared = str(tmp_path / "work" / "prepared" / "file-1.pickle.lz4")
    write_pickled(prepared, rows)
    finish = FinishFn(CurateOptions(), str(tmp_path / "work"))
    finish.setup()
    finish.start_bundle()
    outputs = list(finish.process(("file", prepared), {}, {})) + list(finish.finish_bundle())
    letters = {item.value["record_id"]: item.value["reason"] for item in outputs if item.tag == DEAD_LETTER}
    assert sorted(letters) == ["ep1:3", "ep1:4", "ep1:5", "ep1:6"]
    assert all(reason.startswith("StageTextTooLarge: ") for reason in letters.values())
    tables = {name: pq.read_table(path) for name, path in (item.value.value for item in outputs if item.tag == PARTS)}
    for name in ("transitions", "stage1", "stage2", "stage3"):
        assert sorted(tables[name].column("id").to_pylist()) == ["ep1:0", "ep1:1", "ep1:2"]
