from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from schemas import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from schemas.validate import check_against_schema
from transforms.prompts import system_prompt, turn_prompt
from transforms.stages import StageError, answer, build_stage_rows, rubric_id, split_spans


def curated_episode(steps: int = 6, domain: str = "terminal") -> list[dict]:
    rows = []
    for step in range(steps):
        state = "$" if step == 0 else f"$ cmd{step - 1}\nout{step - 1}\n$"
        next_text = f"$ cmd{step}\nout{step} pid=4242 at 12:00:0{step}\n$"
        pid, clock = next_text.index("4242"), next_text.index("12:00")
        rows.append({"id": f"ep1:{step}", "episode_id": "ep1", "step": step, "domain": domain, "task_id": "t1",
                     "instruction": "Run the commands.", "action_kind": "keys", "action_text": f"cmd{step}",
                     "state_text": state, "next_text": next_text,
                     "next_volatile_spans": [{"start": pid, "end": pid + 4, "kind": "pid"},
                                             {"start": clock, "end": clock + 8, "kind": "timestamp"}],
                     "content_hash": f"h{step}", "done": step == steps - 1, "error": None, "perturbations": [],
                     "collector": "terminal", "stand_in": None})
    return rows


def test_rows_match_the_stage_schemas():
    episode = curated_episode()
    rows = build_stage_rows(episode, episode[5], "trace text")
    for row, schema in zip(rows, (STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA)):
        assert check_against_schema(row, schema) == []
        pa.Table.from_pylist([row], schema=schema)  # and Arrow accepts them as they are


def _user_turns(messages: list[dict]) -> list[str]:
    return [message["content"] for message in messages if message["role"] == "user"]


def test_window_keeps_the_last_turns_before_the_current_step():
    episode = curated_episode()
    stage1, stage2, _ = build_stage_rows(list(reversed(episode)), episode[5], "T", window=2)
    # Turns 3 and 4 are history; the opening observation is the state before turn 3.
    assert stage1["text"] == ("Environment: terminal\n\nTask: Run the commands.\n\nObservation:\n$ cmd2\nout2\n$\n\n"
                              "Action:\ncmd3\n\nObservation:\n" + episode[3]["next_text"] + "\n\n"
                              "Action:\ncmd4\n\nObservation:\n" + episode[4]["next_text"] + "\n\n"
                              "Action:\ncmd5\n\nObservation:\n" + episode[5]["next_text"] + "\n")
    roles = [m["role"] for m in stage2["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert stage2["messages"][0]["content"] == system_prompt("terminal")
    # A window that starts mid-episode opens with its first turn's real number, the task and the state before it.
    assert _user_turns(stage2["messages"]) == [
        "### Turn 4\n**Task Instruction:**\nRun the commands.\n\n**Current State:**\n```\n$ cmd2\nout2\n$\n```\n\n"
        "**Action:**\n```\ncmd3\n```",
        "### Turn 5\n**Action:**\n```\ncmd4\n```",
        "### Turn 6\n**Action:**\n```\ncmd5\n```"]
    assert stage2["messages"][2]["content"] == f"<predicted_observation>{episode[3]['next_text']}</predicted_observation>"
    assert stage2["target"] == f"<think>T</think>\n<predicted_observation>{episode[5]['next_text']}</predicted_observation>"
    assert (stage2["id"], stage2["step"], stage2["reasoning_source"]) == ("ep1:5", 5, "grounded")


def test_first_step_has_no_history():
    episode = curated_episode()
    stage1, stage2, stage3 = build_stage_rows(episode, episode[0], "T")
    assert [m["role"] for m in stage2["messages"]] == ["system", "user"]
    assert stage2["messages"][1]["content"] == ("### Turn 1\n**Task Instruction:**\nRun the commands.\n\n"
                                                "**Current State:**\n```\n$\n```\n\n**Action:**\n```\ncmd0\n```")
    assert stage3["prompt"] == stage2["messages"]


def test_chat_turns_are_numbered_by_their_recorded_step():
    """Step 4 never reached curation (dead-lettered at validation): the window is the steps the history holds, each
    turn numbered by its step, so the chat shows the gap, and the document shows the same steps."""
    episode = curated_episode(7)
    history = [row for row in episode[:6] if row["step"] != 4]
    stage1, stage2, _ = build_stage_rows(history, episode[6], "T", window=2)
    assert _user_turns(stage2["messages"]) == [
        "### Turn 4\n**Task Instruction:**\nRun the commands.\n\n**Current State:**\n```\n$ cmd2\nout2\n$\n```\n\n"
        "**Action:**\n```\ncmd3\n```",
        "### Turn 6\n**Action:**\n```\ncmd5\n```",
        "### Turn 7\n**Action:**\n```\ncmd6\n```"]
    assert stage2["messages"][4]["content"] == answer(episode[5]["next_text"])
    assert "Action:\ncmd3\n" in stage1["text"] and "Action:\ncmd4\n" not in stage1["text"]


def test_an_empty_instruction_or_state_is_left_out_of_the_chat():
    episode = curated_episode(2)
    bare = {**episode[1], "instruction": None, "state_text": ""}
    stage1, stage2, _ = build_stage_rows([], bare, "T")
    assert _user_turns(stage2["messages"]) == ["### Turn 2\n**Action:**\n```\ncmd1\n```"]
    assert stage1["text"].startswith("Environment: terminal\n\nTask: (no instruction)\n\nObservation:\n\n\n")
    no_task = build_stage_rows(episode[:1], {**episode[1], "instruction": ""}, "T")[1]
    assert _user_turns(no_task["messages"])[0] == "### Turn 1\n**Current State:**\n```\n$\n```\n\n**Action:**\n```\ncmd0\n```"
    no_state = build_stage_rows([{**episode[0], "state_text": None}], episode[1], "T")[1]
    assert _user_turns(no_state["messages"])[0] == \
        "### Turn 1\n**Task Instruction:**\nRun the commands.\n\n**Action:**\n```\ncmd0\n```"


@pytest.mark.parametrize("action, block", [
    ('[{"keystrokes": "ls\\n", "duration": 1}]', '```json\n[{"keystrokes": "ls\\n", "duration": 1}]\n```'),
    ('click("12")', '```\nclick("12")\n```'),
    ('{"name": "write", "arguments": {"text": "```py\\nx\\n```"}}',
     '````json\n{"name": "write", "arguments": {"text": "```py\\nx\\n```"}}\n````'),
    ("cat <<EOF\n```\nEOF", "````\ncat <<EOF\n```\nEOF\n````"),
])
def test_chat_actions_are_fenced_code_blocks(action, block):
    episode = curated_episode(2)
    _, stage2, _ = build_stage_rows([{**episode[0], "action_text": action}], {**episode[1], "action_text": action},
                                    "T")
    first, current = _user_turns(stage2["messages"])
    assert first.endswith(f"**Action:**\n{block}") and current == f"### Turn 2\n**Action:**\n{block}"


def test_spans_cover_the_reference_exactly_once():
    episode = curated_episode()
    _, _, stage3 = build_stage_rows(episode, episode[2], "T")
    reference = stage3["reference"]
    assert [reference[s["start"]:s["end"]] for s in stage3["format_spans"]] == ["4242", "12:00:02"]
    pieces = sorted(stage3["exact_spans"] + stage3["format_spans"], key=lambda s: s["start"])
    assert "".join(reference[s["start"]:s["end"]] for s in pieces) == reference
    assert [s["kind"] for s in stage3["format_spans"]] == ["pid", "timestamp"]
    assert stage3["rubric_id"] == "worldline/terminal/v1"
    assert build_stage_rows([], {**episode[0], "domain": "robots"}, "T")[2]["rubric_id"] == "worldline/generic/v1"


def test_overlapping_and_edge_spans():
    exact, fmt = split_spans("abcdefgh", [{"start": 2, "end": 5, "kind": "a"}, {"start": 4, "end": 6, "kind": "b"},
                                          {"start": 7, "end": 8, "kind": None}], "r")
    assert exact == [{"start": 0, "end": 2, "kind": "exact"}, {"start": 6, "end": 7, "kind": "exact"}]
    assert fmt[-1]["kind"] == "volatile"
    assert split_spans("", [], "r") == ([], [])


@pytest.mark.parametrize("span", [{"start": 5, "end": 99, "kind": "pid"}, {"start": 3, "end": 3, "kind": "pid"}])
def test_bad_spans_name_the_record(span):
    episode = curated_episode()
    with pytest.raises(StageError, match=r"record ep1:1: volatile span"):
        build_stage_rows(episode, {**episode[1], "next_volatile_spans": [span]}, "T")


# ---- equivalence with the straightforward construction -----------------------------------------------------------

def _reference_stage_rows(history, current, trace, window=4, reasoning_source="grounded"):
    """The rows built the plain way: filter and sort the history, then format every step afresh."""
    record = str(current["id"])
    earlier = sorted((row for row in history if row["step"] < current["step"]), key=lambda row: row["step"])
    steps = earlier[-window:] if window > 0 else []
    opening_state = (steps[0] if steps else current).get("state_text") or ""
    messages = [{"role": "system", "content": system_prompt(current["domain"])}]
    for i, row in enumerate(steps + [current]):
        messages.append({"role": "user", "content": turn_prompt(
            row["step"] + 1, row.get("action_text") or "", current.get("instruction") if i == 0 else None,
            opening_state if i == 0 else "")})
        if row is not current:
            messages.append({"role": "assistant", "content": answer(row.get("next_text") or "")})
    parts = [f"Environment: {current['domain']}", f"Task: {current.get('instruction') or '(no instruction)'}",
             f"Observation:\n{opening_state}"]
    for row in steps + [current]:
        parts += [f"Action:\n{row.get('action_text') or ''}", f"Observation:\n{row.get('next_text') or ''}"]
    reference = current.get("next_text") or ""
    exact, fmt = split_spans(reference, current.get("next_volatile_spans"), record)
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    group = {"task_group": current.get("task_group")}
    return ({**common, "text": "\n\n".join(parts) + "\n", **group},
            {**common, "messages": messages, "target": f"<think>{trace}</think>\n{answer(reference)}",
             "reasoning_source": reasoning_source, **group},
            {**common, "prompt": messages, "reference": reference, "exact_spans": exact, "format_spans": fmt,
             "rubric_id": rubric_id(current["domain"]), **group})


# Actions as recorded: keystroke batches and tool calls (JSON), calls, and text holding backtick runs.
ACTIONS = ['[{"keystrokes": "ls -la\\n", "duration": 1}]', '{"name": "view", "arguments": {"path": "a.md"}}',
           'click("12")', 'str_replace a.md "```py" "```python"', '{"text": "````"}', " [1, 2] ", "[1,", '"quoted"']


def test_rows_match_the_reference_on_a_generated_episode():
    rng = random.Random(11)
    episode = curated_episode(steps=12, domain="swe")
    for row in episode:  # fields left out the way real records leave them out
        row["action_text"] = rng.choice(ACTIONS)
        for key in ("instruction", "action_text", "state_text", "next_volatile_spans"):
            if rng.random() < 0.15:
                row[key] = None
    # As curation calls it: every row with the rows before it, in step order.
    for index, row in enumerate(episode):
        assert build_stage_rows(episode[:index], row, f"t{index}") == _reference_stage_rows(episode[:index], row,
                                                                                            f"t{index}")
    # Any other history: unordered, with later steps, with repeated steps (kept in the order given).
    repeated = [{**row, "id": row["id"] + "b", "next_text": "again"} for row in episode[3:7]]
    for history in (list(reversed(episode)), rng.sample(episode, len(episode)), episode[:8] + repeated,
                    sorted(episode[:8] + repeated, key=lambda row: row["step"]), episode + episode[:5]):
        for current in (episode[0], episode[6], episode[-1]):
            for window in (0, 1, 4, 20):
                assert build_stage_rows(history, current, "T", window=window, reasoning_source="llm") == \
                    _reference_stage_rows(history, current, "T", window=window, reasoning_source="llm")


# ---- a file's stage rows at once ---------------------------------------------------------------------------------

def _file_of_episodes() -> list[dict]:
    """Rows as a prepared file holds them after Finish's sort: episodes together, each in step order, with a repeated
    step, empty and missing texts, unicode, JSON and backticks, spans (one row's span outside its observation) and
    several domains."""
    rows = []
    texts = ["", "plain", "ünïcødé ✓ 日本語 🙂", "\x00nul and\ttab", "x" * 3000, "a\nb", *ACTIONS[:5]]
    for episode, (domain, steps) in enumerate((("terminal", 9), ("web", 1), ("robots", 6), ("swe", 3))):
        for step in range(steps):
            text = texts[(step + episode) % len(texts)]
            spans = None if step % 3 == 0 else []
            if len(text) > 3:
                spans = [{"start": 1, "end": 3, "kind": "pid"}, {"start": 0, "end": 2, "kind": None},
                         {"start": 2, "end": len(text), "kind": ""}][:step % 4]
            rows.append({"id": f"é{episode}:{step}", "episode_id": f"é{episode}", "step": step // 2 * 2
                         if domain == "robots" else step, "domain": domain, "task_id": None,
                         "instruction": None if step % 4 == 1 else f"do {text}", "action_kind": "keys",
                         "action_text": text or None, "state_text": None if step % 5 == 2 else text[::-1],
                         "next_text": text if step % 7 != 4 else None, "next_volatile_spans": spans,
                         "content_hash": f"h{step}", "done": False, "error": None, "perturbations": [],
                         "collector": "test", "stand_in": None})
    rows[4]["next_volatile_spans"] = [{"start": 2, "end": 99, "kind": "pid"}]  # dead-lettered, neighbours kept
    return rows


def _spans_in_order(rows: list[dict]) -> list[dict]:
    """The rows with each one's spans sorted and every kind given, as most files hold them (missing lists kept)."""
    return [{**row, "next_volatile_spans": None if row["next_volatile_spans"] is None else [
        {**span, "kind": span["kind"] or "pid"} for span in sorted(row["next_volatile_spans"],
                                                                   key=lambda span: (span["start"], span["end"]))]}
            for row in rows]


@pytest.mark.parametrize("spans_in_order", [False, True])
@pytest.mark.parametrize("window", [0, 1, 2, 4, 5])
def test_stage_tables_equal_the_rows_built_one_by_one(window, spans_in_order):
    from transforms.curate import curated_table
    from transforms.stage_tables import build_stage_tables

    rows = _spans_in_order(_file_of_episodes()) if spans_in_order else _file_of_episodes()
    starts = [next(i for i, row in enumerate(rows) if row["episode_id"] == current["episode_id"])
              for current in rows]
    # Every other row is current (the rest are removed duplicates, still history); one has its id twice.
    currents = list(range(0, len(rows), 2)) + [1, 13]
    ends = list(currents)
    ends[-1] += 1  # as when a later row of the episode has the same id: the history runs past the current row
    traces = [f"trace {k} ✓" for k in range(len(currents))]
    built = build_stage_tables(rows, curated_table([rows[i] for i in currents]), np.array(currents), np.array(starts)[
        currents], np.array(ends), traces, window=window, reasoning_source="llm")
    expected, errors = [], []
    for k, (position, end) in enumerate(zip(currents, ends)):
        try:
            expected.append(build_stage_rows(rows[starts[position]:end], rows[position], traces[k], window=window,
                                             reasoning_source="llm"))
        except StageError as exc:
            errors.append((k, str(exc)))
    assert [(k, str(exc)) for k, exc in built.errors] == errors == [(2, errors[0][1])]
    assert "record é0:4: volatile span [2,99)" in errors[0][1]
    assert len(built.built) == len(expected) == len(currents) - 1
    for index, (table, schema) in enumerate(zip((built.stage1, built.stage2, built.stage3),
                                                (STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA))):
        assert table.equals(pa.Table.from_pylist([stage_rows[index] for stage_rows in expected], schema=schema))
    # é0:8's turns are numbered by their steps, whatever the window; the failed row 4 is still one.
    chat = built.stage2.column("messages")[currents.index(8) - 1].as_py()
    numbers = [int(m["content"].split("\n", 1)[0].removeprefix("### Turn ")) for m in chat if m["role"] == "user"]
    assert numbers == list(range(9 - min(window, 8), 10))
    # stage 3's prompt is stage 2's messages: one array, made once
    prompt, messages = built.stage3.column("prompt").chunk(0), built.stage2.column("messages").chunk(0)
    assert [buffer.address for buffer in prompt.buffers() if buffer is not None] == \
        [buffer.address for buffer in messages.buffers() if buffer is not None]


def test_stage_tables_dead_letter_rows_without_a_key():
    from transforms.curate import curated_table
    from transforms.stage_tables import build_stage_tables

    rows = curated_episode(3)
    rows[1] = {**rows[1], "domain": None}
    built = build_stage_tables(rows, curated_table(rows), np.arange(3), np.zeros(3, dtype=np.int64), np.arange(3),
                               ["T"] * 3)
    assert [(k, str(exc)) for k, exc in built.errors] == [(1, "record ep1:1: domain is missing")]
    assert built.built.tolist() == [0, 2] and built.stage2.column("id").to_pylist() == ["ep1:0", "ep1:2"]


def test_stage_tables_write_a_history_value_that_is_not_a_str_as_the_one_row_helpers_do():
    from transforms.curate import curated_table
    from transforms.stage_tables import build_stage_tables

    rows = curated_episode(6)
    rows[1] = {**rows[1], "state_text": 5, "action_text": 7.5}  # kept as history only: its own trace failed on it
    built = build_stage_tables(rows, curated_table([rows[5]]), np.array([5]), np.array([0]), np.array([5]), ["T"])
    expected = build_stage_rows(rows[:5], rows[5], "T")
    assert "Run the commands.\n\nObservation:\n5\n\nAction:\n7.5\n" in expected[0]["text"]
    assert expected[1]["messages"][1]["content"] == ("### Turn 2\n**Task Instruction:**\nRun the commands.\n\n"
                                                     "**Current State:**\n```\n5\n```\n\n**Action:**\n```\n7.5\n```")
    for table, row, schema in zip((built.stage1, built.stage2, built.stage3), expected,
                                  (STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA)):
        assert table.equals(pa.Table.from_pylist([row], schema=schema))
