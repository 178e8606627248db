"""pyautogui-style desktop actions, parsed from their text form and turned into xdotool command lines.

Text forms (what task files write and what transitions record):
    click(x, y)  double_click(x, y)  right_click(x, y)  move(x, y)  drag(x1, y1, x2, y2)
    click(element=ID) / double_click(element=ID) / right_click(element=ID)   an element of the last observation
    click(name="Save", role="push-button")                                   the first showing element that matches
    type("text")  press("enter")  hotkey("ctrl", "s")  scroll(clicks) / scroll(clicks, x, y)  wait(seconds)
Key names follow pyautogui ('enter', 'esc', 'ctrl', 'pagedown', 'f5', single characters) and become X keysyms.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from sandboxes.call_syntax import CallSyntaxError, UnknownName, parse_call

POINTER_KINDS = {"click": 1, "double_click": 1, "right_click": 3}
# pyautogui name -> X keysym, for the names that differ.
KEYSYMS = {
    "enter": "Return", "return": "Return", "esc": "Escape", "escape": "Escape", "tab": "Tab", "space": "space",
    "backspace": "BackSpace", "delete": "Delete", "del": "Delete", "insert": "Insert", "home": "Home", "end": "End",
    "pageup": "Prior", "pgup": "Prior", "pagedown": "Next", "pgdn": "Next", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "ctrl": "ctrl", "control": "ctrl", "ctrlleft": "Control_L",
    "ctrlright": "Control_R", "shift": "shift", "shiftleft": "Shift_L", "shiftright": "Shift_R", "alt": "alt",
    "altleft": "Alt_L", "altright": "Alt_R", "win": "super", "super": "super", "command": "super", "menu": "Menu",
    "capslock": "Caps_Lock", "printscreen": "Print", "-": "minus", "+": "plus", "=": "equal", "/": "slash",
    "*": "asterisk", ".": "period", ",": "comma", ";": "semicolon", "'": "apostrophe", "[": "bracketleft",
    "]": "bracketright", "\\": "backslash", "`": "grave", " ": "space",
}
TYPE_DELAY_MS = 8
# Well under desktopd's per-command limit (20 s) and the host's per-request limit (30 s).
MAX_WAIT_S = 10
# Not a program: desktopd's own step between a pointer move and a button event. It waits until the app has taken
# the move in (a tooltip it showed under the new point is gone), as the time a hand takes to click would.
SETTLE_POINTER = ("settle-pointer",)


class ActionError(ValueError):
    pass


@dataclass
class DesktopAction:
    kind: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def targets_element(self) -> bool:
        return self.kind in POINTER_KINDS and not self.args

    def text(self) -> str:
        parts = [json.dumps(a, ensure_ascii=False) for a in self.args]
        parts += [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.kwargs.items()]
        return f"{self.kind}({', '.join(parts)})"


def _number(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# One stub per action: its signature is the action's (positional-only where the text form is positional, as
# DesktopAction keeps those in `args`), its docstring the usage a refusal quotes, and its body the rules on the
# values, each broken rule a ValueError naming it.
def _pointer(x=None, y=None, /, *, element=None, name=None, role=None, app=None):
    """(x, y), element=ID or name=... [role=..., app=...]"""
    if x is None and y is None:
        if element is None and name is None:
            raise ValueError("needs coordinates, element=ID or name=...")
    elif y is None or not _number(x, y):
        raise ValueError("coordinates are two numbers")
    elif (element, name, role, app) != (None,) * 4:
        raise ValueError("coordinates and element=/name=/role=/app= do not go together")
    _target_types(element, name=name, role=role, app=app)


def _target_types(element: Any, **texts: Any) -> None:
    # Checked here, not when the element is looked up: a string id would match no node and read as "not found".
    if element is not None and (isinstance(element, bool) or not isinstance(element, int)):
        raise ValueError(f"element is the id (an integer) of an element of the observation, got {element!r}")
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} must be a string, got {value!r}")


def _move(x, y, /):
    """(x, y)"""
    if not _number(x, y):
        raise ValueError("coordinates are two numbers")


def _drag(x1, y1, x2, y2, /):
    """(x1, y1, x2, y2)"""
    if not _number(x1, y1, x2, y2):
        raise ValueError("coordinates are numbers")


def _type(text, /):
    """one string"""
    if not isinstance(text, str):
        raise ValueError(f"the text must be a string, got {text!r}")


def _press(key, /):
    """one key name, e.g. press("enter")"""
    _keys(key)


def _hotkey(*keys):
    """key names, e.g. hotkey("ctrl", "s")"""
    if not keys:
        raise ValueError("needs at least one key name")
    _keys(*keys)


def _keys(*keys: Any) -> None:
    for key in keys:
        if not isinstance(key, str) or not key:
            raise ValueError(f"{key!r} is not a key name")
        keysym(key)


def _scroll(clicks, x=None, y=None, /):
    """(clicks) or (clicks, x, y)"""
    # is_integer, not int(): int() of an infinite float (1e999 reads as one) raises OverflowError.
    if not _number(clicks) or (isinstance(clicks, float) and not clicks.is_integer()):
        raise ValueError(f"clicks must be a whole number, got {clicks!r}")
    if (x is None) != (y is None) or (x is not None and not _number(x, y)):
        raise ValueError("the point to scroll at is two numbers")


def _wait(seconds, /):
    if not _number(seconds) or not 0 <= seconds <= MAX_WAIT_S:
        raise ValueError(f"{seconds!r} is not a number of seconds in range")


_wait.__doc__ = f"seconds between 0 and {MAX_WAIT_S}"
STUBS = {**dict.fromkeys(POINTER_KINDS, _pointer), "move": _move, "drag": _drag, "type": _type, "press": _press,
         "hotkey": _hotkey, "scroll": _scroll, "wait": _wait}
KINDS = set(STUBS)


def _check(action: DesktopAction) -> DesktopAction:
    if action.kind not in KINDS:
        raise ActionError(f"unknown desktop action {action.kind!r}; known: {sorted(KINDS)}")
    stub = STUBS[action.kind]
    try:
        bound = inspect.signature(stub).bind(*action.args, **action.kwargs)
    except TypeError as exc:  # bind's own words: a missing, extra or unexpected argument
        raise ActionError(f"{action.text()}: {exc}; {action.kind} takes {stub.__doc__}") from None
    try:
        stub(*bound.args, **bound.kwargs)
    except ValueError as exc:
        raise ActionError(f"{action.text()}: {exc}; {action.kind} takes {stub.__doc__}") from None
    return action


def parse(spec: Any) -> DesktopAction:
    """An action from its text form ('click(10, 20)') or a mapping ({'kind': 'click', 'args': [10, 20]})."""
    if isinstance(spec, dict):
        if "kind" not in spec:
            raise ActionError(f"an action mapping needs 'kind': {spec!r}")
        return _check(DesktopAction(str(spec["kind"]), list(spec.get("args") or []), dict(spec.get("kwargs") or {})))
    if not isinstance(spec, str):
        raise ActionError(f"an action is a string like 'click(10, 20)' or a mapping, got {type(spec).__name__}")
    try:
        kind, args, kwargs = parse_call(spec, known=KINDS)
    except UnknownName as exc:
        raise ActionError(f"unknown desktop action {exc.name!r} in {spec!r}; known: {sorted(KINDS)}") from None
    except CallSyntaxError as exc:
        raise ActionError(f"cannot parse desktop action {exc}; write it like click(10, 20) or type(\"hi\")") \
            from None
    return _check(DesktopAction(kind, args, kwargs))


def keysym(key: str) -> str:
    name = key.lower()
    if name in KEYSYMS:
        return KEYSYMS[name]
    if len(key) == 1 or (name.startswith("f") and name[1:].isdigit()):
        return key if len(key) == 1 else name.upper()
    if key.isalpha():  # already an X keysym such as 'Return' or 'KP_Add'
        return key
    raise ActionError(f"unknown key {key!r}")


def _xy(x, y) -> list[str]:
    return [str(int(round(x))), str(int(round(y)))]


def xdotool_commands(action: DesktopAction, point: tuple[float, float] | None = None) -> list[list[str]]:
    """The xdotool command lines for `action`; `point` is where an element-targeted click lands."""
    kind, args = action.kind, action.args
    if kind in POINTER_KINDS:
        x, y = point if action.targets_element else args
        button = str(POINTER_KINDS[kind])
        # mousedown/mouseup instead of `click`: the same event pair, without click's ~100 ms built-in delay.
        presses = ["mousedown", button, "mouseup", button] * (2 if kind == "double_click" else 1)
        return [["xdotool", "mousemove", *_xy(x, y)], [*SETTLE_POINTER], ["xdotool", *presses]]
    if kind == "move":
        return [["xdotool", "mousemove", *_xy(*args)]]
    if kind == "drag":
        return [["xdotool", "mousemove", *_xy(args[0], args[1])], [*SETTLE_POINTER],
                ["xdotool", "mousedown", "1", "mousemove", *_xy(args[2], args[3]), "mouseup", "1"]]
    if kind == "type":
        return [["xdotool", "type", "--delay", str(TYPE_DELAY_MS), "--", args[0]]] if args[0] else []
    if kind == "press":
        return [["xdotool", "key", "--", keysym(args[0])]]
    if kind == "hotkey":
        return [["xdotool", "key", "--", "+".join(keysym(k) for k in args)]]
    if kind == "scroll":
        clicks = int(args[0])
        move = [["xdotool", "mousemove", *_xy(args[1], args[2])], [*SETTLE_POINTER]] if len(args) == 3 else []
        # pyautogui: positive scrolls up (X button 4), negative down (button 5).
        button = "4" if clicks > 0 else "5"
        return move + ([["xdotool", "click", "--repeat", str(abs(clicks)), "--delay", "10", button]] if clicks else [])
    if kind == "wait":
        return [["sleep", str(args[0])]]
    raise ActionError(f"unknown desktop action {kind!r}")
