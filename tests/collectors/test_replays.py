"""collect --replays on a real terminal: each step's actions played again in a fresh container, and what differed
marked volatile by curation (span kind "replay"), where no masking rule would have found it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from tests.collectors.test_terminal_runs import REPO, run_collect


def test_replayed_values_that_no_rule_finds_are_marked_and_constant_output_is_not(tmp_path, base_image, prefix):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [{
        "id": "dice", "instruction": "Roll dice and print a fixed banner.",
        "actions": [[{"keystrokes": "echo roll $RANDOM$RANDOM; echo banner fixed-text\n", "duration": 5}],
                    [{"keystrokes": "echo second step\n", "duration": 5}]],
    }]}))
    raw = tmp_path / "raw"
    result = run_collect(tasks, raw, prefix, "--replays", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    [transitions] = list((raw / "transitions" / "terminal").glob("*.parquet"))
    rows = pq.read_table(transitions).to_pylist()
    assert [row["schema_version"] for row in rows] == ["1.1", "1.1"]
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
    return next(line for line in text.splitlines() if line.startswith("roll ")).split()[1]
