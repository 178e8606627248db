"""`worldline collect NAME --strict` exits 1 when any episode it played ended in a task error; without it a run exits
1 only when every episode did (a task author's check passed with one wrong task of three). Every collector's command
has the flag, plugins' included, without declaring it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from click.testing import CliRunner

from collectors.api import Collector, StepResult, Task, TaskError
from collectors.command import OutOption, plans_for, run_and_report
from collectors.registry import COLLECTOR_GROUP
from pipelines.cli import build_cli
from schemas import Action, EnvInfo, Observation

REPO = Path(__file__).resolve().parents[1]


class EchoCollector(Collector):
    """A real, if tiny, environment: a step shows its action's text; "wrong" is the task's mistake, "broken" the
    environment's."""

    name, domain, version = "echo", "echo", "1"

    def env_info(self) -> EnvInfo:
        return EnvInfo(kind="echo", id="echo")

    def reset(self, task: Task) -> Observation:
        return Observation(text="ready", raw=b"ready", raw_format="text")

    def parse_action(self, spec) -> Action:
        return Action(kind="echo", arguments={"text": spec}, text=str(spec))

    def step(self, action: Action) -> StepResult:
        text = action.arguments["text"]
        if text == "wrong":
            raise TaskError("'wrong' is not a word this environment echoes")
        if text == "broken":
            raise RuntimeError("the echo device broke")
        return StepResult(observation=Observation(text=text, raw=text.encode(), raw_format="text"))


def echo_command(out: Path = OutOption, actions: str = typer.Option(..., "--actions")):
    """Echo each comma-separated action, one task each."""
    tasks = [Task(id=f"t{number}", instruction="Echo.", actions=[text])
             for number, text in enumerate(actions.split(","), 1)]
    run_and_report(EchoCollector, plans_for(tasks), out, domain="echo")


def collect_echo(out: Path, *args: str) -> subprocess.CompletedProcess:
    # `worldline collect echo`, registered as a plugin's command would be; a process of its own, as collect installs
    # signal handlers.
    code = ("from pipelines.cli import CollectGroup; "
            "CollectGroup(name='collect', targets={'echo': ('tests.test_cli_collect_strict:echo_command', '')})"
            f"(['echo', '--out', {str(out)!r}, *{list(args)!r}], prog_name='worldline collect')")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_strict_fails_a_run_with_one_task_error_and_says_why(tmp_path):
    lenient = collect_echo(tmp_path / "lenient", "--actions", "hello,wrong,again")
    assert lenient.returncode == 0, lenient.stderr
    strict = collect_echo(tmp_path / "strict", "--actions", "hello,wrong,again", "--strict")
    assert strict.returncode == 1, strict.stderr
    said = " ".join(strict.stderr.split())
    assert "3 episodes collected (2 transitions), 0 already complete, 1 ended in an error (1 task error)" in said, said
    assert said.endswith("1 of the 3 episodes played ended in a task error, and --strict fails the run on any: exit "
                         "code 1"), said
    assert "Traceback" not in said


def test_strict_passes_a_run_without_task_errors(tmp_path):
    # An environment error is not the task's mistake (the next run plays it again): --strict is about the tasks.
    result = collect_echo(tmp_path / "out", "--actions", "hello,broken", "--strict")
    assert result.returncode == 0, result.stderr
    assert "1 ended in an error (1 environment error)" in " ".join(result.stderr.split())
    assert "--strict" not in result.stderr


@pytest.mark.parametrize("name", sorted(ep.name for ep in entry_points(group=COLLECTOR_GROUP)))
def test_every_collector_takes_strict(name):
    result = CliRunner().invoke(build_cli(), ["collect", name, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "--strict" in result.output and "Exit 1 if any episode played ends in a task error" in " ".join(
        result.output.split()), result.output
