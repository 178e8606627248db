"""A replay that stops before the recorded steps run out (here: its second command fails, as the first play left
nothing behind for it in a fresh environment but the host keeps it) is counted and named in collect's summary, where
the run used to say nothing of it and the episode's later steps silently had fewer replays to compare with."""

import subprocess

import pyarrow.parquet as pq
from rich.console import Console

from collectors import command
from collectors.api import StepResult, Task
from collectors.command import plans_for, run_and_report
from collectors.runner import episode_id_for
from schemas import Observation
from schemas.layout import transitions_path
from tests.collectors.test_store_resume import ShellCollector


class FailingShellCollector(ShellCollector):
    """The host's /bin/sh, where a command that fails breaks the environment (the step raises)."""

    def step(self, action):
        done = subprocess.run(["/bin/sh", "-c", action.arguments["cmd"]], capture_output=True, timeout=10)
        if done.returncode:
            raise RuntimeError(f"{action.text!r} failed: {done.stderr.decode().strip()}")
        return StepResult(Observation(done.stdout.decode(), done.stdout, "text", {"exit_code": 0}))


def test_a_replay_that_stops_short_is_counted_and_named(tmp_path, monkeypatch, caplog):
    once = tmp_path / "once"  # made by the recorded play; a replay's mkdir then fails
    tasks = [Task(id="short", instruction="make a folder", actions=["echo first", f"mkdir {once}", "echo third"]),
             Task(id="whole", instruction="echo", actions=["echo a", "echo b"])]
    printed = Console(file=None, record=True, width=200)
    monkeypatch.setattr(command, "console", printed)
    report = run_and_report(lambda: FailingShellCollector(tmp_path / "never"), plans_for(tasks, replays=1),
                            tmp_path / "out", domain="shelltest")
    assert (report.completed, report.errored, report.replays_short) == (2, 0, 1)
    episode_id = episode_id_for("shelltest", "short", 0)
    rows = pq.read_table(transitions_path(tmp_path / "out", "shelltest", episode_id)).to_pylist()
    assert [len(row["replay_observations"] or []) for row in rows] == [1, 0, 0]
    assert f"a replay of {episode_id} stopped after 1 of 3 steps" in " ".join(caplog.messages)
    assert "1 episode got a replay that stopped short of the recorded steps" in printed.export_text()
