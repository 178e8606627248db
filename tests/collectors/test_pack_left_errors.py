"""`worldline pack` says which error an episode it leaves ended in, from its end_reason: a task error used to be
called an environment error. Both kinds are played again by the next collect (the runner retries every episode
stored with outcome 'error'); a task error fails the same way until the task is fixed."""

from click.testing import CliRunner

from collectors.api import Task, TaskError
from collectors.command import plans_for
from collectors.runner import collect, episode_id_for
from pipelines.cli import build_cli
from tests.collectors.test_store_resume import ShellCollector


class SetupCollector(ShellCollector):
    """The host's /bin/sh, whose task option `setup` must succeed (else a task error) and `broken` breaks it."""

    def reset(self, task):
        if task.options.get("broken"):
            raise RuntimeError("the shell went away")
        if task.options.get("setup") and self.step(self.parse_action(task.options["setup"])).observation.meta[
                "exit_code"]:
            raise TaskError(f"task {task.id}: setup {task.options['setup']!r} failed")
        return super().reset(task)


def test_pack_names_the_error_each_left_episode_ended_in_and_collect_retries_both(tmp_path):
    out = tmp_path / "out"
    tasks = [Task(id="bad-setup", instruction="x", actions=["echo a"], options={"setup": "false"}),
             Task(id="broken", instruction="x", actions=["echo a"], options={"broken": True}),
             Task(id="fine", instruction="x", actions=["echo a"])]
    first = collect(lambda: SetupCollector(tmp_path / "never"), plans_for(tasks), out, domain="shelltest",
                    progress=False)
    assert (first.completed, first.errored, first.task_errors) == (3, 2, 1)

    result = CliRunner().invoke(build_cli(), ["pack", str(out)])
    assert result.exit_code == 0, result.output
    left = {line.split(".parquet: ")[0].rsplit("/", 1)[1]: line.split(".parquet: ")[1]
            for line in result.stdout.splitlines() if line.startswith("  left ")}
    assert left[episode_id_for("shelltest", "bad-setup", 0)] == (
        "episode ended in a task error (TaskError: task bad-setup: setup 'false' failed): the next collect plays it "
        "again, which fails the same way until the task is fixed")
    assert left[episode_id_for("shelltest", "broken", 0)] == (
        "episode ended in an environment error (RuntimeError: the shell went away): the next collect retries it")

    # What pack says the next collect does: it plays both again (not the complete one).
    again = collect(lambda: SetupCollector(tmp_path / "never"), plans_for(tasks), out, domain="shelltest",
                    progress=False)
    assert (again.retried_errors, again.completed, again.task_errors, again.skipped_complete) == (2, 2, 1, 1)
