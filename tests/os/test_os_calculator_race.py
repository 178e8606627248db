"""tasks/os.yaml terminal-open-calculator against the real desktop: galculator starts only after the typing step
has been observed, so its window cannot race that observation (the sixth output audit's recording lacked the window
its replay showed), and it is up by the end of the wait. Recording and replay agree but for the job's pid."""

from __future__ import annotations

import uuid

import pytest

from collectors.api import ScriptedPolicy
from collectors.os_desktop import DesktopCollector
from collectors.runner import EpisodePlan, add_replays, run_episode
from collectors.tasks import load_tasks
from transforms.normalize import normalize_observation
from transforms.replay import other_outcome

TASK = next(task for task in load_tasks("tasks/os.yaml") if task.id == "terminal-open-calculator")


@pytest.fixture(scope="module")
def collector(desktop_image, docker_client):
    prefix = f"wltest-oscalc-{uuid.uuid4().hex[:8]}"
    with DesktopCollector(desktop_image, name_prefix=prefix) as live:
        yield live
    names = [c["Names"][0].lstrip("/") for c in docker_client.api.containers(all=True)]
    assert [n for n in names if n.startswith(prefix)] == [], "desktop containers left behind"


def _terminal_line(text: str) -> str:
    return next(line for line in text.splitlines() if "\tterminal\t" in line)


def test_the_window_appears_in_the_wait_step_only_and_replays_agree(collector):
    plan = EpisodePlan(TASK, 0, ScriptedPolicy, replays=1)
    sent = []
    episode, transitions = run_episode(collector, plan, sent=sent)
    assert episode.outcome != "error", episode.end_reason
    assert add_replays(collector, plan, transitions, sent)
    for step, transition in enumerate(transitions):
        recorded, *replays = [normalize_observation(observation.to_row()) for observation in
                              [transition.next_observation, *transition.replay_observations]]
        assert len(replays) == 1
        for text in (recorded, *replays):
            # Step 0 is observed before galculator starts: no job line, no window; step 1 after it mapped.
            assert ("[1] " in _terminal_line(text)) == (step == 1), (step, _terminal_line(text))
            assert ("frame 'galculator'" in text) == (step == 1), (step, text[:200])
        assert other_outcome(recorded, replays) is None, step
