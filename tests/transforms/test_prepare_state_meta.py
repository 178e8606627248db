"""transforms.prepare keeps the state's meta_json in state_meta_json, as it keeps the next observation's, and
curate --redact redacts its values as it does next_meta_json's."""

from __future__ import annotations

import json

import pyarrow as pa

from benchmarks.bench_curate import _episode_rows
from schemas.stages import CURATED_TRANSITION_SCHEMA
from schemas.transition import TRANSITION_SCHEMA
from transforms import dedupe
from transforms.prepare import curated_row, prepare_chunk
from transforms.redact import REDACTED, Redactions

HALF = "\\ud83d"  # a JSON escape of half an emoji: a lone surrogate


def _rows() -> list[dict]:
    """A terminal episode as curation reads it back: each observation a dict of its own."""
    return pa.Table.from_pylist(_episode_rows("terminal", "terminal-0", 1, 101, edit=False),
                                schema=TRANSITION_SCHEMA).to_pylist()[:3]


def test_the_state_meta_is_kept_and_is_the_last_column():
    rows = _rows()
    rows[0]["state"]["meta_json"] = '{"cwd": "/first"}'
    curated = [curated_row(row) for row in rows]
    assert [row["state_meta_json"] for row in curated] == [row["state"]["meta_json"] for row in rows]
    assert curated[0]["state_meta_json"] == '{"cwd": "/first"}'
    assert curated[1]["state_meta_json"] == curated[0]["next_meta_json"]
    assert CURATED_TRANSITION_SCHEMA.names[-1] == "state_meta_json"
    assert pa.Table.from_pylist(curated, schema=CURATED_TRANSITION_SCHEMA).column("state_meta_json").to_pylist() \
        == [row["state"]["meta_json"] for row in rows]


def test_a_state_meta_escaping_a_lone_surrogate_is_kept_with_u_fffd_and_none_without_a_state():
    rows = _rows()
    rows[1]["state"]["meta_json"] = '{"title": "cut %s"}' % HALF
    rows[2]["state"] = None
    curated = [curated_row(row) for row in rows]
    assert curated[1]["state_meta_json"] == '{"title": "cut \ufffd"}'
    assert curated[2]["state_meta_json"] is None


def test_the_state_meta_is_in_no_hash():
    rows, other = _rows(), _rows()
    other[1]["state"]["meta_json"] = '{"cwd": "/elsewhere"}'
    hashes = [[row["content_hash"] for row in prepare_chunk([("f", i, row) for i, row in enumerate(batch)],
                                                            dedupe.NearDupOptions(), keep_stand_ins=True).rows]
              for batch in (rows, other)]
    assert hashes[0] == hashes[1]


def test_redaction_takes_the_values_out_of_the_state_meta_too():
    redactions = Redactions.of(["secret123"])
    shared = '{"url": "http://intranet/?t=secret123"}'
    rows = [{"domain": "web", "state_text": "a", "next_text": "b", "instruction": None, "action_text": "x",
             "error": None, "task_group": "g", "next_meta_json": shared, "state_meta_json": '{"q": "secret123"}'},
            # Its state is the row before's next observation: the same meta str, redacted and counted once.
            {"domain": "web", "state_text": "c", "next_text": "d", "instruction": None, "action_text": "y",
             "error": None, "task_group": "g", "next_meta_json": "{}", "state_meta_json": shared}]
    counts = redactions.rows(rows, "replay_texts")
    assert json.loads(rows[0]["state_meta_json"]) == {"q": REDACTED}
    assert json.loads(rows[1]["state_meta_json"]) == {"url": f"http://intranet/?t={REDACTED}"}
    assert rows[1]["state_meta_json"] is rows[0]["next_meta_json"]
    assert counts == {"web": [1, 2]}
