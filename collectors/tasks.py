"""Load task files: YAML (a list, or a mapping with a `tasks:` list) or JSONL (one task per line)."""

from __future__ import annotations

import difflib
import json
from importlib.metadata import entry_points
from pathlib import Path

from collectors.api import Task
from collectors.registry import COLLECTOR_GROUP, DOMAINS_OF_OTHER_COLLECTORS
from schemas.yaml_file import load_yaml

TASK_FIELDS = {"id", "instruction", "domain", "setup", "actions", "perturbations", "options", "max_steps",
               "group"}


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
    group = entry.get("group")
    # Recorded as the string task.group; a blank one would be read by curation as no group at all (the task id),
    # undoing the key without a word.
    if "group" in entry and not (isinstance(group, str) and group.strip()):
        raise TaskFileError(f"{where} (task {entry['id']!r}): group must be a non-empty string (the environment "
                            f"group its episodes are recorded in), got {_shown(group)}")
    if isinstance(group, str):
        # " box " is the group box: kept as written it would be another group, which a held-out split by group
        # would put on the other side of box.
        group = group.strip()
    return Task(
        id=str(entry["id"]),
        instruction=str(entry["instruction"]),
        domain=entry.get("domain", ""),
        setup=list(entry.get("setup") or []),
        actions=list(entry.get("actions") or []),
        perturbations=list(entry.get("perturbations") or []),
        options=dict(entry.get("options") or {}),
        max_steps=entry.get("max_steps"),
        group=group,
    )


def _shown(value) -> str:
    """A value for a one-line error: collect folds each run of whitespace in one, so a blank string is described."""
    if isinstance(value, str):
        return "an empty string" if not value else \
            f"a blank string ({len(value)} whitespace character{'' if len(value) == 1 else 's'})"
    return repr(value)


def load_tasks(path: str | Path, domain: str | None = None) -> list[Task]:
    """The tasks of a task file; given `domain`, only those a collector of that domain runs (tasks_for_domain)."""
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
    return tasks if domain is None else tasks_for_domain(tasks, domain, path)


def known_domains() -> set[str]:
    """The installed collectors' names, and the domains another collector records (search: the mcp collector)."""
    return {ep.name for ep in entry_points(group=COLLECTOR_GROUP)} | set(DOMAINS_OF_OTHER_COLLECTORS)


def tasks_for_domain(tasks: list[Task], domain: str, path: Path) -> list[Task]:
    """The tasks whose `domain` is `domain` or empty. A file may hold tasks for several collectors, so the others are
    skipped; but a misspelled domain, or a file with no task for this collector, would collect nothing and say only
    "0 episodes collected", so both are refused."""
    known = known_domains() | {domain}
    listed = f"known domains: {', '.join(sorted(known))}"
    for task in tasks:
        # Only a near miss is taken for a typo: an MCP servers file may name domains of its own.
        guess = difflib.get_close_matches(task.domain, known, n=1) if task.domain not in known else []
        if guess:
            raise TaskFileError(f"{path} (task {task.id!r}): domain {task.domain!r} is not one worldline knows; "
                                f"did you mean {guess[0]!r}? {listed}")
    chosen = [task for task in tasks if task.domain in ("", domain)]
    if tasks and not chosen:
        others = ", ".join(f"{task.id!r} is for {task.domain!r}" for task in tasks[:3])
        more = f" and {len(tasks) - 3} more" if len(tasks) > 3 else ""
        raise TaskFileError(f"{path}: no task is for the {domain!r} collector, which runs tasks whose domain is "
                            f"{domain!r} or unset ({others}{more}); {listed}")
    return chosen
