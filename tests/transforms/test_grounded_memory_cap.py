"""memory_cap, the label StepResult.count_oom_kills gives a step of any collector whose sandbox's cgroup counted an OOM
kill, is told for every domain: a plugin's REPL (scratch/s21/plugin, F9) and the shipped web, os and mcp collectors,
which label it too, got "A fault is recorded for this step ('memory_cap'), with no record of what it does"."""

from __future__ import annotations

import json

import pytest

from collectors.api import StepResult
from schemas import Observation
from transforms.reasoning.grounded import grounded_trace

TOLD = "The kernel kills a process that reached the memory cap of the environment's sandbox."


def _row(collector: str, domain: str, state: str, after: str) -> dict:
    # As a collector makes it: the sandbox's OOM count rose from 2 to 3 during the step.
    result = StepResult(Observation(text=after, raw=after.encode(), raw_format="text"), done=True,
                        error="python3 was killed at the memory cap")
    result.count_oom_kills(3, 2)
    return {"collector": collector, "domain": domain, "state_text": state, "next_text": result.observation.text,
            "next_meta_json": json.dumps(result.observation.meta), "perturbations": result.perturbations,
            "error": result.error, "done": result.done}


@pytest.mark.parametrize("collector, domain", [("sandboxed-repl", "pyrepl"), ("web", "web"), ("os", "os"),
                                               ("mcp", "mcp")])
def test_memory_cap_is_told_for_every_domain(collector, domain):
    trace = grounded_trace(_row(collector, domain, ">>> ", "Killed\n"))
    assert TOLD in trace
    assert "no record of what it does" not in trace
    # Before the error the collector reports, as a domain's own fault is.
    assert trace.index(TOLD) < trace.index("The environment reports an error: 'python3 was killed at the memory cap'")


def test_a_domain_that_tells_memory_cap_itself_keeps_its_wording():
    for collector in ("terminal", "swe"):
        trace = grounded_trace(_row(collector, collector, "$ ", "Killed\n$ "))
        assert "A process runs out of the memory the container is allowed." in trace
        assert TOLD not in trace


def test_other_labels_a_domain_does_not_know_still_claim_no_effect():
    row = {**_row("sandboxed-repl", "pyrepl", ">>> ", ">>> "), "perturbations": ["disk_full"]}
    # Not named either: a label is worldline's own syntax, which nothing in the prompt shows.
    assert "A fault is recorded for this step, with no record of what it does." in grounded_trace(row)
    assert "disk_full" not in grounded_trace(row)
