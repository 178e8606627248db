"""The sandboxed collector example of docs/adding-a-collector.md (sandboxed_repl.py), run against the real Docker
engine: a REPL that answers, keeps its state across lines, is interrupted (not killed) when a line does not answer
in time, records the limits its container got, and counts an OOM kill at the memory cap as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.api import Task
from sandboxes.docker_sandbox import Limits
from sandboxed_repl import SandboxedReplCollector

DOC = Path(__file__).parents[2] / "docs" / "adding-a-collector.md"


@pytest.fixture
def repl(base_image, prefix):
    collector = SandboxedReplCollector(step_timeout_s=2.0, name_prefix=prefix)
    yield collector
    collector.close()


def _step(collector, line: str):
    return collector.step(collector.parse_action(line))


def test_the_repl_answers_is_interrupted_on_timeout_and_records_its_limits(repl):
    assert repl.reset(Task(id="demo", instruction="use the REPL", setup=["import os, time"])).text == ">>> "
    answer = _step(repl, "print(6 * 7)")
    assert (answer.observation.text, answer.error, answer.perturbations) == ("42\n>>> ", None, [])
    assert [_step(repl, line).observation.text for line in ("def f(n):", "    return n + 1", "")] == \
        ["... ", "... ", ">>> "]
    assert _step(repl, "f(41)").observation.text == "42\n>>> "

    hung = _step(repl, "time.sleep(600)")
    assert hung.observation.text.endswith("KeyboardInterrupt\n>>> ") and "Traceback" in hung.observation.text
    assert hung.error == "no answer within 2 s: interrupted with SIGINT"
    assert "timed_out" not in hung.observation.meta  # interrupted, not killed: the REPL goes on
    # Ctrl-C reaches the line's child too: os.system() ignores SIGINT while it waits, so only `sleep` dying (by
    # signal 2) gives the REPL back.
    assert _step(repl, 'os.system("sleep 600")').observation.text == "2\n>>> "
    assert _step(repl, "f(1)").observation.text == "2\n>>> "  # the state survived both interrupts

    recorded = repl.env_info().details["limits"]
    assert recorded == Limits(memory="256m", pids=64, cpus=1.0).record()
    # The sizes the container got, not None for "what fits": of 256m, a quarter is kept for processes and 64m is
    # Docker's /dev; shm takes a quarter of the rest and the disk the remainder, /work half of it.
    assert (recorded["memory"], recorded["pids"], recorded["disk"], recorded["shm"]) == ("256m", 64, "96m", "32m")
    assert _step(repl, "os.statvfs('/work').f_blocks * os.statvfs('/work').f_frsize >> 20").observation.text == \
        f"{int(recorded['tmpfs']['/work'][:-1])}\n>>> "


def test_an_oom_kill_at_the_memory_cap_ends_the_episode_as_data(repl):
    repl.reset(Task(id="oom", instruction="fill the memory"))
    if repl.sandbox.oom_kills() is None:
        pytest.skip("this engine's cgroups are out of this process's sight (a remote engine): no OOM count")
    killed = _step(repl, "blocks = [bytes([n]) * (64 << 20) for n in range(8)]")  # 512 MiB written under a 256m cap
    assert (killed.observation.text, killed.done) == ("Killed\n", True)
    assert killed.perturbations == ["memory_cap"] and killed.observation.meta["oom_kills"] >= 1


def test_the_doc_quotes_the_example_as_it_is():
    source = (Path(__file__).parent / "sandboxed_repl.py").read_text()
    quoted = re.search(r"`tests/plugin_example/sandboxed_repl.py`:\n\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert quoted, f"{DOC} no longer quotes tests/plugin_example/sandboxed_repl.py"
    assert quoted.group(1) == source
