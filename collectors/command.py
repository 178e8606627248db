"""Shared plumbing for `worldline collect NAME` commands, so each collector's command is a few lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

from collectors.api import Collector, Policy, ScriptedPolicy, Task
from collectors.runner import DEFAULT_MAX_STEPS, CollectionReport, EpisodePlan, collect

console = Console(stderr=True)

# Reusable typer option declarations: `out: OutOption` in a collector's command signature.
OutOption = typer.Option(..., "--out", help="Collection folder; episodes already complete there are skipped.")
WorkersOption = typer.Option(1, "--workers", min=1, help="Environments run in parallel.")
LimitOption = typer.Option(None, "--limit", min=1, help="Collect at most this many new episodes.")
SeedsOption = typer.Option(1, "--seeds", min=1, help="Episodes per task, with seeds 0..N-1.")
MaxStepsOption = typer.Option(DEFAULT_MAX_STEPS, "--max-steps", min=1, help="Step budget per episode.")
ReplaysOption = typer.Option(
    0, "--replays", min=0,
    help="Play each episode's actions this many more times in fresh environments and keep what they showed: "
         "curation marks the parts that differ as volatile (span kind 'replay'). Costs that many more episodes. "
         "Also adds replays to episodes already complete in --out that have fewer than this many (their recorded "
         "actions played again; the episode file is rewritten with the replays added, else left as it was).")


# Errors in a file the user gave a collector: `worldline collect` (pipelines.cli.CollectGroup) shows them as one line
# `Error: ...` with exit code 2 whichever collector raised them. Named by module so none is imported to check: an
# error of a module that was never imported cannot have been raised.
INPUT_ERRORS = (("collectors.tasks", "InputFileError"), ("sandboxes.mcp_servers", "ServerFileError"),
                ("sandboxes.swe_repos", "RepoSpecError"), ("sandboxes.mcp_proxy", "PerturbationSpecError"))


def input_error_message(exc: BaseException) -> str | None:
    """The one-line message for a mistake in a user's task, servers, repos or perturbation file; None otherwise."""
    for module_name, class_name in INPUT_ERRORS:
        module = sys.modules.get(module_name)
        error_class = getattr(module, class_name, None) if module is not None else None
        if error_class is not None and isinstance(exc, error_class):
            return " ".join(str(exc).split()) or type(exc).__name__
    return None


def first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def plans_for(tasks: list[Task], seeds: int = 1, policy_factory: Callable[[], Policy] = ScriptedPolicy,
              max_steps: int = DEFAULT_MAX_STEPS, replays: int = 0) -> list[EpisodePlan]:
    return [EpisodePlan(task, seed, policy_factory, max_steps, replays) for task in tasks for seed in range(seeds)]


def run_and_report(make_collector: Callable[[], Collector], plans: list[EpisodePlan], out: Path, *, domain: str,
                   workers: int = 1, limit: int | None = None) -> CollectionReport:
    report = collect(make_collector, plans, out, domain=domain, workers=workers, limit=limit)
    console.print(
        f"[bold]{domain}[/]: {report.completed} episodes collected ({report.transitions} transitions), "
        f"{report.skipped_complete} already complete, {report.errored} ended in an environment error -> {out}"
    )
    if report.retried_errors:
        console.print(f"  retried {report.retried_errors} episodes that ended in an environment error last time")
    if report.replays_added or report.replays_failed:
        console.print(f"  replays added to {report.replays_added} stored episodes"
                      + (f"; {report.replays_failed} left as they were (replay failed)" if report.replays_failed
                         else ""), soft_wrap=True)
    for line in report.replay_errors[:10]:
        console.print(f"  [yellow]replay failed[/] {escape(first_line(line))}", soft_wrap=True)
    if report.replays_packed:
        console.print(f"  no replays added to {report.replays_packed} stored episodes that `worldline pack` moved "
                      f"into packs: only an episode's own file is rewritten", soft_wrap=True)
    # One line per distinct reason (its first line: the whole reason, e.g. a server's stderr, is in the episode's
    # end_reason), so one broken server or image does not print the same failure once per episode.
    by_reason: dict[str, list[str]] = {}
    for line in report.errors:
        episode_id, _, reason = line.partition(": ")
        by_reason.setdefault(first_line(reason.removeprefix("error: ")), []).append(episode_id)
    for reason, episodes in list(by_reason.items())[:10]:
        which = episodes[0] if len(episodes) == 1 else f"{len(episodes)} episodes, e.g. {episodes[0]}"
        console.print(f"  [yellow]error[/] ({escape(which)}) {escape(reason)}", soft_wrap=True)
    if len(by_reason) > 10:
        console.print(f"  ... and {len(by_reason) - 10} more reasons (each episode record in {escape(str(out))} "
                      f"has its end_reason)", soft_wrap=True)
    return report
