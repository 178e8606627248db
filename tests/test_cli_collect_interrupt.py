"""After a Ctrl-C, `collect` says how many of the planned episodes are stored and that rerunning the same command
continues (it ended with the progress bar alone)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.api import Collector, StepResult, Task
from collectors.command import OutOption, plans_for, run_and_report
from schemas import Action, EnvInfo, Observation
from tests.interrupts import with_default_sigint

REPO = Path(__file__).resolve().parents[1]
EPISODES, STEP_SECONDS = 6, 0.4


class NappingCollector(Collector):
    """A real, if tiny, environment: each step sleeps, so an interrupt lands in the middle of a run."""

    name, domain, version = "nap", "nap", "1"

    def env_info(self) -> EnvInfo:
        return EnvInfo(kind="nap", id="nap")

    def reset(self, task: Task) -> Observation:
        return Observation(text="awake", raw=b"awake", raw_format="text")

    def parse_action(self, spec) -> Action:
        return Action(kind="nap", arguments={"seconds": spec}, text=f"nap {spec}")

    def step(self, action: Action) -> StepResult:
        time.sleep(action.arguments["seconds"])
        return StepResult(observation=Observation(text="rested", raw=b"rested", raw_format="text"))


def nap_command(out: Path = OutOption):
    """Nap a few times."""
    tasks = [Task(id=f"nap-{i}", instruction="Nap.", actions=[STEP_SECONDS]) for i in range(EPISODES)]
    run_and_report(NappingCollector, plans_for(tasks), out, domain="nap")


@pytest.mark.parametrize("sent, code, said", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_an_interrupt_says_how_many_are_stored_and_to_rerun(tmp_path, sent, code, said):
    # SIGTERM (timeout, docker stop) used to end the run with the progress bar alone, or no cleanup at all for
    # collectors that start no container.
    out = tmp_path / "out"
    # `worldline collect nap`, the command registered as a plugin's would be
    code_run = ("from pipelines.cli import CollectGroup; "
                "CollectGroup(name='collect', targets={'nap': ('tests.test_cli_collect_interrupt:nap_command', '')})"
                f"(['nap', '--out', {str(out)!r}], prog_name='worldline collect')")
    proc = subprocess.Popen([sys.executable, "-c", code_run], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=with_default_sigint)
    deadline = time.monotonic() + 60
    while len(list((out / "episodes" / "nap").glob("*.json"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sent)
    _, stderr = proc.communicate(timeout=60)
    stored = len(list((out / "episodes" / "nap").glob("*.json")))
    assert 2 <= stored < EPISODES
    assert proc.returncode == code, stderr
    assert (f"{said}: {stored} of the {EPISODES} planned episodes stored in {out}; run the same command again "
            "to continue") in " ".join(stderr.split()), stderr
    assert "Traceback" not in stderr
