"""collect --replays on a real terminal: each step's actions played again in a fresh container, and what differed
marked volatile by curation (span kind "replay"), where no masking rule would have found it."""

from __future__ import annotations

import io
import threading
import time
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from collectors.store import write_episode_table
from schemas import SCHEMA_VERSION, transition_errors
from schemas.transition import TRANSITION_SCHEMA, TRANSITION_SCHEMA_1_0
from tests.collectors.test_terminal_runs import REPO, run_collect


def test_replayed_values_that_no_rule_finds_are_marked_and_constant_output_is_not(tmp_path, base_image, prefix):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [{
        "id": "dice", "instruction": "Roll dice and print a fixed banner.",
        "actions": [[{"keystrokes": "echo roll r$RANDOM$RANDOM; echo banner fixed-text\n", "duration": 5}],
                    [{"keystrokes": "echo second step\n", "duration": 5}]],
    }]}))
    raw = tmp_path / "raw"
    result = run_collect(tasks, raw, prefix, "--replays", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    [transitions] = list((raw / "transitions" / "terminal").glob("*.parquet"))
    rows = pq.read_table(transitions).to_pylist()
    assert [row["schema_version"] for row in rows] == [SCHEMA_VERSION, SCHEMA_VERSION]
    assert [len(row["replay_observations"]) for row in rows] == [2, 2]
    rolls = {_roll(row["next_observation"]["text"]) for row in rows[:1]}
    rolls |= {_roll(replay["text"]) for replay in rows[0]["replay_observations"]}
    assert len(rolls) == 3, rolls  # three real rolls: the environment was fresh each time

    curated = tmp_path / "curated"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(curated)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pq.read_table(curated / "transitions").to_pylist()
    first = next(row for row in table if row["step"] == 0)
    replay_text = [first["next_text"][s["start"]:s["end"]] for s in first["next_volatile_spans"]
                   if s["kind"] == "replay"]
    assert _roll(first["next_text"]) in "".join(replay_text)
    assert "fixed-text" not in "".join(replay_text) and "banner" not in "".join(replay_text)
    assert "2 transitions were replayed" in done.stderr
    stats = json.loads((curated / "stats.json").read_text())
    assert stats["replayed"]["rows"] == 2 and stats["replayed"]["differs_beyond_rules"] >= 1


def _roll(text: str) -> str:
    """The roll a dice step printed: `r` and digits (bare, ~10% of rolls read as a unix time, a rule span)."""
    return next(line for line in text.splitlines() if line.startswith("roll ")).split()[1]


def test_a_rerun_with_more_replays_adds_them_to_stored_episodes_and_keeps_what_was_recorded(
        tmp_path, base_image, prefix):
    tasks, raw = _dice_tasks(tmp_path, 2), tmp_path / "raw"
    first = run_collect(tasks, raw, prefix)
    assert first.returncode == 0, first.stderr[-3000:]
    files = sorted((raw / "transitions" / "terminal").glob("*.parquet"))
    assert len(files) == 2 and all(_replays(path) == [0, 0] for path in files)
    _as_schema_1_0(files[1])  # a collection made before replays existed gets the column too
    recorded = {path: _recorded(path) for path in files}
    records = {path: path.read_bytes() for path in (raw / "episodes" / "terminal").glob("*.json")}

    second = run_collect(tasks, raw, prefix, "--replays", "1")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "replays added to 2 stored episodes" in second.stderr, second.stderr[-3000:]
    assert "0 episodes collected" in second.stderr
    for path in files:
        rows = pq.read_table(path).to_pylist()
        assert [len(row["replay_observations"]) for row in rows] == [1, 1]
        assert [row["schema_version"] for row in rows] == [SCHEMA_VERSION, SCHEMA_VERSION]
        # A terminal task's group is its id: the 1.0 file gets it too, so that its "1.2" says it has one.
        assert [row["task"]["group"] for row in rows] == [row["task"]["id"] for row in rows]
        assert all(transition_errors(row) == [] for row in rows)
        assert _recorded(path) == recorded[path], "the recorded columns must come back unchanged"
        replayed = rows[0]["replay_observations"][0]["text"]
        assert "banner fixed-text" in replayed and _roll(replayed) != _roll(rows[0]["next_observation"]["text"])
        assert "second step" in rows[1]["replay_observations"][0]["text"]
    assert {path: path.read_bytes() for path in records} == records, "episode records are not rewritten"
    assert not [p for p in raw.rglob("*") if p.name.endswith(".tmp")]

    once = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}
    third = run_collect(tasks, raw, prefix, "--replays", "1")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "2 already complete" in third.stderr and "replays added" not in third.stderr
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files} == once

    fourth = run_collect(tasks, raw, prefix, "--replays", "2")
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert "replays added to 2 stored episodes" in fourth.stderr
    for path in files:
        before, rows = pq.read_table(io.BytesIO(once[path][0])).to_pylist(), pq.read_table(path).to_pylist()
        assert [len(row["replay_observations"]) for row in rows] == [2, 2]
        assert [row["replay_observations"][0] for row in rows] == [row["replay_observations"][0] for row in before]
        assert _recorded(path) == recorded[path]


def test_a_replay_that_cannot_be_kept_leaves_the_stored_episode_as_it_was(tmp_path, base_image, prefix):
    tasks, raw = _dice_tasks(tmp_path, 3), tmp_path / "raw"
    first = run_collect(tasks, raw, prefix)
    assert first.returncode == 0, first.stderr[-3000:]
    rebuilt, unsendable, good = sorted((raw / "transitions" / "terminal").glob("*.parquet"))
    # Recorded in an image since rebuilt: a replay there would pass for volatility what the rebuild changed.
    _rewrite(rebuilt, "env", lambda env: {**env, "digest": "sha256:" + "0" * 64})
    # An action this collector no longer takes: the replay stops at that step.
    _rewrite(unsendable, "action", lambda action: {**action, "arguments_json": json.dumps({"keystrokes": 7})})
    stored = {path: path.read_bytes() for path in (rebuilt, unsendable)}

    again = run_collect(tasks, raw, prefix, "--replays", "1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "replays added to 1 stored episode; 2 left as they were (replay failed)" in again.stderr, again.stderr
    assert f"{rebuilt.stem}: replay 1 ran in" in again.stderr and "not in the recorded" in again.stderr
    assert f"{unsendable.stem}: replay 1 stopped after 0 of 2 steps" in again.stderr
    assert {path: path.read_bytes() for path in stored} == stored
    assert _replays(good) == [1, 1]


def _dice_tasks(tmp_path: Path, count: int) -> Path:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [{
        "id": f"dice-{i}", "instruction": "Roll dice and print a fixed banner.",
        "actions": [[{"keystrokes": "echo roll r$RANDOM$RANDOM; echo banner fixed-text\n", "duration": 5}],
                    [{"keystrokes": "echo second step\n", "duration": 5}]],
    } for i in range(count)]}))
    return tasks


def _replays(path: Path) -> list[int]:
    return [len(row.get("replay_observations") or []) for row in pq.read_table(path).to_pylist()]


def _recorded(path: Path) -> list[dict]:
    """Every column the collection recorded, values and bytes (schema_version and task.group aside: a 1.0 file
    becomes current, its task given the group collect records for it)."""
    rows = pq.read_table(path).to_pylist()
    return [{k: {n: x for n, x in v.items() if n != "group"} if k == "task" else v for k, v in row.items()
             if k not in ("replay_observations", "schema_version")} for row in rows]


def _as_schema_1_0(path: Path) -> None:
    table = pq.read_table(path).drop_columns(["replay_observations"])
    table = table.set_column(0, "schema_version", pa.array(["1.0"] * table.num_rows)).cast(TRANSITION_SCHEMA_1_0)
    write_episode_table(table, str(path))


def _rewrite(path: Path, column: str, change) -> None:
    table, field = pq.read_table(path).cast(TRANSITION_SCHEMA), TRANSITION_SCHEMA.field(column)
    values = pa.array([change(value) for value in table.column(column).to_pylist()], field.type)
    write_episode_table(table.set_column(table.schema.get_field_index(column), field, values), str(path))


def test_each_replay_starts_at_least_the_gap_after_the_play_before_it():
    """A git commit id follows the clock's second: a replay started in the same second as the recording would
    reproduce it, and curation would take a clock-made id for a constant."""
    from collectors.runner import REPLAY_GAP_S, next_play

    first = next_play(None)
    second = next_play(first)
    assert second - first >= REPLAY_GAP_S
    stop = threading.Event()
    stop.set()
    began = time.monotonic()
    next_play(time.monotonic(), stop)  # a stopping run does not wait
    assert time.monotonic() - began < 0.5


def test_a_replayed_step_waits_for_the_second_after_the_recorded_one_ended():
    """The gap between plays is not enough alone: in CI a recording whose reset ran slow under load and a replay
    whose reset ran fast sent their step in the same second (`date +%s` read the same). A replayed step is sent no
    earlier than the second after its recorded step ended."""
    from datetime import datetime, timezone

    from collectors.runner import RecordedActions, later_seconds
    from schemas import Action, Timings

    now = time.time()
    ended = datetime.fromtimestamp(now, timezone.utc)

    class Recorded:
        timings = Timings(action_start=ended, action_end=ended)

    [not_before] = later_seconds([Recorded()])
    assert not_before == int(now) + 1
    action = Action(kind="keystrokes", arguments={"keystrokes": "date +%s\n"}, text="date +%s")
    policy = RecordedActions([action], [not_before])
    assert policy.act(None, []) is action
    assert time.time() >= not_before
    assert policy.act(None, [object()]) is None


def test_a_replay_runs_its_steps_in_later_seconds_than_the_recording(tmp_path, base_image, prefix):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [{
        "id": "clock", "instruction": "Print the clock's second.",
        "actions": [[{"keystrokes": "echo at-$(date +%s)\n", "duration": 1}]]}]}))
    raw = tmp_path / "raw"
    result = run_collect(tasks, raw, prefix, "--replays", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    [transitions] = list((raw / "transitions" / "terminal").glob("*.parquet"))
    [row] = pq.read_table(transitions).to_pylist()

    def second(text: str) -> int:
        return int(next(line for line in text.splitlines() if line.startswith("at-"))[3:])

    assert second(row["replay_observations"][0]["text"]) - second(row["next_observation"]["text"]) >= 1
