"""A replay that adds or drops whole lines showed another outcome, not other values: no span can describe "these
lines, or none", so the row has no stage-3 row (its RL reference would grade one side of a race as exact), while
stages 1 and 2 keep the recording. Real texts: the sixth audit's os-terminal-open-calculator row, whose recording
caught the terminal before galculator's window mapped and whose replay caught the window (data/
open_calculator_raced.parquet, the episode's two raw rows; data/replay_outcomes.json, their normalized texts and
a terminal row whose replay wraps a longer value onto one more line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from transforms import dedupe
from transforms.curate import curated_table
from transforms.prepare import prepare_chunk
from transforms.replay import OTHER_OUTCOME, other_outcome, replay_spans
from transforms.stage_tables import build_stage_tables
from transforms.stages import build_stage_rows

DATA = Path(__file__).parent / "data"
TEXTS = json.loads((DATA / "replay_outcomes.json").read_text())
RACED, SETTLED = "os-terminal-open-calculator-s0-c787f727:0", "os-terminal-open-calculator-s0-c787f727:1"
WRAPPED = "terminal-archive-corrupt-s0-a1ebb5b9:1"


def _outcome(record: str) -> str | None:
    return other_outcome(TEXTS[record]["recording"], TEXTS[record]["replays"])


def test_a_window_only_the_replay_shows_is_another_outcome():
    reason = _outcome(RACED)
    assert reason == "replay 1 has 31 whole line(s) it lacks at the recording's line 8: another outcome, not values"


def test_values_within_lines_and_a_longer_value_wrapped_onto_another_line_are_not():
    assert _outcome(SETTLED) is None  # the job's pid, 105 against 107
    wrapped = TEXTS[WRAPPED]
    assert len(wrapped["replays"][0].splitlines()) == len(wrapped["recording"].splitlines()) + 1
    assert _outcome(WRAPPED) is None
    assert replay_spans(wrapped["recording"], wrapped["replays"])  # still marked as values that vary


def test_a_dropped_line_and_a_replay_that_went_elsewhere_are_other_outcomes():
    text = ("$ sleep 9 & kill %1; jobs; ls /srv/data\n[1]+  Terminated              sleep 9\n"
            "alpha.csv  beta.csv  gamma.csv  notes.txt  report.pdf  summary.json\n$ ")
    raced = text.replace("[1]+  Terminated              sleep 9\n", "")
    assert other_outcome(text, [text, raced]) == ("replay 2 lacks 1 of its lines at the recording's line 2: another "
                                                  "outcome, not values")
    assert "went elsewhere" in other_outcome(text, ["bash: jobs: command not found\n" * 5])
    assert other_outcome(text, [text]) is None


def _prepared_episode():
    table = pq.read_table(DATA / "open_calculator_raced.parquet")
    rows = table.to_pylist()
    prepared = prepare_chunk([("open_calculator_raced.parquet", i, row) for i, row in enumerate(rows)],
                             dedupe.NearDupOptions())
    assert not prepared.letters
    return sorted(prepared.rows, key=lambda row: row["step"])


def test_the_raced_row_has_stage_1_and_2_rows_but_no_stage_3_row():
    rows = _prepared_episode()
    assert [row["id"] for row in rows] == [RACED, SETTLED]
    assert rows[0][OTHER_OUTCOME] and OTHER_OUTCOME not in rows[1]
    currents = np.arange(len(rows))
    built = build_stage_tables(rows, curated_table(rows), currents, np.zeros(len(rows), dtype=np.int64), currents,
                               ["T", "T"])
    assert built.stage1.column("id").to_pylist() == built.stage2.column("id").to_pylist() == [RACED, SETTLED]
    assert built.stage3.column("id").to_pylist() == [SETTLED]
    assert built.stage3_left_out == [(0, rows[0][OTHER_OUTCOME])]
    # The one-row builder agrees.
    assert build_stage_rows([], rows[0], "T")[2] is None
    assert build_stage_rows(rows[:1], rows[1], "T")[2]["id"] == SETTLED
