from __future__ import annotations

import random

import pyarrow as pa
import pytest

from schemas import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from schemas.validate import check_against_schema
from transforms.prompts import system_prompt
from transforms.stages import (StageError, answer, build_stage_rows, first_turn_prompt, rubric_id, split_spans,
                               turn_prompt)


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
    assert stage2["messages"][1]["content"] == ("Task: Run the commands.\n\nCurrent observation:\n$ cmd2\nout2\n$\n\n"
                                                "Action:\ncmd3")
    assert stage2["messages"][2]["content"] == f"<predicted_observation>{episode[3]['next_text']}</predicted_observation>"
    assert stage2["messages"][-1]["content"] == "Action:\ncmd5"
    assert stage2["target"] == f"<think>T</think>\n<predicted_observation>{episode[5]['next_text']}</predicted_observation>"
    assert (stage2["id"], stage2["step"], stage2["reasoning_source"]) == ("ep1:5", 5, "grounded")


def test_first_step_has_no_history():
    episode = curated_episode()
    stage1, stage2, stage3 = build_stage_rows(episode, episode[0], "T")
    assert [m["role"] for m in stage2["messages"]] == ["system", "user"]
    assert "Current observation:\n$\n\nAction:\ncmd0" in stage2["messages"][1]["content"]
    assert stage3["prompt"] == stage2["messages"]


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
    """The rows built the plain way: filter and sort the history, then format every turn afresh."""
    record = str(current["id"])
    earlier = sorted((row for row in history if row["step"] < current["step"]), key=lambda row: row["step"])
    turns = earlier[-window:] if window > 0 else []
    opening = turns[0] if turns else current
    messages = [{"role": "system", "content": system_prompt(current["domain"])}]
    parts = [f"Environment: {current['domain']}", f"Task: {current.get('instruction') or '(no instruction)'}",
             f"Observation:\n{opening.get('state_text') or ''}"]
    for i, row in enumerate(turns + [current]):
        action = row.get("action_text") or ""
        messages.append({"role": "user", "content": turn_prompt(action) if i else
                         first_turn_prompt(current.get("instruction"), opening.get("state_text") or "", action)})
        if row is not current:
            messages.append({"role": "assistant", "content": answer(row.get("next_text") or "")})
        parts += [f"Action:\n{action}", f"Observation:\n{row.get('next_text') or ''}"]
    reference = current.get("next_text") or ""
    exact, fmt = split_spans(reference, current.get("next_volatile_spans"), record)
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    return ({**common, "text": "\n\n".join(parts) + "\n"},
            {**common, "messages": messages, "target": f"<think>{trace}</think>\n{answer(reference)}",
             "reasoning_source": reasoning_source},
            {**common, "prompt": messages, "reference": reference, "exact_spans": exact, "format_spans": fmt,
             "rubric_id": rubric_id(current["domain"])})


def test_rows_match_the_reference_on_a_generated_episode():
    rng = random.Random(11)
    episode = curated_episode(steps=12, domain="swe")
    for row in episode:  # fields left out the way real records leave them out
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
