"""Whole collections through the CLI: atomic episodes, resume, every episode exactly once after SIGKILL or Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from schemas.validate import transition_errors
from tests.interrupts import with_default_sigint

REPO = Path(__file__).resolve().parents[2]


def write_tasks(path: Path, count: int, pause_s: float = 0.3) -> Path:
    """`count` two-step tasks; each step pauses briefly so a run lasts long enough to be interrupted mid-way."""
    tasks = [{
        "id": f"job-{i:02d}", "instruction": f"Print job {i}.", "setup": [f"echo {i} > n.txt"],
        "actions": [[{"keystrokes": f"sleep {pause_s}; cat n.txt\n", "duration": 5}],
                    [{"keystrokes": f"echo done-{i}\n", "duration": 5}]],
    } for i in range(count)]
    path.write_text(yaml.safe_dump({"tasks": tasks}))
    return path


def collect_argv(tasks: Path, out: Path, prefix: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--tasks", str(tasks), "--out", str(out),
            "--container-prefix", prefix, *extra]


def run_collect(tasks: Path, out: Path, prefix: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(collect_argv(tasks, out, prefix, *extra), cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def start_collect(tasks: Path, out: Path, prefix: str, *extra: str) -> subprocess.Popen:
    # stderr to a file, not a pipe nobody reads while the run goes on (a full pipe would stall the run).
    log = open(out.parent / "collect.log", "w")
    return subprocess.Popen(collect_argv(tasks, out, prefix, *extra), cwd=REPO, stdout=log, stderr=log,
                            preexec_fn=with_default_sigint)


def episodes(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted((out / "episodes" / "terminal").glob("*.json")):
        record = json.loads(path.read_text())
        assert record["episode_id"] not in found
        found[record["episode_id"]] = record
    return found


def check_every_episode_once(out: Path, task_count: int) -> dict[str, dict]:
    done = episodes(out)
    assert sorted(r["task"]["id"] for r in done.values()) == [f"job-{i:02d}" for i in range(task_count)]
    parquet = sorted(p.stem for p in (out / "transitions" / "terminal").glob("*.parquet"))
    assert parquet == sorted(done)
    for episode_id, record in done.items():
        rows = pq.read_table(out / "transitions" / "terminal" / f"{episode_id}.parquet").to_pylist()
        assert [row["step"] for row in rows] == list(range(record["steps"])) == [0, 1]
        assert record["outcome"] != "error", record["end_reason"]
        for row in rows:
            assert transition_errors(row) == []
        number = int(record["task"]["id"].split("-")[1])
        assert f"\ndone-{number}\n" in rows[1]["next_observation"]["text"]
    return done


def wait_for_episodes(out: Path, count: int, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list((out / "episodes" / "terminal").glob("*.json"))) < count:
        assert proc.poll() is None, f"collection ended early: {(out.parent / 'collect.log').read_text()}"
        assert time.monotonic() < deadline, "no episode finished in time"
        time.sleep(0.05)


def test_collect_writes_episodes_and_a_second_run_skips_them(tmp_path, base_image, prefix):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 3, pause_s=0.05), tmp_path / "out"
    first = run_collect(tasks, out, prefix, "--workers", "2", "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert len(episodes(out)) == 2
    second = run_collect(tasks, out, prefix, "--workers", "2")
    assert second.returncode == 0, second.stderr
    assert "1 episode collected" in second.stderr and "2 already complete" in second.stderr
    check_every_episode_once(out, 3)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_sigkilled_collection_resumes_with_every_episode_exactly_once(tmp_path, base_image, prefix,
                                                                    containers_named):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 4), tmp_path / "out"
    proc = start_collect(tasks, out, prefix, "--workers", "2")
    wait_for_episodes(out, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = {path.name: path.stat().st_mtime_ns for path in (out / "episodes" / "terminal").glob("*.json")}
    assert 1 <= len(before) < 4, "the kill should land mid-collection"
    assert containers_named(prefix), "SIGKILL cannot clean up: its containers are still there"

    again = run_collect(tasks, out, prefix, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert f"{len(before)} already complete" in again.stderr
    check_every_episode_once(out, 4)
    after = {path.name: path.stat().st_mtime_ns for path in (out / "episodes" / "terminal").glob("*.json")}
    assert {name: after[name] for name in before} == before, "complete episodes must not be rewritten"
    assert containers_named(prefix) == [], "the rerun removes the killed run's orphans"


def test_ctrl_c_stops_the_collection_without_leaving_containers(tmp_path, base_image, prefix, containers_named):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 4), tmp_path / "out"
    proc = start_collect(tasks, out, prefix, "--workers", "2")
    wait_for_episodes(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) != 0
    assert containers_named(prefix) == []
    done_before = len(episodes(out))
    again = run_collect(tasks, out, prefix, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert f"{done_before} already complete" in again.stderr
    check_every_episode_once(out, 4)


def test_bad_task_files_and_missing_images_are_clear_errors(tmp_path, base_image, prefix):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([{"id": "typo", "instruction": "x",
                                    "actions": [[{"keystrokes": "ls\n", "duration": -1}]]}]))
    result = run_collect(bad, tmp_path / "out", prefix)
    assert result.returncode != 0
    assert "task 'typo' action #1, entry 1" in result.stderr and "duration must be a number" in result.stderr
    missing = run_collect(write_tasks(tmp_path / "ok.yaml", 1), tmp_path / "out", prefix, "--image", "wl/none:x")
    assert missing.returncode != 0 and "worldline sandbox build-image" in missing.stderr
    assert not (tmp_path / "out" / "episodes").exists()
