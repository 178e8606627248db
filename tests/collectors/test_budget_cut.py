"""A step budget shorter than a task's script (its max_steps, else --max-steps) stops the episode quietly with
end_reason budget: collect names those tasks in its summary, since the episode is stored as complete."""

from collectors.api import Task
from collectors.command import plans_for, run_and_report
from tests.collectors.test_store_resume import ShellCollector


def test_a_budget_shorter_than_the_script_is_named_in_the_summary(tmp_path, capsys):
    flag = tmp_path / "never"
    tasks = [Task(id="cut-short", instruction="three steps", actions=["echo 1", "echo 2", "echo 3"], max_steps=1),
             Task(id="unbudgeted", instruction="two steps", actions=["echo 1", "echo 2"]),
             Task(id="exact-fit", instruction="two steps, budget two", actions=["echo 1", "echo 2"], max_steps=2)]
    report = run_and_report(lambda: ShellCollector(flag), plans_for(tasks), tmp_path / "out", domain="shelltest")
    assert report.completed == 3 and report.transitions == 1 + 2 + 2
    assert report.cut_by_budget == ["cut-short"]
    summary = capsys.readouterr().err
    assert "1 episode stopped at the step budget with scripted actions left" in summary
    line = next(line for line in summary.splitlines() if "step budget" in line)
    assert "(task cut-short)" in line and "unbudgeted" not in line and "exact-fit" not in line
