"""YAML files the user writes (tasks, servers, repos, perturbations): parsed, or an error of the caller's type with
one line naming the file, the line and the problem, instead of PyYAML's multi-line message."""

from __future__ import annotations

from pathlib import Path

import yaml


def yaml_error_message(path: str | Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path} line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        started = f" started on line {context_mark.line + 1}" if context_mark is not None and mark is not None \
            and context_mark.line != mark.line else ""
        problem = f"{problem} ({context}{started})"
    return f"{where}: not valid YAML: {problem}"


def load_yaml(path: str | Path, text: str, error: type[Exception]):
    """yaml.safe_load(text) of the file at `path`, raising `error` with yaml_error_message."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(yaml_error_message(path, exc)) from None
