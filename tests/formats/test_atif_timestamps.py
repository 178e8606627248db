"""The action's start time through curation (the curated `action_started_at` column) into ATIF step timestamps:
raw `timings.action_start` -> `worldline curate` -> `worldline export atif`, and an output curated before the column
existed still exporting, without timestamps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import build_cli
from schemas import TRANSITION_SCHEMA, Action, EnvInfo, Observation, Provenance, Timings, Transition
from transforms.prepare import curated_row

REPO = Path(__file__).resolve().parents[2]
# Far from the tests' run time on purpose: a time the pipeline took from its own clock would not match.
START = datetime(2031, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)


def _terminal_episode(episode: str, started: datetime, first_words: str | None = None) -> list[dict]:
    """Three steps 1.5 s apart from `started`; with `first_words`, step 0 prints those (to copy another episode's)."""
    rows, screen = [], "$ "
    for step in range(3):
        words = first_words if first_words and step == 0 else f"{episode}-{step}"
        command = f"echo {words}"
        after = screen + f"{command}\n{words}\n$ "
        action_start = started + timedelta(seconds=1.5 * step, microseconds=step)
        rows.append(Transition(
            episode, step, "terminal", EnvInfo("docker-image", "test"), "t1", "print some words",
            Observation(raw=screen.encode(), raw_format="tmux-ansi", meta={"cols": 80, "rows": 24}),
            Action("keys", {"keystrokes": command}, json.dumps([{"keystrokes": command + "\n", "duration": 0.1}])),
            Observation(raw=after.encode(), raw_format="tmux-ansi", meta={"cols": 80, "rows": 24, "exit_status": 0}),
            Timings(action_start, action_start + timedelta(milliseconds=40)), Provenance("terminal", "1")).to_row())
        screen = after
    return rows


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> tuple[Path, dict[str, datetime]]:
    """A curate output of three episodes, and each raw transition's action_start by id. `tc` repeats `ta`'s first
    step an hour later: the same transition at another clock time, which dedupe must still find."""
    root = tmp_path_factory.mktemp("timestamps")
    raw, starts = root / "raw", {}
    for rows in (_terminal_episode("ta", START), _terminal_episode("tb", START + timedelta(minutes=5)),
                 _terminal_episode("tc", START + timedelta(hours=1), first_words="ta-0")):
        path = raw / "transitions" / "terminal" / f"{rows[0]['episode_id']}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA), path)
        starts.update((f"{row['episode_id']}:{row['step']}", row["timings"]["action_start"]) for row in rows)
    out = root / "curated"
    result = CliRunner().invoke(build_cli(), ["curate", "--input", str(raw), "--output", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, starts


def _export_atif(curated_out: Path, out: Path, time_zone: str = "UTC") -> dict[str, dict]:
    """`worldline export atif` in its own process, whose local time zone (duckdb's session zone) is `time_zone`."""
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", "atif", "--input", str(curated_out),
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TZ": time_zone})
    assert result.returncode == 0, result.stderr
    return {path.stem: json.loads(path.read_text()) for path in out.glob("*/*.json")}


def test_curated_transitions_carry_the_raw_action_start(curated):
    out, starts = curated
    table = pq.read_table(out / "transitions")
    assert table.schema.field("action_started_at").type == pa.timestamp("us", tz="UTC")
    rows = {row["id"]: row for row in table.to_pylist()}
    assert "tc:0" not in rows  # ta:0 at another time: still its exact duplicate
    assert rows and {row_id: row["action_started_at"] for row_id, row in rows.items()} == \
        {row_id: starts[row_id] for row_id in rows}
    # Never a target or prompt text: no stage row shows any of the times.
    stage_text = "".join(json.dumps(row, default=str) for stage in ("stage1", "stage2", "stage3")
                         for row in pq.read_table(out / stage).to_pylist())
    for start in starts.values():
        for shown in (start.isoformat(), start.strftime("%H:%M:%S"), str(int(start.timestamp()))):
            assert shown not in stage_text


def test_atif_agent_steps_are_stamped_with_the_action_start_in_utc(curated, tmp_path):
    out, starts = curated
    # A non-UTC zone: duckdb hands timestamps over in its session's zone, and the export must still write UTC.
    trajectories = _export_atif(out, tmp_path / "atif", time_zone="America/New_York")
    assert sorted(trajectories) == ["ta", "tb", "tc"]
    for episode, trajectory in trajectories.items():
        agent = [step for step in trajectory["steps"] if step["source"] == "agent"]
        stamps = [step["timestamp"] for step in agent]
        assert stamps == [starts[step["extra"]["id"]].isoformat(timespec="microseconds").replace("+00:00", "Z")
                          for step in agent], episode
        times = [datetime.fromisoformat(stamp) for stamp in stamps]
        assert times == sorted(times) and len(set(times)) == len(times), episode
        # No honest time for the task, the reset or a restated state in the curated table: none is made up.
        assert all("timestamp" not in step for step in trajectory["steps"] if step["source"] != "agent"), episode


def test_an_output_curated_before_the_column_still_exports(curated, tmp_path):
    out, _ = curated
    older = tmp_path / "older"
    older.mkdir()
    for entry in out.iterdir():
        if entry.is_dir() and entry.name != "transitions":
            (older / entry.name).symlink_to(entry)
        elif entry.is_file():
            (older / entry.name).write_bytes(entry.read_bytes())
    (older / "transitions").mkdir()
    for shard in (out / "transitions").glob("*.parquet"):
        # The schema before the column: the current one less its last field.
        pq.write_table(pq.read_table(shard).drop_columns(["action_started_at"]), older / "transitions" / shard.name)
    trajectories = _export_atif(older, tmp_path / "atif")
    assert sorted(trajectories) == ["ta", "tb", "tc"]
    assert all("timestamp" not in step for trajectory in trajectories.values() for step in trajectory["steps"])
    result = CliRunner().invoke(build_cli(), ["export", "agentworldbench", "--input", str(older), "--out",
                                              str(tmp_path / "awb")], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("start", [START, datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=timezone.utc),
                                   # round(seconds * 1e6) would give ...500220 back.
                                   datetime(2110, 4, 19, 3, 8, 17, 500219, tzinfo=timezone.utc),
                                   datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
                                   "2031-03-04T05:06:07.000001+00:00"])
def test_curated_row_keeps_the_microsecond(start):
    """Curation reads the start as float epoch seconds (transforms.validate.recorded_at); the column gets the
    raw microseconds back exactly, from a Parquet datetime or a JSONL ISO string alike."""
    row = Transition("e", 0, "terminal", EnvInfo("docker-image", "test"), None, None,
                     Observation(raw=b"$ ", raw_format="tmux-ansi"), Action("keys", {}, "ls"),
                     Observation(raw=b"$ ls\n$ ", raw_format="tmux-ansi"),
                     Timings(START, START), Provenance("terminal", "1")).to_row()
    row["timings"]["action_start"] = start
    expected = datetime.fromisoformat(start) if isinstance(start, str) else start
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert curated_row(row)["action_started_at"] == (expected - epoch) // timedelta(microseconds=1)
