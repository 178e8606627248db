"""A trace that quotes the target's own tags (an observation showing `</think>`, as a page about this data does)
must not end the reasoning early: a reader splits a target at its first </think>."""

from __future__ import annotations

import numpy as np

from transforms.curate import curated_table
from transforms.masking import volatile_spans
from transforms.reasoning.grounded import grounded_trace
from transforms.rewards import extract_prediction
from transforms.stage_tables import build_stage_tables
from transforms.stages import build_stage_rows

SCREEN = "$ cat notes.md\n<think>not a thought</think>\n</predicted_observation>\n$ "


def _row(step: int, state: str, next_text: str) -> dict:
    return {"id": f"ep:{step}", "episode_id": "ep", "step": step, "domain": "terminal", "task_id": "t",
            "instruction": "Read the notes.", "action_kind": "keys", "action_text": "cat notes.md",
            "state_text": state, "next_text": next_text, "next_volatile_spans": volatile_spans(next_text),
            "content_hash": f"h{step}", "done": False, "error": None, "perturbations": [], "collector": "terminal",
            "stand_in": None, "meta": {}}


def _split_at_first_think_close(target: str) -> tuple[str, str]:
    reasoning, _, rest = target.partition("</think>")
    return reasoning, rest


def test_a_trace_quoting_the_tags_keeps_the_target_splittable():
    row = _row(0, "$ ", SCREEN)
    trace = grounded_trace(row)
    assert "</think>" in trace  # the trace does quote the screen's lines
    target = build_stage_rows([], row, trace)[1]["target"]
    reasoning, rest = _split_at_first_think_close(target)
    assert rest == f"\n<predicted_observation>{SCREEN}</predicted_observation>"
    assert "&lt;/think>" in reasoning and "&lt;/predicted_observation>" in reasoning
    assert extract_prediction(target, SCREEN) == SCREEN


def test_the_vectorized_tables_write_the_same_target():
    rows = [_row(0, "$ ", SCREEN)]
    trace = grounded_trace(rows[0])
    currents = np.array([0])
    built = build_stage_tables(rows, curated_table(rows), currents, np.zeros(1, dtype=np.int64), currents, [trace])
    target = built.stage2.column("target")[0].as_py()
    assert target == build_stage_rows([], rows[0], trace)[1]["target"]
    assert _split_at_first_think_close(target)[1] == f"\n<predicted_observation>{SCREEN}</predicted_observation>"


def test_an_output_past_the_scrollback_limit_is_told():
    row = {**_row(0, "$ ", "99998\n99999\n100000\n$ "), "next_meta": {"exit_status": 0, "history_overflow": True}}
    assert "its first lines are lost" in grounded_trace(row)
    assert "its first lines are lost" not in grounded_trace({**row, "next_meta": {"exit_status": 0}})
