"""A plugin collector says "this task is wrong" by raising collectors.api.TaskError from reset or step: the episode
ends in a task error, counted apart from environment errors in the collect summary. Before, every exception from
reset or step was an environment error, and a plugin had no way to say otherwise. Played by a real plugin, found
through its `worldline.collectors` entry point in a `worldline collect` subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from collectors.api import Task, TaskError
from collectors.runner import EpisodePlan, run_episode
from collectors.terminal import TerminalTaskError
from collectors.web import WebCollector

# A collector that reads lines of a fixture file: a task naming a fixture that does not exist, or a line the fixture
# does not have, is a mistake in the task; a fixture path that cannot be read as a file is the environment's.
PLUGIN = '''
from pathlib import Path

import typer

from collectors.api import Collector, StepResult, TaskError
from collectors.command import OutOption, plans_for, run_and_report
from collectors.tasks import load_tasks
from schemas import Action, EnvInfo, Observation


class FixtureCollector(Collector):
    name, domain, version = "fixture-demo", "fixture", "1"

    def __init__(self, fixtures):
        self.fixtures, self.lines = Path(fixtures), []

    def env_info(self):
        return EnvInfo(kind="files", id=str(self.fixtures))

    def reset(self, task):
        path = self.fixtures / task.options["fixture"]
        if not path.exists():
            raise TaskError(f"task {task.id!r}: fixture {task.options['fixture']!r} is not in {self.fixtures}")
        self.lines = path.read_text().splitlines()
        return Observation(f"{len(self.lines)} lines")

    def parse_action(self, spec):
        return Action("line", {"number": spec}, f"line {spec}")

    def step(self, action):
        number = action.arguments["number"]
        if not 1 <= number <= len(self.lines):
            raise TaskError(f"line {number} asked for, the fixture has {len(self.lines)}")
        return StepResult(Observation(self.lines[number - 1]))


def collect_command(tasks: Path = typer.Option(..., "--tasks"), fixtures: Path = typer.Option(..., "--fixtures"),
                    out: Path = OutOption):
    """Collect lines of fixture files."""
    run_and_report(lambda: FixtureCollector(fixtures), plans_for(load_tasks(tasks)), out, domain="fixture")
'''

TASKS = [
    {"id": "good", "instruction": "read", "options": {"fixture": "a.txt"}, "actions": [1, 2]},
    {"id": "missing", "instruction": "read", "options": {"fixture": "nope.txt"}, "actions": [1]},
    {"id": "past-end", "instruction": "read", "options": {"fixture": "a.txt"}, "actions": [1, 3]},
    {"id": "a-folder", "instruction": "read", "options": {"fixture": "sub"}, "actions": [1]},
]


def install_plugin(site):
    """What pip install leaves for an entry point: the module and a dist-info folder naming it."""
    (site / "fixture_demo.py").write_text(PLUGIN)
    info = site / "fixture_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fixture-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[worldline.collectors]\nfixture-demo = fixture_demo:collect_command\n")


def test_a_plugin_task_error_from_reset_or_step_is_counted_as_a_task_error(tmp_path):
    site, fixtures, out = tmp_path / "site", tmp_path / "fixtures", tmp_path / "out"
    site.mkdir()
    install_plugin(site)
    (fixtures / "sub").mkdir(parents=True)
    (fixtures / "a.txt").write_text("first\nsecond\n")
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": TASKS}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}

    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "fixture-demo", "--tasks", str(tasks),
                           "--fixtures", str(fixtures), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    stderr = " ".join(done.stderr.split())
    assert ("4 episodes collected (3 transitions), 0 already complete, 3 ended in an error (1 environment error, "
            "2 task errors)") in stderr, stderr
    assert "task error (fixture-missing-s0-" in stderr and "TaskError: task 'missing': fixture 'nope.txt' is not in" \
        in stderr, stderr
    records = {record["task"]["id"]: record for record in
               (json.loads(path.read_text()) for path in (out / "episodes" / "fixture").glob("*.json"))}
    assert records["missing"]["end_reason"].startswith("task error: TaskError: task 'missing': fixture 'nope.txt'")
    assert records["past-end"]["end_reason"] == "task error: TaskError: line 3 asked for, the fixture has 2"
    assert records["past-end"]["steps"] == 1  # the step recorded before the mistake is kept
    assert records["a-folder"]["end_reason"].startswith("error: IsADirectoryError")
    assert records["good"]["outcome"] == "unknown" and records["good"]["steps"] == 2


def test_the_terminal_task_error_is_a_task_error():
    # Raised by its reset for a setup command that fails (tests/terminal: the Docker run).
    assert issubclass(TerminalTaskError, TaskError)


def test_a_web_task_with_bad_options_ends_in_a_task_error_from_reset():
    # reset checks the options before starting Chromium: a task naming no page is the task's mistake.
    collector = WebCollector()
    try:
        episode, transitions = run_episode(collector, EpisodePlan(
            Task(id="no-page", instruction="look", actions=["noop()"], options={"start": "/"})))
    finally:
        collector.close()
    assert transitions == [] and episode.outcome == "error"
    assert episode.end_reason.startswith("task error: WebTaskError: task 'no-page': options.site"), episode.end_reason

