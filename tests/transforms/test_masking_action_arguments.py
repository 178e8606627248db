"""A duration that is the action's own argument is a setting, content: stage 3 asks for it exactly
(transforms/copied_values.py setting_spans), as the setting rule makes `sleep 2s` on a terminal's echoed command
line content. A measured duration stays a format span. From the 2026-11-28 data review (h209, "Left"):
mcp-explore-everything-s0-e02900a4:2 answered `"duration": 2.0` with "Duration: 2 seconds", which stage 3 took as
any number of seconds. The spans come from the real masking rules, and the row and table builders must agree."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from schemas import STAGE3_SCHEMA
from transforms.curate import curated_table
from transforms.masking import volatile_spans
from transforms.reasoning.grounded import grounded_trace
from transforms.rewards import score
from transforms.stage_tables import build_stage_tables
from transforms.stages import build_stage_rows

# The everything server's answers and the calls that got them (make run, 2026-11-28).
_LONG_CALL = json.dumps({"name": "trigger-long-running-operation", "arguments": {"duration": 2.0, "steps": 2.0}})
_LONG_ANSWER = "Long running operation completed. Duration: 2 seconds, Steps: 2."
_DEBUG_CALL = json.dumps({"name": "get-annotated-message", "arguments": {"messageType": "debug",
                                                                          "includeImage": False}})
_DEBUG_ANSWER = "Debug: Cache hit ratio 0.95, latency 150ms"


def _row(step: int, action: str, next_text: str, *, domain: str = "mcp", state: str = "{}",
         episode: str = "ep") -> dict:
    return {"id": f"{episode}:{step}", "episode_id": episode, "step": step, "domain": domain, "task_id": "t",
            "instruction": "Explore.", "action_kind": "tools/call", "action_text": action, "state_text": state,
            "next_text": next_text, "next_volatile_spans": volatile_spans(next_text), "content_hash": f"h{step}",
            "done": False, "error": None, "perturbations": [], "collector": domain, "stand_in": None}


def _stage3(action: str, next_text: str, **kwargs) -> dict:
    return build_stage_rows([], _row(0, action, next_text, **kwargs), "T")[2]


def _format_texts(stage3: dict) -> list[tuple[str, str]]:
    return [(span["kind"], stage3["reference"][span["start"]:span["end"]]) for span in stage3["format_spans"]]


def _call(**arguments) -> str:
    return json.dumps({"name": "tool", "arguments": arguments})


def test_the_duration_a_call_asked_for_is_exact():
    assert volatile_spans(_LONG_ANSWER)[0]["kind"] == "duration"  # the masker alone cannot tell
    stage3 = _stage3(_LONG_CALL, _LONG_ANSWER)
    assert stage3["format_spans"] == []
    assert stage3["exact_spans"] == [{"start": 0, "end": len(_LONG_ANSWER), "kind": "exact"}]
    # So another number of seconds no longer scores: the call said 2.
    assert score(_LONG_ANSWER, _LONG_ANSWER, stage3["exact_spans"], stage3["format_spans"],
                 stage3["rubric_id"]).reward == 1.0
    wrong = _LONG_ANSWER.replace("2 seconds", "5 seconds")
    assert score(wrong, _LONG_ANSWER, stage3["exact_spans"], stage3["format_spans"], stage3["rubric_id"]).reward == 0


@pytest.mark.parametrize("arguments, answer", [
    ({"delayMs": 150}, "Waited 150ms"),                      # an int, the unit glued on
    ({"seconds": 1.5}, "slept 1.5 s"),                       # a fraction, as JSON gives it
    ({"wait": "2s"}, "waited 2 seconds"),                    # a string argument with its own unit
    ({"wait": "2.0"}, "waited 2 seconds"),                   # a numeric string, printed shortest
    ({"steps": [{"pause": 3}]}, "paused 3 sec"),             # nested
])
def test_a_duration_that_is_an_argument_in_any_of_its_forms_is_exact(arguments, answer):
    assert _stage3(_call(**arguments), answer)["format_spans"] == []


@pytest.mark.parametrize("action, answer, measured", [
    # A measurement: pytest's time, with arguments that hold no number (swe run_tests).
    (json.dumps({"name": "run_tests", "arguments": {"tests": ["test_six.py::test_add_doc"]}}),
     "1 passed in 0.10s\n", "0.10s"),
    # A number the call gave, but not this one.
    (_call(duration=5, steps=3), "Long running operation completed. Duration: 2 seconds, Steps: 3.", "2 seconds"),
    # Not as the tool would print the argument: 1 is not "1.00", which a measurement prints.
    (_call(count=1), "64 bytes: time=1.00 ms", "1.00 ms"),
    # True is no number, nor is a digit inside a word or a string that is no number.
    (_call(includeImage=True, name="t2", query="2 s ago"), "took 2 s", "2 s"),
])
def test_a_measured_duration_stays_format(action, answer, measured):
    assert _format_texts(_stage3(action, answer)) == [("duration", measured)]


def test_a_terminal_batch_wait_is_no_argument():
    # The recorder's wait after the keystrokes ("duration": 2.0) is not the program's input: the program's own
    # settings are on screen, where the masking rules' setting rule reads them (`sleep 2s`).
    action = json.dumps([{"keystrokes": "./build.sh\n", "duration": 2.0}])
    stage3 = _stage3(action, "$ ./build.sh\nDone in 2s\n$ ", domain="terminal")
    assert _format_texts(stage3) == [("duration", "2s")]


def test_the_state_showing_the_same_duration_does_not_make_it_exact():
    # Only the action sets a value: a duration the state shows was measured before (a previous answer's).
    stage3 = _stage3(_call(tests=["t.py"]), "1 passed in 0.10s\n", state="1 passed in 0.10s\n", domain="swe")
    assert _format_texts(stage3) == [("duration", "0.10s")]


def test_the_servers_fixed_latency_stays_a_duration():
    # get-annotated-message's debug text is a constant of the server, but nothing in the row says so: the call gives
    # no number, and a replay reproducing it says nothing either (9 of the 14 pytest times of the same collection
    # were reproduced by their replay, and 5 moved). Left a format span: any duration scores there.
    assert _format_texts(_stage3(_DEBUG_CALL, _DEBUG_ANSWER)) == [("duration", "150ms")]


def test_the_trace_does_not_count_the_asked_for_duration_as_new():
    row = _row(0, _LONG_CALL, _LONG_ANSWER)
    assert "New values that vary between runs" not in grounded_trace(row)
    # A measured one still is.
    assert "New values that vary between runs: 1 (duration)" in grounded_trace(_row(0, _DEBUG_CALL, _DEBUG_ANSWER))


def test_both_builders_agree():
    rows, answers = [], [(_LONG_CALL, _LONG_ANSWER), (_DEBUG_CALL, _DEBUG_ANSWER),
                         (_call(delayMs=150, pid=4242), "Waited 150ms for pid 4242 (0.3s of it idle)"),
                         (_call(tests=["a"]), "2 passed in 0.12s"), (_call(), "no spans")]
    for step, (action, answer) in enumerate(answers * 2):
        rows.append(_row(step, action, answer, state=rows[-1]["next_text"] if rows else "{}"))
    starts, currents = np.zeros(len(rows), dtype=np.int64), np.arange(len(rows))
    built = build_stage_tables(rows, curated_table(rows), currents, starts, currents, ["T"] * len(rows))
    assert built.errors == []
    expected = [build_stage_rows(rows[:k], rows[k], "T")[2] for k in range(len(rows))]
    assert built.stage3.equals(pa.Table.from_pylist(expected, schema=STAGE3_SCHEMA))
    assert [_format_texts(row) for row in expected[:5]] == [
        [], [("duration", "150ms")], [("duration", "0.3s")], [("duration", "0.12s")], []]
