"""Ctrl-C during a collection: the first one says what it waits for and lets the running steps end, a second one
stops at once. Either way the episodes in flight are not stored (a rerun collects them) and no container is left."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.interrupts import with_default_sigint

REPO = Path(__file__).resolve().parents[2]
WAITING = "interrupted: waiting for 2 running steps to end (Ctrl-C again to stop them now)"


def write_tasks(path: Path, sleep_s: int) -> Path:
    """Two tasks whose first step runs `sleep` (the step waits for the prompt to come back), then a second step."""
    tasks = [{"id": f"nap-{i}", "instruction": "Sleep, then say done.", "options": {"action_timeout_s": sleep_s + 30},
              "actions": [[{"keystrokes": f"sleep {sleep_s}\n", "duration": sleep_s + 30}],
                          [{"keystrokes": "echo done\n", "duration": 5}]]} for i in range(2)]
    path.write_text(yaml.safe_dump({"tasks": tasks}))
    return path


def start(tasks: Path, out: Path, prefix: str) -> tuple[subprocess.Popen, Path]:
    log = out.parent / "collect.log"
    argv = [sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--tasks", str(tasks), "--out", str(out),
            "--container-prefix", prefix, "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            preexec_fn=with_default_sigint)
    return proc, log


def wait_for_sleeps(docker_client, prefix: str, sleep_s: int, proc, log: Path, timeout: float = 120) -> None:
    """Until two of the run's containers are inside the `sleep` step."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"collection ended early: {log.read_text()}"
        assert time.monotonic() < deadline, f"the steps never started: {log.read_text()}"
        sleeping = 0
        for container in docker_client.api.containers(filters={"label": "worldline=1"}):
            if container["Names"][0].lstrip("/").startswith(prefix):
                try:
                    processes = docker_client.api.top(container["Id"])["Processes"] or []
                except Exception:  # removed meanwhile
                    continue
                sleeping += any(f"sleep {sleep_s}" in " ".join(p) for p in processes)
        if sleeping >= 2:
            return
        time.sleep(0.2)


def wait_for_text(log: Path, text: str, proc, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"exited before printing {text!r}: {log.read_text()}"
        assert time.monotonic() < deadline, f"{text!r} not printed: {log.read_text()}"
        time.sleep(0.1)


def stored_episodes(out: Path) -> list[Path]:
    return sorted((out / "episodes" / "terminal").glob("*.json"))


def test_second_ctrl_c_stops_at_once_and_stores_nothing(tmp_path, base_image, prefix, docker_client,
                                                       containers_named):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 60), tmp_path / "out"
    proc, log = start(tasks, out, prefix)
    try:
        wait_for_sleeps(docker_client, prefix, 60, proc, log)
        proc.send_signal(signal.SIGINT)
        wait_for_text(log, WAITING, proc)
        time.sleep(2)
        assert proc.poll() is None, "the first Ctrl-C must wait for the running steps"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=30)
        assert time.monotonic() - sent < 10, "the second Ctrl-C must not wait for the steps"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "stopping now: 2 episodes in flight not saved" in log.read_text()
    assert containers_named(prefix) == []
    assert stored_episodes(out) == [] and not list((out / "transitions").rglob("*.parquet"))


def test_first_ctrl_c_waits_for_the_steps_then_stops_without_storing_them(tmp_path, base_image, prefix,
                                                                          docker_client, containers_named):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 6), tmp_path / "out"
    proc, log = start(tasks, out, prefix)
    try:
        wait_for_sleeps(docker_client, prefix, 6, proc, log)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        wait_for_text(log, WAITING, proc)
        proc.wait(timeout=60)
        assert time.monotonic() - sent < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "stopping now" not in log.read_text()
    assert containers_named(prefix) == []
    assert stored_episodes(out) == [], "an interrupted episode must not be stored as complete"

    again = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--tasks", str(tasks),
                            "--out", str(out), "--container-prefix", prefix, "--workers", "2"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "2 episodes collected" in again.stderr and "0 already complete" in again.stderr
    assert len(stored_episodes(out)) == 2
