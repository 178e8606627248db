"""An episode that ends in an error gets no replay (the next run plays it again), so it is not one whose replay
"stopped short": the summary counted it so and said a warning above named it, where none did."""

from rich.console import Console

from collectors import command
from collectors.api import Task
from collectors.command import plans_for, run_and_report
from tests.collectors.test_replays_short import FailingShellCollector


def test_an_errored_episode_is_not_a_short_replay(tmp_path, monkeypatch, caplog):
    tasks = [Task(id="breaks", instruction="fail", actions=["echo a", "false"]),
             Task(id="whole", instruction="echo", actions=["echo a", "echo b"])]
    printed = Console(file=None, record=True, width=200)
    monkeypatch.setattr(command, "console", printed)
    report = run_and_report(lambda: FailingShellCollector(tmp_path / "never"), plans_for(tasks, replays=1),
                            tmp_path / "out", domain="shelltest", exit_on_failure=False)
    assert (report.completed, report.errored, report.replays_short) == (2, 1, 0)
    assert "stopped short" not in printed.export_text()
    assert not [message for message in caplog.messages if "a replay of" in message]
