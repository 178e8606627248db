"""Stage 1's episode layout (`worldline curate --stage1-layout episode`): a document per run of consecutive written
steps of an episode, so each curated transition is a step of exactly one document. A step left out (removed as a
duplicate, dead-lettered) ends a document, and the next one restates the state its first step was taken in: every
action follows the observation it was taken in. Stages 2 and 3 and the transitions are those of the window layout."""

import inspect
import json
import subprocess
import sys
from collections import Counter

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from collectors.store import EpisodeStore
from pipelines.cli import build_cli
from pipelines.commands.curate import curate_command
from pipelines.curate import run_curation
from schemas import STAGE1_SCHEMA
from tests.formats.test_stages import _file_of_episodes, curated_episode
from tests.pipelines.curation_raw_collection import LONG, _episode, write_raw_collection
from transforms import curate
from transforms.card import dataset_card
from transforms.curate import DEAD_LETTER, PARTS, CurateOptions, FinishFn, build_slices, curated_table
from transforms.io import write_pickled
from transforms.stage_tables import build_stage_tables
from transforms.stages import (EPISODE_DOCUMENT_CHARS, STAGE1_LAYOUTS, build_stage_rows, document_starts,
                               episode_documents)


def _text(domain, instruction, state, steps) -> str:
    """A document as formats.md spells it: the opening, then each (action, next observation)."""
    return (f"Environment: {domain}\n\nTask: {instruction}\n\nObservation:\n{state}"
            + "".join(f"\n\nAction:\n{action}\n\nObservation:\n{observation}" for action, observation in steps)
            + "\n")


def _document_of(run: list[dict]) -> str:
    return _text(run[0]["domain"], run[0]["instruction"], run[0]["state_text"],
                 [(row["action_text"], row["next_text"]) for row in run])


# ---- the documents of a list of written transitions ----------------------------------------------------------

def test_a_step_removed_in_the_middle_ends_a_document_and_the_next_restates_its_state():
    episode = curated_episode(7)
    written = episode[:3] + episode[4:]  # step 3 removed as a duplicate
    documents = episode_documents(written)
    assert [(row["id"], row["step"]) for row in documents] == [("ep1:0", 0), ("ep1:4", 4)]
    assert [row["text"] for row in documents] == [_document_of(episode[:3]), _document_of(episode[4:])]
    # The second opens with the screen step 4 was typed into (step 3's output), not step 2's: cmd4 is not shown as
    # typed after out2.
    assert documents[1]["text"].startswith(
        "Environment: terminal\n\nTask: Run the commands.\n\nObservation:\n$ cmd3\nout3\n$\n\nAction:\ncmd4\n")
    assert not any("cmd3\n\nObservation" in row["text"] for row in documents)
    assert all(row["domain"] == "terminal" and row["episode_id"] == "ep1" for row in documents)


def test_removed_first_and_last_steps_leave_one_document_of_the_steps_between():
    episode = curated_episode(7)
    [document] = episode_documents(episode[1:6])
    assert (document["id"], document["step"]) == ("ep1:1", 1)
    assert document["text"] == _document_of(episode[1:6])
    assert document["text"].count("\n\nAction:\n") == 5
    assert "Action:\ncmd0\n" not in document["text"] and "Action:\ncmd6\n" not in document["text"]


def test_a_single_step_episode_is_the_window_document_of_that_step():
    [row] = curated_episode(1)
    [document] = episode_documents([row])
    assert document == build_stage_rows([], row, "T")[0]


def test_a_new_episode_or_a_repeated_step_begins_a_document_and_missing_texts_are_empty():
    other = [{**row, "id": row["id"].replace("ep1", "ep2"), "episode_id": "ep2"} for row in curated_episode(2)]
    bare = {**curated_episode(3)[2], "instruction": None, "state_text": None, "action_text": None, "next_text": None}
    documents = episode_documents(curated_episode(2) + other + [bare])
    assert [row["id"] for row in documents] == ["ep1:0", "ep2:0", "ep1:2"]  # another episode, then back to ep1
    assert documents[2]["text"] == _text("terminal", "(no instruction)", "", [("", "")])
    assert document_starts([curated_episode(1)[0]] * 2).tolist() == [True, True]  # one step twice is no run


def test_every_written_transition_is_a_step_of_exactly_one_document():
    rng = np.random.default_rng(5)
    for _ in range(20):
        written = [row for row in curated_episode(12) if rng.random() < 0.7]
        documents = episode_documents(written, max_chars=int(rng.integers(0, 400)))
        steps = Counter(f"\n\nAction:\n{row['action_text']}\n\nObservation:\n{row['next_text']}" for row in written)
        assert sum(row["text"].count("\n\nAction:\n") for row in documents) == len(written)
        for step in steps:
            assert sum(row["text"].count(step) for row in documents) == 1
        # Each document is a run of consecutive steps, opening with its first step's state.
        begins = [next(k for k, row in enumerate(written) if row["id"] == document["id"]) for document in documents]
        for first, end in zip(begins, begins[1:] + [len(written)]):
            run = written[first:end]
            assert [row["step"] for row in run] == list(range(run[0]["step"], run[0]["step"] + len(run)))


def test_a_document_is_split_before_the_step_that_would_take_it_past_the_budget():
    episode = curated_episode(9)
    budget = max(len(_document_of(episode[k:k + 3])) for k in (0, 3, 6))  # a step is longer than 3 opening states
    documents = episode_documents(episode, max_chars=budget)
    assert [row["id"] for row in documents] == ["ep1:0", "ep1:3", "ep1:6"]
    assert [row["text"] for row in documents] == [_document_of(episode[k:k + 3]) for k in (0, 3, 6)]
    tighter = episode_documents(episode, max_chars=budget - 1)
    assert len(tighter) > 3 and all(len(row["text"]) < budget for row in tighter)
    # A step longer than the budget on its own is a document of its own; 0 is no budget.
    assert len(episode_documents(episode, max_chars=10)) == 9
    assert len(episode_documents(episode, max_chars=0)) == len(episode_documents(episode)) == 1
    assert EPISODE_DOCUMENT_CHARS == CurateOptions().stage1_max_chars


# ---- as Arrow tables, as Finish builds them ------------------------------------------------------------------

@pytest.mark.parametrize("max_chars", [0, 60, 200, EPISODE_DOCUMENT_CHARS])
def test_the_episode_table_equals_the_documents_built_one_by_one_and_the_other_stages_do_not_change(max_chars):
    rows = _file_of_episodes()  # with a row whose stage rows fail (dead-lettered), unicode, empty and missing texts
    starts = [next(k for k, row in enumerate(rows) if row["episode_id"] == current["episode_id"]) for current in rows]
    currents = [k for k in range(len(rows)) if k != 7]  # one removed: still history for the window's stages
    args = (rows, curated_table([rows[k] for k in currents]), np.array(currents), np.array(starts)[currents],
            np.array(currents), [f"trace {k}" for k in currents])
    window = build_stage_tables(*args)
    episode = build_stage_tables(*args, stage1_layout="episode", max_document_chars=max_chars)
    written = [rows[currents[k]] for k in episode.built.tolist()]
    assert episode.built.tolist() == window.built.tolist() and len(written) == len(currents) - 1
    assert episode.stage1.equals(pa.Table.from_pylist(episode_documents(written, max_chars), schema=STAGE1_SCHEMA))
    assert episode.stage2.equals(window.stage2) and episode.stage3.equals(window.stage3)


def test_slices_end_only_where_a_document_begins():
    assert build_slices(range(7), 7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert build_slices([0, 1, 5, 6], 8, 3) == [slice(0, 5), slice(5, 8)]
    assert build_slices([0], 9, 3) == [slice(0, 9)]
    assert build_slices([], 0, 3) == []


def _finish(tmp_path, rows, removed, options) -> dict:
    prepared = str(tmp_path / "work" / "prepared" / "file-1.pickle.lz4")
    write_pickled(prepared, rows)
    finish = FinishFn(options, str(tmp_path / "work"))
    finish.setup()
    finish.start_bundle()
    outputs = list(finish.process(("file", prepared), removed, {})) + list(finish.finish_bundle())
    assert not [item for item in outputs if item.tag == DEAD_LETTER]
    return {name: pq.read_table(path) for name, path in (item.value.value for item in outputs if item.tag == PARTS)}


def test_finish_writes_whole_documents_whatever_its_slices(tmp_path, monkeypatch):
    """Finish builds a file's rows a few at a time (BUILD_ROWS, 3 here): in the episode layout it cuts only where a
    document begins, so a document is the same as if the file were built at once."""
    monkeypatch.setattr(curate, "BUILD_ROWS", 3)
    episode = curated_episode(9)
    other = [{**row, "id": row["id"].replace("ep1", "ep2"), "episode_id": "ep2"} for row in curated_episode(2)]
    rows = [{**row, "source": "raw.parquet"} for row in episode + other]
    removed = {"ep1:6": ("exact", "ep0:6")}
    window = _finish(tmp_path / "window", rows, removed, CurateOptions())
    tables = _finish(tmp_path / "episode", rows, removed, CurateOptions(stage1_layout="episode"))
    written = [row for row in episode + other if row["id"] not in removed]
    expected = pa.Table.from_pylist(episode_documents(written), schema=STAGE1_SCHEMA)
    assert tables["stage1"].sort_by("id").equals(expected.sort_by("id"))
    assert tables["stage1"].column("id").to_pylist() == ["ep1:0", "ep1:7", "ep2:0"]
    for name in ("transitions", "stage2", "stage3"):
        assert tables[name].equals(window[name]), name


# ---- the command, the card and a real run --------------------------------------------------------------------

def test_help_shows_the_layouts_and_defaults_agree():
    result = CliRunner().invoke(build_cli(), ["curate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--stage1-layout" in result.output and "<window|episode>" in result.output
    assert "--stage1-max-chars" in result.output
    parameters = inspect.signature(curate_command).parameters
    assert parameters["stage1_layout"].default.default == CurateOptions().stage1_layout == STAGE1_LAYOUTS[0]
    assert inspect.get_annotations(curate_command, eval_str=True)["stage1_layout"].__args__ == STAGE1_LAYOUTS
    assert parameters["stage1_max_chars"].default.default == EPISODE_DOCUMENT_CHARS


def test_the_card_describes_the_layout_used():
    def body(settings):
        return dataset_card({}, settings, "run").split("---\n", 2)[2].split("## Settings")[0]

    window, default = body({"stage1_layout": "window", "stage1_max_chars": 600_000}), body({})
    episode = body({"stage1_layout": "episode", "stage1_max_chars": 600_000})
    assert window == default  # a run before the option wrote the window layout
    assert "## Overlap in stage 1" in window and "`step % 5 == 4`" in window and "## Stage 1 documents" not in window
    assert "## Overlap in stage 1" not in episode and "step % 5" not in episode
    assert "exactly one document" in episode and "past 600,000 characters" in episode
    assert "the observation before the document's first step" in episode
    assert "past" not in body({"stage1_layout": "episode", "stage1_max_chars": 0}).split("## Stage 1 documents")[1] \
        .split("##")[0]
    for column in STAGE1_SCHEMA.names:
        assert f"`{column}`" in episode


def _rows(folder, name) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet') ORDER BY ALL").to_arrow_table() \
        .to_pylist()


def test_an_episode_layout_run_writes_each_kept_transition_in_exactly_one_document(tmp_path):
    raw = tmp_path / "raw"
    write_raw_collection(raw)
    # A step in the middle that repeats term-a:2 (same screen, command and output): removed as an exact duplicate.
    _episode(EpisodeStore(raw), "terminal", "term-d", [("cat listing", LONG), ("wc -l notes", "17 notes"),
                                                        ("echo done", "done")])
    window_stats = run_curation(str(raw), str(tmp_path / "window"))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                             str(tmp_path / "episode"), "--stage1-layout", "episode"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "episode"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["settings"]["stage1_layout"] == "episode"
    # Only stage 1's lengths differ: its documents are the layout's.
    assert {k: v for k, v in stats.items() if k not in ("settings", "stage1_lengths")} == \
        {k: v for k, v in window_stats.items() if k != "stage1_lengths"}
    for name in ("transitions", "stage2", "stage3", "dedupe"):
        assert _rows(out, name) == _rows(tmp_path / "window", name), name

    kept = _rows(out, "transitions")
    documents = _rows(out, "stage1")
    assert stats["stage1_lengths"]["all"]["rows"] == len(documents)
    assert stats["stage1_lengths"]["all"]["text_chars"]["total"] == sum(len(row["text"]) for row in documents)
    assert {row["id"] for row in _rows(out, "dedupe")} >= {"term-b:1", "term-c:0", "term-c:1", "term-d:1"}
    texts = [row["text"] for row in documents]
    assert sum(text.count("\n\nAction:\n") for text in texts) == len(kept)
    for row in kept:
        step = f"\n\nAction:\n{row['action_text']}\n\nObservation:\n{row['next_text']}\n"
        assert sum(text.count(step) for text in texts) == 1, row["id"]
    # The documents are those of the transitions written, each episode's in step order: term-c's and term-d's
    # restate the state after the steps removed.
    in_order = sorted(kept, key=lambda row: (row["episode_id"], row["step"]))
    assert documents == sorted(episode_documents(in_order), key=lambda row: tuple(row.values()))
    assert [row["id"] for row in documents if row["episode_id"] in ("term-c", "term-d")] == \
        ["term-c:2", "term-d:0", "term-d:2"]
    card = (out / "README.md").read_text()
    assert "## Stage 1 documents" in card and "## Overlap in stage 1" not in card
