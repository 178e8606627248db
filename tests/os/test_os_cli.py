"""`worldline collect os` end to end: scripted and exploration episodes land as valid raw records, and a second
run skips what is complete."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from schemas import validate_transition
from schemas.render import render
from tests.docker_fixtures import containers_with_prefix

CALCULATOR_TASK = {"id": "calc-add", "instruction": "Add 2 and 3.",
                   "setup": [{"launch": {"argv": ["galculator"], "app": "galculator"}}],
                   "actions": ['click(name="2")', 'click(name="+")', 'click(name="3")', 'click(name="=")']}


def collect(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "os", *args], capture_output=True,
                          text=True, timeout=300)


def _display(text: str) -> str | None:
    """galculator's display: its only `text` node."""
    found = re.search(r"^\[\d+\]\ttext\t\t([^\t]*)\t", text, re.M)
    return found.group(1) if found else None


def rows(out: Path) -> list[dict]:
    files = sorted((out / "transitions" / "os").glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_scripted_collection_writes_valid_raw_episodes(tmp_path, desktop_image):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [CALCULATOR_TASK]}))
    out = tmp_path / "out"
    done = collect("--tasks", str(tasks), "--out", str(out))
    assert done.returncode == 0, done.stderr
    records = rows(out)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    for record in records:
        validate_transition(record)
        assert record["domain"] == "os" and record["env"]["id"] == desktop_image
        observation = record["next_observation"]
        assert observation["raw_format"] == "atspi-json"
        assert observation["text"] == render("atspi-json", observation["raw"], observation["meta_json"])
    # The display after each click, so a failure says which click changed nothing (one in ~10 CI runs under load
    # ended on a wrong sum, on 2026-11-27: which one is what this is for).
    shown = [_display(record["next_observation"]["text"]) for record in records]
    assert shown[-1] == "5", (f"display after each click: {shown}; waits (ms): "
                              f"{[record['timings']['wait_ms'] for record in records]}")
    episode = json.loads(next((out / "episodes" / "os").glob("*.json")).read_text())
    assert episode["steps"] == 4 and episode["policy"] == "scripted" and episode["end_reason"] == "script_done"

    again = collect("--tasks", str(tasks), "--out", str(out))
    assert again.returncode == 0 and "1 already complete" in again.stderr


def test_sigterm_mid_episode_leaves_no_container(tmp_path, desktop_image, docker_client, prefix):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump([{**CALCULATOR_TASK, "actions": ["wait(8)"]}]))
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "collect", "os", "--tasks", str(tasks), "--out",
                            str(tmp_path / "out"), "--container-prefix", prefix],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not containers_with_prefix(docker_client, prefix) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert containers_with_prefix(docker_client, prefix), "the run never started a desktop"
        time.sleep(3)  # well inside the episode (its one action waits 8 s)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) != 0
    finally:
        run.kill()
    assert not (tmp_path / "out" / "episodes").exists()  # the interrupted episode is not stored as complete
    # `prefix` checks on teardown that every container of the run is gone


def test_exploration_acts_on_visible_elements(tmp_path, desktop_image):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump([{**CALCULATOR_TASK, "actions": []}]))
    out = tmp_path / "out"
    done = collect("--explore", "--explore-steps", "4", "--tasks", str(tasks), "--out", str(out))
    assert done.returncode == 0, done.stderr
    records = rows(out)
    assert len(records) == 4
    for record in records:
        action = record["action"]
        assert action["kind"] in {"click", "type", "press"}
        if action["kind"] == "click":  # an element that was in the observation the explorer saw
            element = json.loads(action["arguments_json"])["element"]
            assert f"[{element}]\t" in record["state"]["text"]


@pytest.mark.parametrize("task, reason", [
    ({"actions": ["launch_rockets()"]}, "task 'x' action #1: unknown desktop action 'launch_rockets'"),
    ({"setup": [{"launch": {"argv": "galculator"}}]}, "task 'x' setup #1: launch needs argv, a list"),
    ({"setup": [{"download": "http://example.com"}]}, "task 'x' setup #1: unknown setup step 'download'"),
    ({"setup": [{"write_file": {"path": "notes.txt"}}]}, "write_file needs an absolute path"),
])
def test_bad_task_file_is_a_clear_error_before_any_container(tmp_path, task, reason):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump([{"id": "x", "instruction": "y", **task}]))
    done = collect("--tasks", str(tasks), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert reason in " ".join((done.stderr + done.stdout).split())
