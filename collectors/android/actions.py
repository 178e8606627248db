"""Android actions: parsed from task files, rendered in the text form the observation uses (`tap(3)`), and mapped
to the `adb shell input` / `monkey` commands that perform them.

Element numbers are the `[i]` ids of the flattened view list (schemas.render.android).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from sandboxes.call_syntax import BareWord, CallSyntaxError, UnknownName, parse_call
from schemas import Action
from schemas.render.android import ViewNode

KINDS = ("tap", "long_press", "swipe", "scroll", "type", "key", "open_app", "wait")
DIRECTIONS = ("up", "down", "left", "right")
KEYS = {"back": "KEYCODE_BACK", "home": "KEYCODE_HOME", "enter": "KEYCODE_ENTER", "delete": "KEYCODE_DEL",
        "backspace": "KEYCODE_DEL", "tab": "KEYCODE_TAB", "menu": "KEYCODE_MENU", "recents": "KEYCODE_APP_SWITCH",
        "search": "KEYCODE_SEARCH", "escape": "KEYCODE_ESCAPE", "space": "KEYCODE_SPACE",
        "volume_up": "KEYCODE_VOLUME_UP", "volume_down": "KEYCODE_VOLUME_DOWN", "power": "KEYCODE_POWER",
        "dpad_up": "KEYCODE_DPAD_UP", "dpad_down": "KEYCODE_DPAD_DOWN", "dpad_left": "KEYCODE_DPAD_LEFT",
        "dpad_right": "KEYCODE_DPAD_RIGHT", "dpad_center": "KEYCODE_DPAD_CENTER"}
SELECTOR_KEYS = ("text", "desc", "res")
LONG_PRESS_MS = 800
SWIPE_MS = 300
MAX_WAIT_S = 30.0
# The kinds that also take two arguments, and what the two are.
_TWO_ARGUMENTS = {"tap": "x, y", "long_press": "x, y", "swipe": "element, direction", "scroll": "element, direction"}
_OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}


class AndroidActionError(ValueError):
    pass


def action_text(kind: str, args: dict[str, Any]) -> str:
    if kind in ("tap", "long_press"):
        if "element" in args:
            return f"{kind}({args['element']})"
        if "selector" in args:
            return f"{kind}({json.dumps(args['selector'], ensure_ascii=False, sort_keys=True)})"
        return f"{kind}({args['x']}, {args['y']})"
    if kind in ("swipe", "scroll"):
        return f"{kind}({args['element']}, {args['direction']})" if "element" in args else \
            f"{kind}({args['direction']})"
    if kind == "type":
        return f"type({json.dumps(args['text'], ensure_ascii=False)})"
    if kind == "key":
        return f"key({args['key']})"
    if kind == "open_app":
        return f"open_app({args['package']})"
    return f"wait({args['seconds']:g})"


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        raise AndroidActionError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _target_args(kind: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        unknown = set(value) - set(SELECTOR_KEYS)
        if unknown or not value:
            raise AndroidActionError(f"{kind}: a selector uses keys {SELECTOR_KEYS}, got {sorted(value)}")
        return {"selector": {k: str(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise AndroidActionError(f"{kind}: a point is [x, y], got {value!r}")
        return {"x": _int(value[0], f"{kind} x"), "y": _int(value[1], f"{kind} y")}
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        raise AndroidActionError(f"{kind} element must be an integer, got {value!r}; to {kind} an element by its "
                                 f"text write {kind}({json.dumps({'text': value}, ensure_ascii=False)})")
    return {"element": _int(value, f"{kind} element")}


def _swipe_args(kind: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        args = {"direction": value.get("direction")}
        if value.get("element") is not None:
            args["element"] = _int(value["element"], f"{kind} element")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        args = {"element": _int(value[0], f"{kind} element"), "direction": value[1]}
    else:
        args = {"direction": value}
    if args["direction"] not in DIRECTIONS:
        raise AndroidActionError(f"{kind}: direction must be one of {DIRECTIONS}, got {args['direction']!r}")
    return args


def build_action(kind: str, value: Any) -> Action:
    if kind in ("tap", "long_press"):
        args = _target_args(kind, value)
    elif kind in ("swipe", "scroll"):
        args = _swipe_args(kind, value)
    elif kind == "type":
        if not isinstance(value, str) or not value:
            raise AndroidActionError(f"type: text must be a non-empty string, got {value!r}")
        args = {"text": value}
    elif kind == "key":
        if str(value).lower() not in KEYS:
            raise AndroidActionError(f"key: unknown key {value!r}; known: {sorted(KEYS)}")
        args = {"key": str(value).lower()}
    elif kind == "open_app":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+", value):
            raise AndroidActionError(f"open_app: {value!r} is not an Android package name")
        args = {"package": value}
    elif kind == "wait":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise AndroidActionError(f"wait: seconds must be a number, got {value!r}") from None
        if not 0 <= seconds <= MAX_WAIT_S:
            raise AndroidActionError(f"wait: seconds must be within 0..{MAX_WAIT_S:g}, got {seconds}")
        args = {"seconds": seconds}
    else:
        raise AndroidActionError(f"unknown android action {kind!r}; known: {', '.join(KINDS)}")
    return Action(kind, args, action_text(kind, args))


def _call_value(spec: str, kind: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The call's arguments as the one value build_action takes (the mapping form's value)."""
    if kwargs:
        raise AndroidActionError(f"{kind}: takes no keyword arguments, got {', '.join(kwargs)}= in {spec!r}")
    if kind == "type" and args and isinstance(args[0], BareWord):
        raise AndroidActionError(f"type: text must be a double-quoted string, got the bare word {args[0]} in {spec!r}")
    # A bare word stands for its text; BareWord only marks it for the check above.
    values = [str(a) if isinstance(a, BareWord) else a for a in args]
    if len(values) == 2 and kind in _TWO_ARGUMENTS:
        return values
    if len(values) != 1:
        two = f" (or two: {_TWO_ARGUMENTS[kind]})" if kind in _TWO_ARGUMENTS else ""
        raise AndroidActionError(f"{kind}: expected one argument{two}, got {len(values)} in {spec!r}")
    return values[0]


def parse_action(spec: Any) -> Action:
    """A task-file action: `"tap(3)"`, `"type(\\"hi\\")"`, or a one-key mapping such as `{tap: [540, 1200]}`.

    The text form is call syntax (sandboxes.call_syntax) with bare words allowed, as in `key(back)`, `swipe(3, up)`
    and `open_app(com.android.settings)`; text with spaces or commas is quoted: `type("a, b")`, `tap({"text": "OK"})`.
    """
    if isinstance(spec, Action):
        return spec
    if isinstance(spec, str):
        try:
            kind, args, kwargs = parse_call(spec, known=KINDS, bare_words=True)
        except UnknownName as exc:
            raise AndroidActionError(f"unknown android action {exc.name!r} in {spec!r}; known: {', '.join(KINDS)}") \
                from None
        except CallSyntaxError as exc:
            raise AndroidActionError(f"action {spec!r} is not of the form kind(arguments), e.g. tap(3) ({exc.reason}); "
                                     f"quote text with spaces or commas: type(\"a, b\")") from None
        return build_action(kind, _call_value(spec, kind, args, kwargs))
    if isinstance(spec, dict) and len(spec) == 1:
        (kind, value), = spec.items()
        return build_action(str(kind), value)
    raise AndroidActionError(f"action {spec!r} must be a string like 'tap(3)' or a one-key mapping like {{tap: 3}}")


def resolve_element(action: Action, nodes: list[ViewNode]) -> ViewNode | None:
    """The node an action names (by index or selector) on the current screen; None for point/screen actions."""
    args = action.arguments
    if "element" in args:
        index = args["element"]
        if not 0 <= index < len(nodes):
            raise AndroidActionError(f"{action.text}: no element [{index}] on this screen (it lists {len(nodes)})")
        return nodes[index]
    if "selector" in args:
        wanted = args["selector"]
        for node in nodes:
            if all(getattr(node, key) == value for key, value in wanted.items()):
                return node
        raise AndroidActionError(f"{action.text}: no element on this screen matches {wanted}")
    return None


def input_command(action: Action, node: ViewNode | None, screen: tuple[int, int]) -> str | None:
    """The device shell command for an action (None for wait)."""
    args = action.arguments
    if action.kind in ("tap", "long_press"):
        x, y = node.center if node else (args["x"], args["y"])
        return f"input tap {x} {y}" if action.kind == "tap" else f"input swipe {x} {y} {x} {y} {LONG_PRESS_MS}"
    if action.kind in ("swipe", "scroll"):
        # swipe names where the finger goes; scroll names where the content comes from (scroll down = finger up).
        direction = args["direction"] if action.kind == "swipe" else _OPPOSITE[args["direction"]]
        x1, y1, x2, y2 = node.bounds if node else (0, 0, screen[0], screen[1])
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        dx, dy = (x2 - x1) // 3, (y2 - y1) // 3
        end = {"up": (cx, cy - dy), "down": (cx, cy + dy), "left": (cx - dx, cy), "right": (cx + dx, cy)}[direction]
        return f"input swipe {cx} {cy} {end[0]} {end[1]} {SWIPE_MS}"
    if action.kind == "type":
        text = args["text"]
        if not text.isascii():
            raise AndroidActionError(f"{action.text}: `input text` types ASCII only")
        return "input text " + shlex.quote(text.replace(" ", "%s"))
    if action.kind == "key":
        return f"input keyevent {KEYS[args['key']]}"
    if action.kind == "open_app":
        return f"monkey -p {args['package']} -c android.intent.category.LAUNCHER 1"
    return None
