"""Shared plumbing for `worldline collect NAME` commands, so each collector's command is a few lines."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import sys
import threading
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

from collectors.api import Collector, Policy, ScriptedPolicy, Task
from collectors.out_folder import check_out_folder
from collectors.runner import DEFAULT_MAX_STEPS, TASK_ERROR, CollectionReport, EpisodePlan, collect
from schemas.interrupts import interrupt_on_sigterm, interrupted_exit_code

console = Console(stderr=True)


# Reusable typer option declarations: `out: OutOption` in a collector's command signature.
OutOption = typer.Option(..., "--out", callback=check_out_folder,
                         help="Collection folder; episodes already complete there are skipped.")
WorkersOption = typer.Option(1, "--workers", min=1, help="Environments run in parallel.")
LimitOption = typer.Option(None, "--limit", min=1, help="Collect at most this many new episodes (default: all).")
SeedsOption = typer.Option(1, "--seeds", min=1, help="Episodes per task, with seeds 0..N-1.")
MaxStepsOption = typer.Option(DEFAULT_MAX_STEPS, "--max-steps", min=1, help="Step budget per episode.")
ReplaysOption = typer.Option(
    0, "--replays", min=0,
    help="Play each episode's actions this many more times in fresh environments and keep what they showed: "
         "curation marks the parts that differ as volatile (span kind 'replay'). Costs that many more episodes. "
         "Also adds replays to episodes already complete in --out that have fewer than this many (their recorded "
         "actions played again; the episode file is rewritten with the replays added, else left as it was).")
# Not in each collector's signature: pipelines.cli.CollectGroup adds it to every collector's command (with_strict),
# plugins' included, and exit_if_all_failed reads it from STRICT.
StrictOption = typer.Option(
    False, "--strict", help="Exit 1 if any episode played ends in a task error (default: only if all end in errors).")
STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("worldline_collect_strict", default=False)


# Errors in a file or folder the user gave a collector, or in the machine's setup (no Docker engine answering):
# `worldline collect` (pipelines.cli.CollectGroup) shows them as one line `Error: ...` with exit code 2 whichever
# collector raised them. Named by module so none is imported to check: an error of a module that was never imported
# cannot have been raised.
INPUT_ERRORS = (("collectors.tasks", "InputFileError"), ("sandboxes.mcp_server_spec", "ServerFileError"),
                ("sandboxes.swe_repos", "RepoSpecError"), ("sandboxes.mcp_proxy", "PerturbationSpecError"),
                ("collectors.out_folder", "OutFolderError"),
                ("collectors.command", "CollectorDomainError"), ("sandboxes.engine", "EngineUnreachable"))


def input_error_message(exc: BaseException) -> str | None:
    """The one-line message for a mistake in a user's task, servers, repos or perturbation file or --out folder, or
    for an engine that does not answer; None otherwise."""
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


class CollectorDomainError(ValueError):
    """run_and_report's domain= is not the domain its collectors record under."""


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def collector_domain(make_collector: Callable[[], Collector], domain: str | None) -> str:
    """The domain to look for complete episodes in: `domain`, else that of a Collector class given as the factory.
    The runner writes under each collector's own domain, so a different one would make every rerun collect again."""
    own = getattr(make_collector, "domain", None)
    if domain is None and not own:
        raise TypeError("run_and_report needs domain=... (the collector's domain) when make_collector is not a "
                        "Collector class")
    if domain is not None and own and domain != own:
        raise CollectorDomainError(f"run_and_report was given domain={domain!r}, but {make_collector.__name__} "
                                   f"records domain {own!r}: leave domain= out, or pass {own!r}")
    return domain or own


def checked_domain(make_collector: Callable[[], Collector], domain: str) -> Callable[[], Collector]:
    """make_collector, refusing a collector of another domain (a factory whose domain is known only once built)
    before it runs an episode."""
    def make() -> Collector:
        collector = make_collector()
        if collector.domain != domain:
            collector.close()
            raise CollectorDomainError(f"run_and_report was given domain={domain!r}, but the collector it built "
                                       f"({type(collector).__name__}) records domain {collector.domain!r}: pass "
                                       f"domain={collector.domain!r}")
        return collector
    return make


def ended_in_error(report: CollectionReport) -> str:
    """'N ended in an error', and how many of those the environment broke and how many the task was wrong."""
    if not report.errored:
        return "0 ended in an error"
    kinds = [plural(count, noun) for count, noun in ((report.errored - report.task_errors, "environment error"),
                                                     (report.task_errors, "task error")) if count]
    return f"{report.errored} ended in an error ({', '.join(kinds)})"


def exit_if_all_failed(*reports: CollectionReport, strict: bool | None = None) -> None:
    """Exit 1 when the run played episodes and every one ended in an error, so a script sees that the collection
    failed (episodes already complete in --out are not played, and do not count); under `strict` (None: the command's
    --strict) also when any of them ended in a task error, so a task author's check fails on one wrong task."""
    played = sum(report.completed for report in reports)
    if played and played == sum(report.errored for report in reports):
        console.print(f"  none of the {plural(played, 'episode')} played ended without an error: exit code 1",
                      soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    task_errors = sum(report.task_errors for report in reports)
    if task_errors and (STRICT.get() if strict is None else strict):
        console.print(f"  {task_errors} of the {plural(played, 'episode')} played ended in a task error, and "
                      f"--strict fails the run on any: exit code 1", soft_wrap=True, highlight=False)
        raise typer.Exit(1)


def with_strict(command):
    """`command` (a collector's click command) with the --strict flag, which its callback does not take: the flag
    is set in STRICT for the length of the call, so every collector's exit_if_all_failed sees it."""
    if getattr(command, "takes_strict", False) or command.callback is None \
            or any(param.name == "strict" for param in command.params):
        return command  # already added, or the collector has a --strict of its own

    def probe(strict: bool = StrictOption):  # typer builds the option, as for a collector's own options
        pass

    app = typer.Typer(add_completion=False)
    app.command()(probe)
    command.params.append(typer.main.get_command(app).params[0])
    callback = command.callback

    @functools.wraps(callback)
    def run(*args, strict: bool = False, **kwargs):
        with strict_collection(strict):
            return callback(*args, **kwargs)

    command.callback = run
    command.takes_strict = True
    return command


@contextlib.contextmanager
def strict_collection(strict: bool):
    token = STRICT.set(strict)
    try:
        yield
    finally:
        STRICT.reset(token)


def interrupted_line(exc: KeyboardInterrupt, report: CollectionReport, out: Path) -> str:
    """What an interrupted run stored, out of what this run planned: the whole task file was the wrong measure, as
    under --limit most of it was never to be collected by this run, and episodes complete before it were counted as
    stored by it."""
    what = "interrupted" if interrupted_exit_code(exc) == 130 else "terminated (SIGTERM)"
    if report.planned is None:
        stored = f"nothing new stored in {escape(str(out))} (stopped while checking the episodes already there)"
    else:
        stored = (f"{report.completed} of the {plural(report.planned, 'planned episode')} stored in "
                  f"{escape(str(out))}")
        if report.skipped_complete:
            stored += f" (besides {report.skipped_complete} complete before this run)"
    return f"{what}: {stored}; run the same command again to continue"


def run_and_report(make_collector: Callable[[], Collector], plans: list[EpisodePlan], out: Path, *,
                   domain: str | None = None, workers: int = 1, limit: int | None = None,
                   exit_on_failure: bool = True) -> CollectionReport:
    """Collect `plans` into `out` and print what was done. `domain` may be left out when make_collector is the
    Collector class itself. Exits 1 when every episode played ended in an error, unless exit_on_failure is False
    (a command that runs several collections then calls exit_if_all_failed with all their reports)."""
    domain = collector_domain(make_collector, domain)
    if threading.current_thread() is threading.main_thread():
        interrupt_on_sigterm()
    report = CollectionReport()
    try:
        collect(checked_domain(make_collector, domain), plans, out, domain=domain, workers=workers, limit=limit,
                report=report)
    except KeyboardInterrupt as exc:
        console.print(interrupted_line(exc, report, out), soft_wrap=True, highlight=False)
        raise typer.Exit(interrupted_exit_code(exc)) from None
    console.print(
        f"[bold]{domain}[/]: {plural(report.completed, 'episode')} collected "
        f"({plural(report.transitions, 'transition')}), "
        f"{report.skipped_complete} already complete, {ended_in_error(report)} -> {out}"
    )
    if report.recollected_damaged:
        console.print(f"  {plural(len(report.recollected_damaged), 'stored episode')} found damaged (each named "
                      "above): collected again like new ones", soft_wrap=True)
    if report.script_changed:
        console.print(f"  {plural(len(report.script_changed), 'stored episode')} recorded from other actions than "
                      "the task file now lists, kept as complete (named in the warning above, which says how to "
                      "record them again)", soft_wrap=True)
    if report.retried_errors:
        console.print(f"  retried {plural(report.retried_errors, 'episode')} that ended in an error last time")
    if report.cut_by_budget:
        tasks = list(dict.fromkeys(report.cut_by_budget))
        shown = ", ".join(tasks[:5]) + (f" and {len(tasks) - 5} more" if len(tasks) > 5 else "")
        console.print(f"  [yellow]{plural(len(report.cut_by_budget), 'episode')} stopped at the step budget with "
                      f"scripted actions left[/] (task{'s' if len(tasks) > 1 else ''} {escape(shown)}): the task's "
                      "max_steps, else --max-steps, is shorter than its actions; raise it, and delete those episodes "
                      "to record them whole (they are kept as complete)", soft_wrap=True)
    if report.replays_added or report.replays_failed:
        console.print(f"  replays added to {plural(report.replays_added, 'stored episode')}"
                      + (f"; {report.replays_failed} left as they were (replay failed)" if report.replays_failed
                         else ""), soft_wrap=True)
    if report.replays_short:
        console.print(f"  {plural(report.replays_short, 'episode')} got a replay that stopped short of the recorded "
                      "steps (each named in a warning above): curation compares only the steps it replayed",
                      soft_wrap=True)
    for line in report.replay_errors[:10]:
        console.print(f"  [yellow]replay failed[/] {escape(first_line(line))}", soft_wrap=True)
    if report.replays_packed:
        console.print(f"  no replays added to {plural(report.replays_packed, 'stored episode')} that "
                      f"`worldline pack` moved into packs: only an episode's own file is rewritten", soft_wrap=True)
    # One line per distinct reason (its first line: the whole reason, e.g. a server's stderr, is in the episode's
    # end_reason), so one broken server or image does not print the same failure once per episode.
    by_reason: dict[tuple[str, str], list[str]] = {}
    for line in report.errors:
        episode_id, _, reason = line.partition(": ")
        kind = "task error" if reason.startswith(TASK_ERROR) else "error"
        reason = first_line(reason.removeprefix(TASK_ERROR).removeprefix("error: "))
        by_reason.setdefault((kind, reason), []).append(episode_id)
    for (kind, reason), episodes in list(by_reason.items())[:10]:
        which = episodes[0] if len(episodes) == 1 else f"{len(episodes)} episodes, e.g. {episodes[0]}"
        console.print(f"  [yellow]{kind}[/] ({escape(which)}) {escape(reason)}", soft_wrap=True)
    if len(by_reason) > 10:
        console.print(f"  ... and {len(by_reason) - 10} more reasons (each episode record in {escape(str(out))} "
                      f"has its end_reason)", soft_wrap=True)
    if report.task_errors:
        console.print("  a task error is a mistake in the task, not the environment: the collector refused it or one "
                      "of its actions, an action named what the environment did not show, or the servers-file entry it "
                      "runs cannot start; fix the task (or the entry) and run the command again", soft_wrap=True)
    if exit_on_failure:
        exit_if_all_failed(report)
    return report
