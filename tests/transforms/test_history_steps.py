"""How many earlier steps a stage row shows (`worldline curate --history-steps`): the last N (4 by default, as
before the option), 0 (none: the prompt opens with the state the action was taken in) or every one (None, `all`),
for environments whose state is the whole transcript, as a REPL's. Stage 1 in the window layout, stages 2 and 3;
the episode layout's stage 1 documents do not depend on it."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from tests.formats.test_stages import _file_of_episodes, _reference_stage_rows, curated_episode
from transforms import curate
from transforms.card import dataset_card
from transforms.curate import DEAD_LETTER, PARTS, CurateOptions, FinishFn, curated_table
from transforms.io import write_pickled
from transforms.stage_tables import build_stage_tables
from transforms.stages import HISTORY_STEPS, StageError, build_stage_rows


def _turns(messages: list[dict]) -> list[int]:
    return [int(m["content"].split("\n", 1)[0].removeprefix("### Turn ")) for m in messages if m["role"] == "user"]


def test_a_repl_definition_made_six_steps_back_is_in_the_prompt_only_with_a_window_that_long():
    episode = curated_episode(7)
    episode[0].update(action_text="x = 6 * 7", next_text=">>> ")
    episode[6].update(action_text="print('hello', x)", next_text="hello 42\n>>> ", next_volatile_spans=[])
    shown = {window: " ".join(m["content"] for m in build_stage_rows(episode[:6], episode[6], "T",
                                                                     window=window)[1]["messages"])
             for window in (HISTORY_STEPS, 5, 6, None)}
    # As in a recorded python REPL episode: step 6 prints what step 0 defined.
    assert "x = 6 * 7" not in shown[HISTORY_STEPS] and "x = 6 * 7" not in shown[5]
    assert "x = 6 * 7" in shown[6] and "x = 6 * 7" in shown[None]


@pytest.mark.parametrize("window", [0, 1, None])
def test_rows_show_the_window_asked_for(window):
    episode = curated_episode(6)
    stage1, stage2, stage3 = build_stage_rows(episode[:5], episode[5], "T", window=window)
    assert _turns(stage2["messages"]) == {0: [6], 1: [5, 6], None: [1, 2, 3, 4, 5, 6]}[window]
    assert stage3["prompt"] == stage2["messages"]
    assert stage1["text"].count("\n\nAction:\n") == len(_turns(stage2["messages"]))
    # The first user turn (and the document's opening) holds the state its first step was taken in.
    opening = {0: episode[5], 1: episode[4], None: episode[0]}[window]["state_text"]
    assert f"**Current State:**\n```\n{opening}\n```\n\n" in stage2["messages"][1]["content"]
    assert stage1["text"].startswith(f"Environment: terminal\n\nTask: Run the commands.\n\nObservation:\n{opening}\n\n"
                                     "Action:\n")
    if window == 0:
        assert [m["role"] for m in stage2["messages"]] == ["system", "user"]


def test_the_whole_episode_is_every_earlier_step_in_any_history_order():
    episode = curated_episode(12)
    longest = len(episode)
    for history in (episode[:9], list(reversed(episode)), episode + episode[:4]):
        for current in (episode[0], episode[5], episode[-1]):
            assert build_stage_rows(history, current, "T", window=None) == \
                _reference_stage_rows(history, current, "T", window=longest + 4)


@pytest.mark.parametrize("window", [-1, -4, 2.5, True, "all"])
def test_a_window_that_is_not_a_number_of_steps_is_refused_in_one_line(window):
    episode = curated_episode(3)
    for build in (lambda: build_stage_rows(episode[:2], episode[2], "T", window=window),
                  lambda: CurateOptions(history_steps=window)):
        with pytest.raises(ValueError) as caught:
            build()
        assert not isinstance(caught.value, StageError)
        message = str(caught.value)
        assert "\n" not in message and "history steps" in message and repr(window) in message


def test_the_default_is_four_steps_as_before_the_option():
    episode = curated_episode(7)
    assert CurateOptions().history_steps == HISTORY_STEPS == 4
    _, stage2, _ = build_stage_rows(episode[:6], episode[6], "T")
    assert _turns(stage2["messages"]) == [3, 4, 5, 6, 7]
    assert build_stage_rows(episode[:6], episode[6], "T") == _reference_stage_rows(episode[:6], episode[6], "T")


@pytest.mark.parametrize("window", [0, 1, 3, None])
def test_stage_tables_equal_the_rows_built_one_by_one(window):
    rows = _file_of_episodes()
    starts = [next(i for i, row in enumerate(rows) if row["episode_id"] == current["episode_id"])
              for current in rows]
    currents = [k for k in range(len(rows)) if k != 6]  # a removed row: history, no rows of its own
    traces = [f"trace {k}" for k in currents]
    built = build_stage_tables(rows, curated_table([rows[k] for k in currents]), np.array(currents),
                               np.array(starts)[currents], np.array(currents), traces, window=window)
    expected = []
    for k, position in enumerate(currents):
        try:
            expected.append(build_stage_rows(rows[starts[position]:position], rows[position], traces[k],
                                             window=window))
        except StageError:
            pass
    assert len(built.errors) == 1 and len(expected) == len(currents) - 1
    for index, (table, schema) in enumerate(zip((built.stage1, built.stage2, built.stage3),
                                                (STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA))):
        assert table.equals(pa.Table.from_pylist([rows_of[index] for rows_of in expected], schema=schema))
    chats = dict(zip(built.stage2.column("id").to_pylist(), built.stage2.column("messages").to_pylist()))
    # é0:8's turns are numbered by their steps, the removed é0:6 and the dead-lettered é0:4 still among them.
    assert _turns(chats["é0:8"]) == {0: [9], 1: [8, 9], 3: [6, 7, 8, 9], None: list(range(1, 10))}[window]


def _finish(tmp_path, rows, options) -> dict:
    prepared = str(tmp_path / "work" / "prepared" / "file-1.pickle.lz4")
    write_pickled(prepared, rows)
    finish = FinishFn(options, str(tmp_path / "work"))
    finish.setup()
    finish.start_bundle()
    outputs = list(finish.process(("file", prepared), {}, {})) + list(finish.finish_bundle())
    assert not [item for item in outputs if item.tag == DEAD_LETTER]
    return {name: pq.read_table(path) for name, path in (item.value.value for item in outputs if item.tag == PARTS)}


def test_finish_builds_with_the_options_window_fewer_rows_at_once_when_it_is_longer(tmp_path, monkeypatch):
    """The window reaches the stage tables through CurateOptions (what a worker gets, pickled with its DoFn), and a
    longer one builds fewer rows at a time so that a slice holds about as much text: the same rows either way."""
    episode = [{**row, "source": "raw.parquet"} for row in curated_episode(12)]
    sizes = []
    build = curate.build_stage_tables
    monkeypatch.setattr(curate, "build_stage_tables", lambda *args, **kwargs: sizes.append(len(args[2])) or
                        build(*args, **kwargs))
    monkeypatch.setattr(curate, "BUILD_ROWS", 6)
    tables = {window: _finish(tmp_path / str(window), episode, CurateOptions(history_steps=window))
              for window in (HISTORY_STEPS, 0, None)}
    # BUILD_ROWS * 5 // (window + 1) at once: 6 with the default window, 30 (all 12) with none, and 2 with every
    # earlier step (the longest history, the last row's, is 11 steps).
    assert sizes == [6, 6, 12, 2, 2, 2, 2, 2, 2]
    for window, found in tables.items():
        chats = dict(zip(found["stage2"].column("id").to_pylist(), found["stage2"].column("messages").to_pylist()))
        assert _turns(chats["ep1:11"]) == {HISTORY_STEPS: [8, 9, 10, 11, 12], 0: [12], None: list(range(1, 13))}[
            window]
        assert found["transitions"].equals(tables[HISTORY_STEPS]["transitions"])
    monkeypatch.setattr(curate, "BUILD_ROWS", 1000)
    assert _finish(tmp_path / "once", episode, CurateOptions(history_steps=None))["stage2"].equals(
        tables[None]["stage2"])


def _rule(card: str) -> str:
    """The card's rule for reading about one pass over the window layout's stage 1 documents."""
    return " ".join(card.split("## Overlap in stage 1")[1].split("##")[0].split())


@pytest.mark.parametrize("window", [0, 1, 2, HISTORY_STEPS, None])
def test_the_cards_one_pass_rule_holds_for_the_window_used(window):
    """The rows the card says to keep hold every observation of an episode, each in at most two of them."""
    history = "all" if window is None else window
    rule = _rule(dataset_card({}, {"stage1_layout": "window", "stage1_max_chars": 0, "history_steps": history}))
    modulo = re.search(r"`step % (\d+) == (\d+)`", rule)
    episodes = {name: curated_episode(steps) for name, steps in (("long", 13), ("short", 3), ("five", 5))}
    kept = []
    for name, episode in episodes.items():
        for row in episode:
            row.update(id=f"{name}:{row['step']}", episode_id=name, next_text=f"observation {name} {row['step']} ",
                       next_volatile_spans=[])
        for row in episode:
            last = row is episode[-1]
            if (modulo and (row["step"] % int(modulo[1]) == int(modulo[2]) or last)) or (
                    not modulo and (last if window is None else True)):
                kept.append(build_stage_rows(episode[:row["step"]], row, "T", window=window)[0]["text"])
    if window is None:
        assert not modulo and "keep each episode's last row" in rule
    elif window == 0:
        assert not modulo and "one pass over stage 1 reads each next observation once" in rule
    else:
        assert modulo and (int(modulo[1]), int(modulo[2])) == (window + 1, window)
        assert f"in up to {window + 1} of them" in rule
    texts = " ".join(kept)
    for name, episode in episodes.items():
        for row in episode:
            assert 1 <= texts.count(f"observation {name} {row['step']} ") <= 2, (window, row["id"])


def test_the_card_says_the_window_in_the_stage_descriptions():
    def folders(settings):
        return dataset_card({}, settings, "run").split("\n## Folders and columns")[1].split("\n## ")[0]

    default, four = folders({}), folders({"history_steps": 4})
    assert default == four  # a run before the option showed 4
    assert four.count("The window is the 4 steps before the row's own (`worldline curate --history-steps 4`") == 2
    assert folders({"history_steps": 1}).count("The window is the step before the row's own") == 2
    assert "The window is empty in this run (`worldline curate --history-steps 0`)" in folders({"history_steps": 0})
    assert folders({"history_steps": "all"}).count("every earlier step of the row's episode") == 2
    # The episode layout's documents do not depend on it: only stage 2's description says it.
    episode = folders({"history_steps": 1, "stage1_layout": "episode", "stage1_max_chars": 0})
    assert episode.count("The window is the step before the row's own") == 1
