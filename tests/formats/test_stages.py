from __future__ import annotations

import pyarrow as pa
import pytest

from schemas import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from schemas.validate import check_against_schema
from transforms.prompts import system_prompt
from transforms.stages import StageError, build_stage_rows, split_spans


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
