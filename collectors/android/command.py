"""`worldline collect android --serial S (--tasks FILE | --explore PACKAGE) --out DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, plans_for,
                                run_and_report)


def collect_command(
    out: Path = OutOption,
    serial: str = typer.Option(..., "--serial", help="adb serial; HOST:PORT is `adb connect`ed first."),
    tasks: Optional[Path] = typer.Option(None, "--tasks", help="Task file of scripted android actions."),
    explore: Optional[str] = typer.Option(None, "--explore", help="Explore this app package instead."),
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
    limit: Optional[int] = LimitOption,
    settle: float = typer.Option(0.5, "--settle", min=0, help="Seconds to wait after an action before dumping."),
) -> None:
    """Record episodes from an Android device or emulator over adb (uiautomator view hierarchies)."""
    from collectors.android.actions import AndroidActionError, parse_action
    from collectors.android.collector import AndroidCollector, DeviceError
    from collectors.android.explore import ExplorePolicy, explore_task
    from collectors.api import ScriptedPolicy
    from collectors.tasks import load_tasks

    if (tasks is None) == (explore is None):
        raise typer.BadParameter("give exactly one of --tasks FILE or --explore PACKAGE")
    if tasks is not None:
        task_list = load_tasks(tasks, domain="android")
        for task in task_list:
            for spec in [*task.setup, *task.actions]:
                try:
                    parse_action(spec)
                except AndroidActionError as exc:
                    raise typer.BadParameter(f"task {task.id!r}: {exc}", param_hint="--tasks") from exc
        plans = plans_for(task_list, seeds, ScriptedPolicy, max_steps, replays)
    else:
        plans = plans_for([explore_task(explore)], seeds, lambda: ExplorePolicy(explore), max_steps, replays)
    try:
        # One device, one collector: built here so a missing device is a clear error, not a worker traceback.
        collector = AndroidCollector(serial, settle_s=settle)
    except DeviceError as exc:
        raise typer.BadParameter(str(exc), param_hint="--serial") from exc
    run_and_report(lambda: collector, plans, out, domain="android", limit=limit)
