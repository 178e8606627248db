"""Load task files: YAML (a list, or a mapping with a `tasks:` list) or JSONL (one task per line)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
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
    where = _named(entry, where)
    _check_text(entry, where)
    # Before the missing keys: `instuction:` is a misspelling to point at, not an instruction that is missing.
    unknown = sorted(set(entry) - TASK_FIELDS, key=str)
    if unknown:
        shown = ", ".join(f"{key!r}{_did_you_mean(key)}" for key in unknown)
        raise TaskFileError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {shown}; "
                            f"allowed: {sorted(TASK_FIELDS)}")
    missing = [name for name in ("id", "instruction") if entry.get(name) in (None, "")]
    if missing:
        raise TaskFileError(f"{where}: task is missing {', '.join(missing)}")
    _check_types(entry, where)
    group = entry.get("group")
    # Recorded as the string task.group; a blank one would be read by curation as no group at all (the task id),
    # undoing the key without a word.
    if "group" in entry and not (isinstance(group, str) and group.strip()):
        raise TaskFileError(f"{where}: group must be a non-empty string (the environment "
                            f"group its episodes are recorded in), got {_shown(group)}")
    if isinstance(group, str):
        # " box " is the group box: kept as written it would be another group, which a held-out split by group
        # would put on the other side of box.
        group = group.strip()
    return Task(
        id=str(entry["id"]),
        instruction=entry["instruction"],
        domain=entry.get("domain") or "",
        setup=list(entry.get("setup") or []),
        actions=list(entry.get("actions") or []),
        perturbations=list(entry.get("perturbations") or []),
        options=dict(entry.get("options") or {}),
        max_steps=entry.get("max_steps"),
        group=group,
    )


def _check_text(entry: dict, where: str) -> None:
    """Refuse a string (a key too) holding a lone UTF-16 surrogate: JSON's and YAML's `"\\ud800"` escape half a
    character, both parsers keep it, and no UTF-8 writer takes it: the task ran until its action was hashed for
    the episode record, and the traceback ended a collection whose other episodes were written."""
    found = _lone_surrogate(entry, ())
    if found is not None:
        path, text, offset = found
        raise TaskFileError(f"{where}: {_field_name(path)} holds a lone UTF-16 surrogate U+{ord(text[offset]):04X} "
                            f"at character {offset + 1}, half a character (an escape such as \\ud83d without its "
                            f"pair); write the character itself or its whole pair")


def _lone_surrogate(value, path: tuple) -> tuple[tuple, str, int] | None:
    """(where in the task, the string, the offset) of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return path, value, exc.start
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate(key, (*path, None)) or _lone_surrogate(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for number, item in enumerate(value, 1):
            found = _lone_surrogate(item, (*path, number))
            if found:
                return found
    return None


def _field_name(path: tuple) -> str:
    """("actions", 2, "arguments", "text") -> "actions entry 2, arguments.text"; None stands for a key itself."""
    name, after_entry = "", False
    for part in path:
        if part is None:
            name = f"a key of {name or 'the task'}"
        elif isinstance(part, int):
            name += f" entry {part}"
        else:
            name += (", " if after_entry else "." if name else "") + str(part)
        after_entry = isinstance(part, int)
    return name


def _named(entry: dict, where: str) -> str:
    task_id = entry.get("id")
    if isinstance(task_id, str | int) and not isinstance(task_id, bool) and task_id != "":
        return f"{where} (task {str(task_id)!r})"
    return where


def _did_you_mean(key) -> str:
    guess = difflib.get_close_matches(str(key), TASK_FIELDS, n=1)
    return f" (did you mean {guess[0]!r}?)" if guess else ""


def _check_types(entry: dict, where: str) -> None:
    """Each common key's type, refused rather than converted: list("echo hi") ran setup command 'e', str() of a list
    was recorded as the instruction, and max_steps 0 meant no limit. A key left empty (`setup:`) is as if absent."""
    def refuse(key: str, expected: str) -> None:
        raise TaskFileError(f"{where}: {key} must be {expected}, got {_shown(entry[key])}")

    task_id = entry["id"]
    if isinstance(task_id, bool) or not isinstance(task_id, str | int):
        refuse("id", "a string (or a whole number)")
    if not isinstance(entry["instruction"], str):
        refuse("instruction", "a string (the text the agent is given; quote it if YAML reads it as something else)")
    if not isinstance(entry.get("domain") or "", str):
        refuse("domain", "a string (a collector's name)")
    # Each entry's type, where the loader knows it: setup entries are shell lines or (os) mappings; actions are each
    # collector's own to check.
    for key, entry_type in (("setup", "a string or a mapping"), ("actions", None), ("perturbations", "a string")):
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            # Not wrapped in a list for the author: which of its lines or words are entries is anyone's guess.
            raise TaskFileError(f"{where}: {key} must be a list, got the string {_shown(value)}; write a list "
                                f"(`{key}: [...]`, or one `- ...` line per entry)")
        if not isinstance(value, list):
            refuse(key, "a list")
        for number, item in enumerate(value, 1):
            if key == "perturbations" and isinstance(item, dict):
                raise TaskFileError(f"{where}: perturbations entry {number} is a mapping, {_shown(item)}; "
                                    f"perturbations is a list of labels (strings), and an MCP task's proxy "
                                    f"perturbations go in options.perturb (docs/mcp.md)")
            if entry_type and not (isinstance(item, str) or (key == "setup" and isinstance(item, dict))):
                raise TaskFileError(f"{where}: {key} entry {number} must be {entry_type}, got {_shown(item)}")
    if entry.get("options") is not None and not isinstance(entry["options"], dict):
        refuse("options", "a mapping (key: value lines)")
    max_steps = entry.get("max_steps")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        refuse("max_steps", "a whole number >= 1 (leave it out for the command's --max-steps)")


def _shown(value) -> str:
    """A value for a one-line error: collect folds each run of whitespace in one, so a blank string is described."""
    if isinstance(value, str) and not value.strip():
        return "an empty string" if not value else \
            f"a blank string ({len(value)} whitespace character{'' if len(value) == 1 else 's'})"
    shown = repr(value)
    return shown if len(shown) <= 100 else f"{shown[:97]}..."


def load_tasks(path: str | Path, domain: str | Collection[str] | None = None) -> list[Task]:
    """The tasks of a task file; given `domain` (or several, for a collector recording more than one), only those a
    collector of that domain runs (tasks_for_domain)."""
    path = Path(path)
    if not path.exists():
        raise TaskFileError(f"task file {path} does not exist")
    if path.is_dir():
        raise TaskFileError(f"{path} is a folder, not a task file")
    try:
        # UTF-8 whatever the locale says (YAML's own encoding): under LANG=ja_JP.eucJP or en_US.ISO-8859-1 a task
        # file with an 'é' was refused as "not valid YAML" or "not a text file".
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    entries = []  # (where, position, entry)
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    entries.append((f"{path}:{number}", f"line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise TaskFileError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
    else:
        data = load_yaml(path, text, TaskFileError)
        if isinstance(data, dict):
            data = data.get("tasks")
        if not isinstance(data, list):
            raise TaskFileError(f"{path}: expected a list of tasks or a mapping with a 'tasks' list")
        entries = [(f"{path} task #{i + 1}", f"task #{i + 1}", entry) for i, entry in enumerate(data)]
    if not entries:
        # Like an empty YAML file: collecting nothing would end in "0 episodes collected" and exit 0.
        raise TaskFileError(f"{path}: the file holds no tasks; a task file lists at least one")
    tasks = [task_from_dict(entry, where) for where, _, entry in entries]
    seen: dict[str, str] = {}
    for task, (_, position, _) in zip(tasks, entries):
        if task.id in seen:
            raise TaskFileError(f"{path}: task id {task.id!r} appears twice ({seen[task.id]} and {position}); ids "
                                f"name episodes and must be unique")
        seen[task.id] = position
    return tasks if domain is None else tasks_for_domain(tasks, domain, path)


def known_domains() -> set[str]:
    """The installed collectors' names, and the domains another collector records (search: the mcp collector)."""
    return {ep.name for ep in entry_points(group=COLLECTOR_GROUP)} | set(DOMAINS_OF_OTHER_COLLECTORS)


def tasks_for_domain(tasks: list[Task], domain: str | Collection[str], path: Path) -> list[Task]:
    """The tasks whose `domain` is `domain` (one of them, given several) or empty. A file may hold tasks for several
    collectors, so the others' are skipped; but a domain no collector has (misspelled or not), or a file with no task
    for this collector, would collect nothing and say only "0 episodes collected", so both are refused."""
    domains = {domain} if isinstance(domain, str) else set(domain)
    known = known_domains() | domains
    listed = f"known domains: {', '.join(sorted(known))}"
    for task in tasks:
        if task.domain and task.domain not in known:
            guess = difflib.get_close_matches(task.domain, known, n=1)
            # Skipping it would drop the task without a word. A domain of an MCP servers file is no reason to: the
            # mcp collector records each episode in its server's domain and runs the tasks marked mcp.
            hint = f"; did you mean {guess[0]!r}?" if guess else \
                " (an MCP task's domain may be mcp, or unset, whatever domain its server records in);"
            raise TaskFileError(f"{path} (task {task.id!r}): domain {task.domain!r} is not one worldline knows"
                                f"{hint} {listed}")
    chosen = [task for task in tasks if task.domain in ("", *domains)]
    if tasks and not chosen:
        others = ", ".join(f"{task.id!r} is for {task.domain!r}" for task in tasks[:3])
        more = f" and {len(tasks) - 3} more" if len(tasks) > 3 else ""
        names = ", ".join(repr(name) for name in sorted(domains))
        collector = f"the {names} collector" if len(domains) == 1 else "this collector"
        raise TaskFileError(f"{path}: no task is for {collector}, which runs tasks whose domain is "
                            f"{names} or unset ({others}{more}); {listed}")
    return chosen
