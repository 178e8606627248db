"""The call syntax every action text is written in (`tap(3)`, `click("12", button="right")`, `hotkey("ctrl", "s")`).

One parser for the android, desktop and web actions: Python's `ast` reads the text, so quoting, commas inside
strings and nested lists or dicts follow Python's rules, and each argument is a literal read by `ast.literal_eval`
(never eval). What the arguments mean is the caller's business.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import Any


class CallSyntaxError(ValueError):
    """The text is not one call with literal arguments. `reason` says why; the message names the text too."""

    def __init__(self, text: Any, reason: str):
        self.text, self.reason = text, reason
        super().__init__(f"{text!r}: {reason}")


class UnknownName(CallSyntaxError):
    """The text is a call, but of a name the caller does not know (raised before any argument is read)."""

    def __init__(self, text: str, name: str):
        self.name = name
        super().__init__(text, f"unknown name {name!r}")


class BareWord(str):
    """An unquoted argument (`back` in `key(back)`, `com.android.settings`), told apart from a quoted string so a
    caller that wants text can refuse it."""


def _bare_word(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _value(text: str, node: ast.expr, bare_words: bool) -> Any:
    if isinstance(node, ast.Starred):
        raise CallSyntaxError(text, "*arguments are not allowed; write each argument out")
    if bare_words and (word := _bare_word(node)) is not None:
        return BareWord(word)
    hint = ", or bare words such as back" if bare_words else ""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CallSyntaxError(text, f"argument {ast.unparse(node)} is not a literal: arguments must be literals "
                                    f"(strings, numbers, lists, dicts{hint})") from None
    if (odd := _not_json(value)) is not None:
        raise CallSyntaxError(text, f"argument {ast.unparse(node)} holds {odd}: arguments must be literals "
                                    f"(strings, numbers, lists, dicts{hint})")
    return value


def _not_json(value: Any) -> str | None:
    """What in a literal JSON cannot hold (a set, bytes, a complex number, a non-string dict key): actions are
    recorded as JSON, so such a value could not be stored as it was written."""
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "a dict key that is not a string"
        items = value.values()
    elif value is None or isinstance(value, (str, int, float)):
        return None
    else:
        return f"a {type(value).__name__} value"
    return next(filter(None, map(_not_json, items)), None)


def _call_node(text: Any) -> ast.Call:
    if not isinstance(text, str):
        raise CallSyntaxError(text, f"expected a call written as text, got {type(text).__name__}")
    if not text.strip():
        raise CallSyntaxError(text, "expected a call such as name(arguments), got nothing")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise CallSyntaxError(text, f"not a call expression ({exc.msg}{where})") from None
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes; absurd nesting
        raise CallSyntaxError(text, f"not a call expression ({exc})") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise CallSyntaxError(text, "expected a single call such as name(arguments)")
    return node


def _check_keywords(text: str, node: ast.Call) -> None:
    names = [keyword.arg for keyword in node.keywords]
    if None in names:
        raise CallSyntaxError(text, "**kwargs are not allowed; name each keyword argument")
    if repeated := sorted({key for key in names if names.count(key) > 1}):
        # ast.parse lets this through (the compiler is what refuses it); a dict would keep the last one silently.
        raise CallSyntaxError(text, f"keyword argument repeated: {', '.join(repeated)}")


def parse_call(text: Any, *, known: Collection[str] | None = None,
               bare_words: bool = False) -> tuple[str, list[Any], dict[str, Any]]:
    """`click("12", button="right")` -> ("click", ["12"], {"button": "right"}).

    `known`: the names allowed; another name raises UnknownName before the arguments are read.
    `bare_words`: also accept unquoted names and dotted names as arguments, returned as BareWord strings.
    """
    node = _call_node(text)
    name = node.func.id
    if known is not None and name not in known:
        raise UnknownName(text, name)
    _check_keywords(text, node)
    args = [_value(text, arg, bare_words) for arg in node.args]
    kwargs = {keyword.arg: _value(text, keyword.value, bare_words) for keyword in node.keywords}
    return name, args, kwargs
