"""pyautogui-style desktop actions, parsed from their text form and turned into xdotool command lines.

Text forms (what task files write and what transitions record):
    click(x, y)  double_click(x, y)  right_click(x, y)  move(x, y)  drag(x1, y1, x2, y2)
    click(element=ID) / double_click(element=ID) / right_click(element=ID)   an element of the last observation
    click(name="Save", role="push-button")                                   the first showing element that matches
    type("text")  press("enter")  hotkey("ctrl", "s")  scroll(clicks) / scroll(clicks, x, y)  wait(seconds)
Key names follow pyautogui ('enter', 'esc', 'ctrl', 'pagedown', 'f5', single characters) and become X keysyms.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any

POINTER_KINDS = {"click": 1, "double_click": 1, "right_click": 3}
KINDS = set(POINTER_KINDS) | {"move", "drag", "type", "press", "hotkey", "scroll", "wait"}
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


def _check(action: DesktopAction) -> DesktopAction:
    kind, args, kwargs = action.kind, action.args, action.kwargs
    numbers = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if kind not in KINDS:
        raise ActionError(f"unknown desktop action {kind!r}; known: {sorted(KINDS)}")
    if kind in POINTER_KINDS:
        if args and (len(args) != 2 or not numbers or kwargs):
            raise ActionError(f"{kind} takes (x, y) or element=ID or name=/role=, got {action.text()}")
        if not args and not ({"element"} <= set(kwargs) or "name" in kwargs):
            raise ActionError(f"{kind} needs coordinates, element=ID or name=...: {action.text()}")
        if set(kwargs) - {"element", "name", "role", "app"}:
            raise ActionError(f"{kind}: unknown arguments {sorted(set(kwargs) - {'element', 'name', 'role', 'app'})}")
    elif kind == "move" and (len(args) != 2 or not numbers):
        raise ActionError(f"move takes (x, y), got {action.text()}")
    elif kind == "drag" and (len(args) != 4 or not numbers):
        raise ActionError(f"drag takes (x1, y1, x2, y2), got {action.text()}")
    elif kind == "type" and (len(args) != 1 or not isinstance(args[0], str)):
        raise ActionError(f"type takes one string, got {action.text()}")
    elif kind in ("press", "hotkey"):
        if not args or not all(isinstance(a, str) and a for a in args) or (kind == "press" and len(args) != 1):
            raise ActionError(f"{kind} takes key names, got {action.text()}")
        for key in args:
            keysym(key)
    elif kind == "scroll" and (len(args) not in (1, 3) or not numbers or int(args[0]) != args[0]):
        raise ActionError(f"scroll takes (clicks) or (clicks, x, y), got {action.text()}")
    elif kind == "wait" and (len(args) != 1 or not numbers or not 0 <= args[0] <= MAX_WAIT_S):
        raise ActionError(f"wait takes seconds between 0 and {MAX_WAIT_S}, got {action.text()}")
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
        call = ast.parse(spec.strip(), mode="eval").body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise ValueError("not a call")
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except (SyntaxError, ValueError) as exc:
        raise ActionError(f"cannot parse desktop action {spec!r}: write it like click(10, 20) or "
                          f"type(\"hi\") ({exc})") from exc
    return _check(DesktopAction(call.func.id, args, kwargs))


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
