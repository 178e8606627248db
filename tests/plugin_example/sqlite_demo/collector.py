"""A worldline collector for an in-memory SQLite database: an action is one SQL statement, the observation is what
SQLite answers (rows, a row count, or its error message). Uses only worldline's public collector API."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, StepResult, Task
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                plans_for, run_and_report)
from collectors.tasks import load_tasks
from schemas import Action, EnvInfo, Observation


def _observation(text: str) -> Observation:
    return Observation(text=text, raw=text.encode(), raw_format="text")


def _format(cursor: sqlite3.Cursor) -> str:
    if cursor.description is None:  # not a query: say what changed
        return f"OK, {cursor.rowcount} row(s) affected" if cursor.rowcount >= 0 else "OK"
    header = " | ".join(column[0] for column in cursor.description)
    rows = [" | ".join("NULL" if v is None else str(v) for v in row) for row in cursor.fetchall()]
    return "\n".join([header, *rows, f"({len(rows)} row(s))"])


class SqliteCollector(Collector):
    name = "sqlite-demo"
    domain = "sqlite"
    version = "1"

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None

    def env_info(self) -> EnvInfo:
        return EnvInfo(kind="sqlite", id=f"sqlite {sqlite3.sqlite_version}", digest=sqlite3.sqlite_version)

    def reset(self, task: Task) -> Observation:
        self.close()
        self.db = sqlite3.connect(":memory:")
        for statement in task.setup:  # the task's setup is SQL that builds the starting database
            self.db.execute(statement)
        tables = [row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")]
        return _observation(f"tables: {', '.join(tables) or '(none)'}")

    def parse_action(self, spec: Any) -> Action:
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"a sqlite-demo action is one SQL statement, got {spec!r}")
        return Action(kind="sql", arguments={"sql": spec}, text=spec)

    def step(self, action: Action) -> StepResult:
        try:
            return StepResult(observation=_observation(_format(self.db.execute(action.arguments["sql"]))))
        except sqlite3.Error as exc:  # SQLite's own error message is what the agent sees
            return StepResult(observation=_observation(f"Error: {exc}"), error=str(exc))

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def collect_command(
    tasks: Path = typer.Option(..., "--tasks", help="Task file: setup = SQL statements, actions = SQL statements."),
    out: Path = OutOption,
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
):
    """Collect raw episodes from an in-memory SQLite database."""
    plans = plans_for(load_tasks(tasks), seeds, max_steps=max_steps, replays=replays)
    # The domain the runner writes under and resumes from is the class's (SqliteCollector.domain).
    run_and_report(SqliteCollector, plans, out, workers=workers, limit=limit)
