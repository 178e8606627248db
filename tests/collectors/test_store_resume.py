"""Resume semantics of the runner on a real local process environment: complete episodes are skipped, episodes
whose environment broke are retried, and each episode is stored exactly once."""

import subprocess

from collectors.api import Collector, StepResult, Task
from collectors.command import plans_for
from collectors.runner import collect
from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Observation


class ShellCollector(Collector):
    """Runs each action with the host's /bin/sh; fails on reset while the flag file exists."""

    name, domain, version = "shell-test", "shelltest", "1"

    def __init__(self, broken_flag):
        self.broken_flag = broken_flag

    def env_info(self):
        return EnvInfo("host-shell", "/bin/sh")

    def reset(self, task):
        if self.broken_flag.exists():
            raise RuntimeError("environment unavailable")
        return Observation("")

    def parse_action(self, spec):
        return Action("sh", {"cmd": spec}, spec)

    def step(self, action):
        done = subprocess.run(["/bin/sh", "-c", action.arguments["cmd"]], capture_output=True, timeout=10)
        return StepResult(Observation(done.stdout.decode(), done.stdout, "text", {"exit_code": done.returncode}))


def test_errored_episodes_are_retried_and_complete_ones_skipped(tmp_path):
    flag = tmp_path / "broken"
    tasks = [Task(id=f"t{i}", instruction="echo", actions=[f"echo {i}"]) for i in range(3)]
    out = tmp_path / "out"

    flag.touch()
    first = collect(lambda: ShellCollector(flag), plans_for(tasks), out, domain="shelltest", progress=False)
    assert (first.completed, first.errored) == (3, 3)

    flag.unlink()
    second = collect(lambda: ShellCollector(flag), plans_for(tasks), out, domain="shelltest", progress=False)
    assert (second.retried_errors, second.completed, second.errored, second.transitions) == (3, 3, 0, 3)

    third = collect(lambda: ShellCollector(flag), plans_for(tasks), out, domain="shelltest", progress=False)
    assert (third.skipped_complete, third.completed) == (3, 0)
    episodes = EpisodeStore(out).episodes()
    assert sorted(e["task"]["id"] for e in episodes) == ["t0", "t1", "t2"]
    assert all(e["outcome"] != "error" and e["steps"] == 1 for e in episodes)
