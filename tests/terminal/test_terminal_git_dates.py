"""The terminal git tasks' commits are constants (audit2 G1): the commits their setup makes and the ones typed into
the shell get the same ids in an episode a few seconds later, as a replay must see them."""

from __future__ import annotations

import re
import time
from pathlib import Path

from collectors.api import Task
from collectors.tasks import load_tasks

TASKS = Path(__file__).resolve().parents[2] / "tasks" / "terminal.yaml"
COMMIT_ID = re.compile(r"^id=([0-9a-f]{40})$", re.M)


def _commit_ids(collector, task: Task) -> list[str]:
    """The task played through, then the ids of every commit in its repository."""
    collector.reset(task)
    for spec in task.actions:
        step = collector.step(collector.parse_action(spec))
        assert step.error is None, step.error
    shown = collector.step(collector.parse_action([{"keystrokes": "git log --all --format=id=%H\n", "duration": 3}]))
    return COMMIT_ID.findall(shown.observation.text)


def test_terminal_git_commit_ids_do_not_follow_the_clock(collector):
    # Setup commits and a commit typed into the shell both; the merge is a fast-forward to the typed one.
    [task] = [task for task in load_tasks(TASKS) if task.id == "git-branch-merge"]
    first = _commit_ids(collector, task)
    time.sleep(1.5)  # past the next wall-clock second, the unit a commit date has
    second = _commit_ids(collector, task)
    assert len(first) == 2 and first == second
