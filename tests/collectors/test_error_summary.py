"""The collect summary tells an environment that broke from a task that is wrong (an action the collector's
parse_action refuses), in the count, in each reason's line and in the episode's end_reason; and a run whose every
played episode ended in an error exits 1 (it exited 0, so a script could not tell it had collected nothing).
Played on the documented plugin example, a real in-memory SQLite collector."""

from __future__ import annotations

import json

import typer
import yaml
from typer.testing import CliRunner

from tests.plugin_example.sqlite_demo.collector import collect_command

GOOD = {"id": "good", "instruction": "count", "setup": ["CREATE TABLE t (x)"], "actions": ["SELECT count(*) FROM t"]}
# parse_action refuses a statement that is not a string: a task error.
REFUSED = {"id": "refused", "instruction": "count", "actions": [42]}
# reset runs the setup SQL, and SQLite refuses it: an environment error.
BROKEN = {"id": "broken", "instruction": "count", "setup": ["CREATE TABLE"], "actions": ["SELECT 1"]}


def collect(tmp_path, tasks):
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump(tasks))
    app = typer.Typer()
    app.command()(collect_command)
    result = CliRunner().invoke(app, ["--tasks", str(path), "--out", str(tmp_path / "out")])
    return result, " ".join(result.stderr.split())


def end_reasons(tmp_path) -> dict[str, str]:
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "episodes" / "sqlite").glob("*.json")]
    return {record["task"]["id"]: record["end_reason"] for record in records}


def test_refused_actions_are_task_errors_and_a_run_where_all_fail_exits_1(tmp_path):
    result, stderr = collect(tmp_path, [REFUSED, BROKEN])
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
    assert ("2 episodes collected (0 transitions), 0 already complete, 2 ended in an error (1 environment error, "
            "1 task error)") in stderr, stderr
    assert "task error (sqlite-refused-s0-" in stderr and "ValueError: a sqlite-demo action is one SQL statement, " \
        "got 42" in stderr, stderr
    assert "error (sqlite-broken-s0-" in stderr and "OperationalError: incomplete input" in stderr, stderr
    assert "none of the 2 episodes played ended without an error: exit code 1" in stderr, stderr
    reasons = end_reasons(tmp_path)
    assert reasons["refused"].startswith("task error: ValueError: a sqlite-demo action is one SQL statement")
    assert reasons["broken"].startswith("error: OperationalError: incomplete input")

    again, stderr = collect(tmp_path, [REFUSED, BROKEN])  # both are played again, and fail again
    assert again.exit_code == 1 and "retried 2 episodes that ended in an error last time" in stderr, stderr


def test_one_episode_stored_without_an_error_is_success(tmp_path):
    result, stderr = collect(tmp_path, [GOOD, REFUSED])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "2 episodes collected (1 transition), 0 already complete, 1 ended in an error (1 task error)" in stderr
    done, stderr = collect(tmp_path, [GOOD])  # nothing to play: not a failure
    assert done.exit_code == 0 and "0 episodes collected (0 transitions), 1 already complete, 0 ended in an error" \
        in stderr, stderr
