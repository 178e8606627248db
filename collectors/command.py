"""Shared plumbing for `worldline collect NAME` commands, so each collector's command is a few lines."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import typer
from rich.console import Console

from collectors.api import Collector, Policy, ScriptedPolicy, Task
from collectors.runner import DEFAULT_MAX_STEPS, CollectionReport, EpisodePlan, collect

console = Console(stderr=True)

# Reusable typer option declarations: `out: OutOption` in a collector's command signature.
OutOption = typer.Option(..., "--out", help="Collection folder; episodes already complete there are skipped.")
WorkersOption = typer.Option(1, "--workers", min=1, help="Environments run in parallel.")
LimitOption = typer.Option(None, "--limit", min=0, help="Collect at most this many new episodes.")
SeedsOption = typer.Option(1, "--seeds", min=1, help="Episodes per task, with seeds 0..N-1.")
MaxStepsOption = typer.Option(DEFAULT_MAX_STEPS, "--max-steps", min=1, help="Step budget per episode.")


def plans_for(tasks: list[Task], seeds: int = 1, policy_factory: Callable[[], Policy] = ScriptedPolicy,
              max_steps: int = DEFAULT_MAX_STEPS) -> list[EpisodePlan]:
    return [EpisodePlan(task, seed, policy_factory, max_steps) for task in tasks for seed in range(seeds)]


def run_and_report(make_collector: Callable[[], Collector], plans: list[EpisodePlan], out: Path, *, domain: str,
                   workers: int = 1, limit: int | None = None) -> CollectionReport:
    report = collect(make_collector, plans, out, domain=domain, workers=workers, limit=limit)
    console.print(
        f"[bold]{domain}[/]: {report.completed} episodes collected ({report.transitions} transitions), "
        f"{report.skipped_complete} already complete, {report.errored} ended in an environment error -> {out}"
    )
    if report.retried_errors:
        console.print(f"  retried {report.retried_errors} episodes that ended in an environment error last time")
    for line in report.errors[:10]:
        console.print(f"  [yellow]error[/] {line}")
    return report
