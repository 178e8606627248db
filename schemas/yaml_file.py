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


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key given twice in one mapping: PyYAML keeps the last value without a word, so a second
    `actions:` in a task silently replaced the first. A key overriding one merged in with `<<:` is not a repeat."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: SafeLoader's own error says so
                if earlier is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice (first on line {earlier.start_mark.line + 1}): a "
                                    f"mapping keeps one value per key", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path, text: str, error: type[Exception]):
    """yaml.safe_load(text) of the file at `path`, but refusing a repeated key, raising `error` with
    yaml_error_message."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise error(yaml_error_message(path, exc)) from None
