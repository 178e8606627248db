"""`worldline collect android` end to end: the real CLI, the real adb server, the replay device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]


def _worldline(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "android", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})


def _rows(out):
    return [row for path in sorted((out / "transitions" / "android").glob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]


def test_collect_scripted_tasks_then_resume_skips_them(replay_device, tmp_path):
    raw = tmp_path / "raw"
    args = ["--serial", replay_device.serial, "--tasks", str(REPO / "tasks" / "android.yaml"), "--out",
            str(raw), "--settle", "0"]
    first = _worldline(*args)
    assert first.returncode == 0, first.stderr
    assert "4 episodes collected (15 transitions)" in first.stderr and "0 ended in an error" in first.stderr
    assert {r["task"]["id"] for r in _rows(raw)} == {"settings-network", "gmail-compose-and-back",
                                                     "chrome-search", "settings-from-launcher-intent"}
    again = _worldline(*args)
    assert again.returncode == 0 and "4 already complete" in again.stderr

    # Replayed screens are recordings, not what a device did: curation keeps them out of the training shards.
    curate = [sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output"]
    kept_out = subprocess.run([*curate, str(tmp_path / "shards")], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
    assert kept_out.returncode == 0, kept_out.stderr
    stats = json.loads((tmp_path / "shards" / "stats.json").read_text())
    assert (stats["out"], stats["dead_lettered_by_stage"]) == (0, {"stand_in": 15})
    assert "pass --keep-stand-ins" in kept_out.stderr
    kept = subprocess.run([*curate, str(tmp_path / "kept"), "--keep-stand-ins"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert kept.returncode == 0 and json.loads((tmp_path / "kept" / "stats.json").read_text())["out"] == 15


def test_explore_stays_within_budget_and_inside_the_app(replay_device, tmp_path):
    result = _worldline("--serial", replay_device.serial, "--explore", "com.android.settings", "--out", str(tmp_path),
                        "--settle", "0", "--max-steps", "8", "--seeds", "2")
    assert result.returncode == 0, result.stderr
    episodes = [json.loads(p.read_text()) for p in (tmp_path / "episodes" / "android").glob("*.json")]
    assert len(episodes) == 2
    assert all(e["policy"] == "explore" and e["steps"] == 8 and e["end_reason"] == "budget" for e in episodes)
    rows = _rows(tmp_path)
    assert all(r["provenance"]["stand_in"] and r["env"]["kind"] == "android-replay" for r in rows)
    # Exploration reached screens beyond the app's first one (recorded transitions were followed).
    assert len({r["next_observation"]["raw"] for r in rows}) >= 3
    texts = [r["action"]["text"] for r in rows]
    assert all(t.startswith(("tap(", "scroll(", "key(back)", "open_app(")) for t in texts)


def test_bad_arguments_are_clear(tmp_path):
    both = _worldline("--serial", "x", "--tasks", "t.yaml", "--explore", "com.a.b", "--out", str(tmp_path))
    assert both.returncode != 0 and "exactly one of --tasks FILE or --explore PACKAGE" in both.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: t1\n  instruction: x\n  actions: ['fly(3)']\n")
    result = _worldline("--serial", "x", "--tasks", str(bad), "--out", str(tmp_path))
    assert result.returncode != 0 and "task 't1'" in result.stderr and "unknown android action 'fly'" in result.stderr
    missing = _worldline("--serial", "no-such-device", "--explore", "com.a.b", "--out", str(tmp_path))
    assert missing.returncode != 0 and "'no-such-device' is not ready" in missing.stderr


def test_a_rerun_with_replays_adds_them_to_the_stored_android_episodes(replay_device, tmp_path):
    args = ["--serial", replay_device.serial, "--tasks", str(REPO / "tasks" / "android.yaml"), "--out",
            str(tmp_path), "--settle", "0"]
    assert _worldline(*args).returncode == 0
    files = sorted((tmp_path / "transitions" / "android").glob("*.parquet"))
    recorded = {path: pq.read_table(path).drop_columns(["replay_observations"]) for path in files}

    again = _worldline(*args, "--replays", "1")
    assert again.returncode == 0, again.stderr
    assert "replays added to 4 stored episodes" in again.stderr, again.stderr
    for path in files:
        table = pq.read_table(path)
        assert table.drop_columns(["replay_observations"]).equals(recorded[path])
        rows = table.to_pylist()
        # The stored actions tap the recorded element indexes again, from the task's start: the replay device
        # answers them with the screens it answered the first time.
        assert all(len(row["replay_observations"]) == 1 for row in rows)
        assert [row["replay_observations"][0]["raw"] for row in rows] == [row["next_observation"]["raw"]
                                                                          for row in rows]
