"""The validator names the record and the field, and accepts what the writers produce."""

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from schemas import (TRANSITION_SCHEMA, Action, EnvInfo, Observation, Provenance, RecordError, Timings, Transition,
                     transition_errors, validate_transition)


def make_row(**overrides) -> dict:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    transition = Transition(
        episode_id="terminal-demo-s0-abcd1234", step=3, domain="terminal",
        env=EnvInfo("docker-image", "worldline/base:bookworm", "sha256:1"), task_id="demo", instruction="list files",
        state=Observation("$ ", b"$ ", "tmux-ansi"), action=Action("keystrokes", {"keys": ["ls", "Enter"]}, "ls"),
        next_observation=Observation("$ ls\na b\n$ ", b"$ ls\na b\n$ ", "tmux-ansi", {"exit_status": 0}),
        timings=Timings(start, start + timedelta(milliseconds=5), 5.0, 1.0),
        provenance=Provenance("terminal", "1"),
    )
    row = transition.to_row()
    row.update(overrides)
    return row


def test_a_written_row_is_valid_and_fits_the_arrow_schema():
    row = make_row()
    assert transition_errors(row) == []
    table = pa.Table.from_pylist([row], schema=TRANSITION_SCHEMA)
    assert transition_errors(table.to_pylist()[0]) == []


@pytest.mark.parametrize("override, field, words", [
    ({"step": -1}, "step", "must be >= 0"),
    ({"step": "3"}, "step", "expected int32"),
    ({"domain": "Bad Domain"}, "domain", "is not a domain name"),
    ({"schema_version": "0.1"}, "schema_version", "is not one of"),
    ({"episode_id": None}, "episode_id", "is missing"),
    ({"surprise": 1}, "surprise", "is not a field"),
])
def test_wrong_fields_are_named(override, field, words):
    errors = transition_errors(make_row(**override))
    assert any(e.field == field and words in e.reason for e in errors), errors


def test_nested_json_and_timing_errors_name_the_dotted_field():
    row = make_row()
    row["action"]["arguments_json"] = "{not json"
    row["timings"]["action_end"] = row["timings"]["action_start"] - timedelta(seconds=1)
    fields = {e.field for e in transition_errors(row)}
    assert {"action.arguments_json", "timings.action_end"} <= fields


def test_validate_raises_with_the_record_id():
    with pytest.raises(RecordError) as info:
        validate_transition(make_row(step=-2, domain="X"))
    assert "terminal-demo-s0-abcd1234:-2" in str(info.value)
    assert "step" in str(info.value) and "domain" in str(info.value)
