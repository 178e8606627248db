"""Load task files: YAML (a list, or a mapping with a `tasks:` list) or JSONL (one task per line)."""

from __future__ import annotations

import json
from pathlib import Path

from collectors.api import Task
from schemas.yaml_file import load_yaml

TASK_FIELDS = {"id", "instruction", "domain", "setup", "actions", "perturbations", "options", "max_steps"}


class InputFileError(ValueError):
    """A file the user gave a collector (tasks, servers, perturbations) is wrong. `worldline collect` shows it as
    one line `Error: ...` with exit code 2, never a traceback (collectors.command.input_error_message)."""


class TaskFileError(InputFileError):
    pass


def task_from_dict(entry: dict, where: str) -> Task:
    if not isinstance(entry, dict):
        raise TaskFileError(f"{where}: a task must be a mapping, got {type(entry).__name__}")
    missing = [name for name in ("id", "instruction") if not entry.get(name)]
    if missing:
        raise TaskFileError(f"{where}: task is missing {', '.join(missing)}")
    unknown = set(entry) - TASK_FIELDS
    if unknown:
        raise TaskFileError(f"{where} (task {entry['id']!r}): unknown keys {sorted(unknown)}; "
                            f"allowed: {sorted(TASK_FIELDS)}")
    return Task(
        id=str(entry["id"]),
        instruction=str(entry["instruction"]),
        domain=entry.get("domain", ""),
        setup=list(entry.get("setup") or []),
        actions=list(entry.get("actions") or []),
        perturbations=list(entry.get("perturbations") or []),
        options=dict(entry.get("options") or {}),
        max_steps=entry.get("max_steps"),
    )


def load_tasks(path: str | Path) -> list[Task]:
    path = Path(path)
    if not path.exists():
        raise TaskFileError(f"task file {path} does not exist")
    if path.is_dir():
        raise TaskFileError(f"{path} is a folder, not a task file")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if path.suffix == ".jsonl":
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    entries.append((f"{path}:{number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise TaskFileError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
    else:
        data = load_yaml(path, text, TaskFileError)
        if isinstance(data, dict):
            data = data.get("tasks")
        if not isinstance(data, list):
            raise TaskFileError(f"{path}: expected a list of tasks or a mapping with a 'tasks' list")
        entries = [(f"{path} task #{i + 1}", entry) for i, entry in enumerate(data)]
    tasks = [task_from_dict(entry, where) for where, entry in entries]
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise TaskFileError(f"{path}: task id {task.id!r} appears twice; ids name episodes and must be unique")
        seen.add(task.id)
    return tasks
