"""A value that differs within an otherwise identical line is a value that varies, however short the observation: a
Python REPL's answer (`635637056\\n>>> `) is mostly its one value, and its replay did not go elsewhere. Real data:
the h137 plugin walkthrough's pyrepl-volatile episode (data/pyrepl_volatile.parquet, its 8 raw rows with one replay
each) and the id() answer of its addresses episode. A replay that shows other words, another shape of value or
another number of lines still went elsewhere, short or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from transforms import dedupe
from transforms.curate import curated_table
from transforms.prepare import prepare_chunk
from transforms.replay import OTHER_OUTCOME, other_outcome, replay_spans
from transforms.stage_tables import build_stage_tables

DATA = Path(__file__).parent / "data"
# id(A) in the recording and in its replay (pyrepl-addresses-s0-c8bdde1b:5).
ID_ANSWER, ID_REPLAY = "635637056\n>>> ", "670235968\n>>> "


def _prepared_volatile_episode() -> list[dict]:
    rows = pq.read_table(DATA / "pyrepl_volatile.parquet").to_pylist()
    prepared = prepare_chunk([("pyrepl_volatile.parquet", i, row) for i, row in enumerate(rows)],
                             dedupe.NearDupOptions())
    assert not prepared.letters
    return sorted(prepared.rows, key=lambda row: row["step"])


def test_a_value_that_is_most_of_a_short_answer_is_marked_not_taken_for_elsewhere():
    assert replay_spans(ID_ANSWER, [ID_REPLAY]) == [(0, 9)]
    assert other_outcome(ID_ANSWER, [ID_REPLAY]) is None
    # The hex form of it, a float's digits: the run of letters and digits that differs, the signs around it kept.
    assert replay_spans("'0x25e30d40'\n>>> ", ["'0x27f2fd40'\n>>> "]) == [(1, 11)]
    assert replay_spans("0.0003395319999981439\n>>> ", ["0.0003022949999831326\n>>> "]) == [(2, 21)]
    # A column's padding that moves with the value's width is part of the value.
    assert replay_spans("  8\n>>> ", [" 10\n>>> "]) == [(0, 3)]


def test_the_repl_episode_keeps_its_stage_3_rows_and_marks_the_values_no_rule_finds():
    rows = _prepared_volatile_episode()
    assert not [row["id"] for row in rows if OTHER_OUTCOME in row]
    spans = {row["step"]: [(span["kind"], row["next_text"][span["start"]:span["end"]])
                           for span in row["next_volatile_spans"]] for row in rows}
    assert spans[2] == [("timestamp", "1795832738.5582726")]  # time.time(): the rule's span covers the difference
    assert spans[4] == [("uuid", "24f0ca43-5ca6-4c11-8cde-0da045367189")]
    assert spans[6] == [("replay", "0003395319999981439")]  # timeit's float: no rule knows a unitless duration
    currents = np.arange(len(rows))
    built = build_stage_tables(rows, curated_table(rows), currents, np.zeros(len(rows), dtype=np.int64), currents,
                               ["T"] * len(rows))
    assert built.stage3.column("id").to_pylist() == [row["id"] for row in rows]
    assert built.stage3_left_out == []


def test_a_short_replay_that_went_elsewhere_still_does():
    elsewhere = [
        ("hello\n$ ", "cat: x: No such file or directory\n$ "),  # another outcome, one line each
        ("NameError\n>>> ", "TypeError\n>>> "),  # other words, no digit in them
        ("'/tmp/tmpb4ecndbp'\n>>> ", "'0x25e30d40'\n>>> "),  # a path against a hex number: other signs
        ("None\n", "42\n"),  # a value against a word with no digit
        ("42 items\n>>> ", "43 things\n>>> "),  # a value and other words in one line: another line
        ("635637056\n>>> ", "Traceback (most recent call last):\nKeyError: 'x'\n>>> "),  # other lines
    ]
    for text, replay_text in elsewhere:
        assert replay_spans(text, [replay_text]) is None, (text, replay_text)
        assert "went elsewhere" in other_outcome(text, [replay_text]), (text, replay_text)


def test_values_in_identical_lines_do_not_excuse_other_lines_that_changed():
    # Two screens of three lines: the prompt line and the answer's frame differ in words, the number alone would be
    # a value; the words still make up more than half of the text.
    text = "root@sandbox:/work# ./deploy.sh\nbash: ./deploy.sh: Permission denied\nroot@sandbox:/work#"
    replay_text = "root@sandbox:/work# sleep 300 &\n[1] 44\nroot@sandbox:/work#"
    assert replay_spans(text, [replay_text]) is None
