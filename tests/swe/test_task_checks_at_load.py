"""Mistakes in an swe (and terminal) task file are one line `Error: FILE: task 'ID' ...` (exit 2) before Docker is
asked (task-author walkthrough T3, T4, T14): a top-level `perturbations` was recorded as a label and never applied
(a `disk_full` episode ran on an empty disk), a misspelled option (`mutaton:`) was dropped and the episode ran on
the clean repository, and action errors were typer's three lines (Usage / Try --help / Invalid value for --tasks)
without the file's name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# An engine that is not there: a run that got as far as Docker (an image build, a container) would end in "cannot
# reach the Docker engine" instead of the task-file error.
NO_ENGINE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/h164-docker.sock"}


def collect(tmp_path: Path, domain: str, tasks: list[dict], *extra: str) -> subprocess.CompletedProcess:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(yaml.safe_dump({"tasks": tasks}, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", domain, "--tasks", str(tasks_file),
                           "--out", str(tmp_path / "out"), *extra],
                          cwd=ROOT, env=NO_ENGINE, capture_output=True, text=True, timeout=120)


def one_error_line(done: subprocess.CompletedProcess, tmp_path: Path) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"Error: {tmp_path / 'tasks.yaml'}: task 't1'"), lines[0]
    assert not (tmp_path / "out" / "episodes").exists()
    return lines[0]


def swe_task(**fields) -> dict:
    return {"id": "t1", "instruction": "look", "options": {"repo": "six"}, "actions": [{"bash": "ls"}], **fields}


@pytest.mark.parametrize("fields, expected", [
    ({"perturbations": ["disk_full"]},
     "task 't1': perturbations ['disk_full'] would be recorded but not applied: swe applies none; put the repository "
     "or the machine in the state you want with setup commands"),
    ({"options": {"repo": "six", "mutaton": "six.py:1:flip:0"}},
     "task 't1': unknown options ['mutaton']; known: ['repo', 'mutation', 'mutation_kind', 'failing_tests']"),
    ({"actions": [{"bash": "ls"}, {"bsh": "ls"}]}, "task 't1' action #2: unknown action 'bsh'; known: bash,"),
    ({"options": {"repo": "sx"}}, "task 't1': options.repo 'sx' is not in the repos file"),
])
def test_an_swe_task_mistake_is_one_line_before_docker(tmp_path, fields, expected):
    good = {**swe_task(), "id": "t0"}  # every task is checked before the first image or container
    line = one_error_line(collect(tmp_path, "swe", [good, swe_task(**fields)]), tmp_path)
    assert expected in line, line


def test_the_shipped_swe_tasks_pass_the_checks():
    from collectors.swe import check_task, shipped_repos_file
    from collectors.tasks import load_tasks
    from sandboxes.swe_repos import load_repo_specs

    repos = {spec.name: spec for spec in load_repo_specs(shipped_repos_file())}
    for task in load_tasks(ROOT / "tasks" / "swe.yaml", domain="swe"):
        check_task(task, repos)


@pytest.mark.parametrize("fields, expected", [
    ({"actions": [[{"keystrokes": "ls\n", "duraton": 1}]]}, "task 't1' action #1, entry 1: unknown keys ['duraton']"),
    ({"options": {"memroy": "96m"}}, "task 't1': unknown options ['memroy']; known:"),
])
def test_a_terminal_task_mistake_is_the_same_one_line(tmp_path, fields, expected):
    """Terminal wrapped these in typer.BadParameter too; an image that does not exist shows the check comes first."""
    task = {"id": "t1", "instruction": "look", "actions": [[{"keystrokes": "ls\n"}]], **fields}
    line = one_error_line(collect(tmp_path, "terminal", [task], "--image", "worldline/h164-absent:none"), tmp_path)
    assert expected in line and "Invalid value" not in line, line
