"""Reading an action as its collector wrote it: a tool call's or a terminal's JSON, a web or desktop call written as
code (click("12"), fill("23", "2")), and telling a call's arguments and a command in a few words."""

from __future__ import annotations

import re

from transforms.reasoning._linediff import quote
from transforms.reasoning.jsonvalue import json_scan, json_value

# A string longer than this is described by its length and first words.
SHORT_STRING = 60


# How a call's arguments are told: a few, each a short fact.
_ARGS_TOLD = 3


def action_json(text: str):
    """The action as JSON (a tool call, a terminal's keystrokes), or None for a call written as code (web, desktop)."""
    if not text or text[0] not in "[{":
        return None
    try:
        return json_value(text)
    except (ValueError, RecursionError):
        return None


def _argument(name: str, value) -> str:
    if isinstance(value, str):
        if not value:
            return f"an empty {name}"
        return f"{name} {quote(value)}" if len(value) <= SHORT_STRING and value.strip() else \
            f"{name} of {len(value)} characters"
    if isinstance(value, list):
        if value and len(value) <= _ARGS_TOLD and all(isinstance(v, str) and 0 < len(v) <= SHORT_STRING
                                                       for v in value):
            return f"{name} {', '.join(map(quote, value))}"
        return f"{name} ({len(value)} {'item' if len(value) == 1 else 'items'})"
    if isinstance(value, dict):
        return f"{name} ({len(value)} {'key' if len(value) == 1 else 'keys'})"
    # A number, true, false or null as the action's JSON writes it (json.dumps costs ~2 us a value).
    return f"{name} {JSON_CONSTANTS.get(value, value) if value is None or isinstance(value, bool) else repr(value)}"


JSON_CONSTANTS = {None: "null", True: "true", False: "false"}


def arguments_told(arguments) -> str:
    if not isinstance(arguments, dict) or not arguments:
        return " with no arguments"
    told = [_argument(name, value) for name, value in list(arguments.items())[:_ARGS_TOLD]]
    more = len(arguments) - _ARGS_TOLD
    if more > 0:
        told.append(f"{more} more {'argument' if more == 1 else 'arguments'}")
    return " with " + (told[0] if len(told) == 1 else ", ".join(told[:-1]) + " and " + told[-1])


def tool_call(action) -> tuple[str, dict] | None:
    """What a tool call or request names, and its arguments: {"name", "arguments"} (MCP, search and swe tools) or
    {"method", "params"} (an MCP request that is not tools/call)."""
    if not isinstance(action, dict):
        return None
    if isinstance(action.get("name"), str):
        arguments = action.get("arguments")
        return f"The call `{action['name']}`", arguments if isinstance(arguments, dict) else {}
    if isinstance(action.get("method"), str):
        params = action.get("params") if isinstance(action.get("params"), dict) else {}
        target = next((params[key] for key in ("name", "uri") if isinstance(params.get(key), str)), None)
        arguments = params.get("arguments") if target and isinstance(params.get("arguments"), dict) else \
            {key: value for key, value in params.items() if key not in ("name", "uri")}
        return (f"The request `{action['method']}`" + (f" for {quote(target)}" if target else ""), arguments)
    return None


def as_code(text: str) -> str:
    """A command as the action typed it, in backticks (a longer one cut, with an ellipsis, at a word)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    if len(line) > SHORT_STRING:
        cut = line.rfind(" ", 0, SHORT_STRING)
        line = line[:cut if cut > SHORT_STRING // 2 else SHORT_STRING].rstrip() + "…"
    elif text.strip().count("\n"):
        line += " …"
    return "`" + line.replace("`", "'") + "`"


_CALL_NAME = re.compile(r"(\w+)\(")
_KEYWORD = re.compile(r"\s*(\w+)=")
_SEPARATOR = re.compile(r"\s*(,\s*|\))")


def code_call(text: str) -> tuple[str, tuple, dict] | None:
    """A web or desktop action written as a call of JSON literals, click("12"), fill("23", "2"), click(element=25)
    (sandboxes/web_actions.format_call, collectors/os_desktop.py): its name, positional and named arguments; None for
    any other text. Read with json's scanner, as ast.parse cost ~20 us a row."""
    head = _CALL_NAME.match(text)
    if head is None or not text.endswith(")"):
        return None
    args: list = []
    kwargs: dict = {}
    at = head.end()
    if text[at:].strip() == ")":
        return head[1], (), kwargs
    try:
        while True:
            keyword = _KEYWORD.match(text, at)
            if keyword:
                at = keyword.end()
            value, at = json_scan(text, at)
            if keyword:
                kwargs[keyword[1]] = value
            else:
                args.append(value)
            separator = _SEPARATOR.match(text, at)
            if separator is None:
                return None
            at = separator.end()
            if separator[1] == ")":
                return (head[1], tuple(args), kwargs) if at == len(text) else None
    except (StopIteration, ValueError):  # no value at `at`, or a broken one
        return None


# A string argument shorter than this is not looked for in the answer: a "-" would match too much. A number is, as the
# letters and digits beside it must not be (answers._shown_arguments).
_SHOWN_VALUE = 2


def argument_values(arguments: dict) -> tuple[tuple[str, str], ...]:
    """The (text, name) of each argument whose value a line of the answer may show: a string of at least _SHOWN_VALUE
    characters or a number, as the answer would write it; longest first, so a path inside a longer one is not taken
    for it; two arguments of one value are ambiguous, and left out."""
    names: dict[str, list[str]] = {}
    for name, value in arguments.items():
        if isinstance(value, str):
            text = value if len(value) >= _SHOWN_VALUE and value.strip() else None
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = repr(value) if isinstance(value, float) else None
        if text:
            names.setdefault(text, []).append(name)
    return tuple(sorted(((text, told[0]) for text, told in names.items() if len(told) == 1),
                        key=lambda item: -len(item[0])))
