"""A command killed at its time limit says so in the observation the agent is shown (and in `raw`, which curation
renders again), one line after whatever it printed, naming the limit that stopped it."""

import json
import re

import pytest
from tests.swe.swe_helpers import PREFIX

from collectors.api import Task
from collectors.swe import DEFAULT_LIMITS, SweCollector, parse_swe_action
from sandboxes.limits import Limits
from schemas.render import render
from transforms.normalize import normalize_observation
from transforms.prompts import system_prompt

NOTICE = "The command was cancelled because it took more than {} seconds.\n"


@pytest.fixture(scope="module")
def collector(tiny_spec, tiny_image):
    limits = Limits(**{**DEFAULT_LIMITS.__dict__, "action_timeout_s": 2.0})
    collector = SweCollector({tiny_spec.name: tiny_spec}, {tiny_spec.name: tiny_image}, limits, name_prefix=PREFIX,
                             test_timeout_s=4.0)
    collector.reset(Task(id="timeouts", instruction="time out", options={"repo": tiny_spec.name}))
    yield collector
    collector.close()


@pytest.fixture(scope="module")
def roomy_collector(tiny_spec, tiny_image):
    # The shipped time limit: filling memory up to the cap took over the 2 s above on a loaded 2-core machine.
    collector = SweCollector({tiny_spec.name: tiny_spec}, {tiny_spec.name: tiny_image}, DEFAULT_LIMITS,
                             name_prefix=PREFIX)
    collector.reset(Task(id="memory-cap", instruction="fill memory", options={"repo": tiny_spec.name}))
    yield collector
    collector.close()


def act(collector, spec):
    return collector.step(parse_swe_action(spec)).observation


def curated_text(observation) -> str:
    return normalize_observation({"text": observation.text, "raw": observation.raw, "raw_format":
                                  observation.raw_format, "meta_json": json.dumps(observation.meta)})


def test_a_silent_command_that_times_out_is_not_an_empty_output(collector):
    slow = act(collector, {"bash": "sleep 20; echo never"})
    assert slow.text == NOTICE.format(2)
    assert slow.meta == {"exit_code": None, "timed_out": True, "timeout_s": 2.0, "oom_kills": 0}
    assert slow.raw == slow.text.encode() and curated_text(slow) == slow.text


def test_the_notice_follows_the_output_on_a_line_of_its_own(collector):
    partial = act(collector, {"bash": "echo first; printf 'no newline'; sleep 20"})
    assert partial.text == "first\nno newline\n" + NOTICE.format(2)
    assert curated_text(partial) == partial.text == render("text", partial.raw)
    # A command that finishes in time is unchanged: no notice, no timeout in meta.
    quick = act(collector, {"bash": "echo done"})
    assert quick.text == "done\n" and quick.meta == {"exit_code": 0, "oom_kills": 0}


def test_a_test_run_names_the_test_limit(collector):
    act(collector, {"create": {"path": "/work/repo/test_slow.py",
                               "file_text": "import time\n\n\ndef test_slow():\n    time.sleep(30)\n"}})
    run = act(collector, {"run_tests": {"tests": ["test_slow.py"]}})
    assert run.meta["timed_out"] and run.meta["timeout_s"] == 4.0
    assert run.text.endswith("\n" + NOTICE.format(4)) or run.text == NOTICE.format(4)


def test_the_swe_prompt_describes_the_notice():
    described = re.search(r"`(The command was cancelled because it took more than) N (seconds\.)`",
                          system_prompt("swe"))
    assert described and NOTICE.format(30) == f"{described[1]} 30 {described[2]}\n"


def test_a_command_killed_at_the_memory_cap_is_counted_and_labelled(roomy_collector):
    collector = roomy_collector
    # Before: exit 137 and nothing else, the same as a kill -9.
    hog = collector.step(parse_swe_action({"bash": "python3 -c 'b = bytearray(3 << 30)'"}))
    assert hog.observation.meta["exit_code"] == 137 and hog.observation.meta["oom_kills"] == 1
    assert hog.perturbations == ["memory_cap"]
    killed = collector.step(parse_swe_action({"bash": "sleep 5 & kill -9 $!; wait $!"}))
    assert killed.observation.meta == {"exit_code": 137, "oom_kills": 0} and killed.perturbations == []
