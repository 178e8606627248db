"""BrowserGym's high-level action set: parsed from its text syntax (`click("12")`) and run on a browser session.

Each action is a function whose signature is the action's signature; parsing (sandboxes.call_syntax) binds the call's
literal arguments to it, so a wrong call is refused with the same message Python would give.
Functions receive the `sandboxes.browser_session.BrowserSession` as first argument and act on its active tab.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

from sandboxes import call_syntax
from sandboxes.call_syntax import CallSyntaxError, UnknownName


class ActionError(ValueError):
    """The action text is not a valid call of a known action."""


def noop(s, wait_ms: float = 0):
    if wait_ms:
        s.page.wait_for_timeout(wait_ms)


def send_msg_to_user(s, text: str):
    s.messages.append(str(text))


def report_infeasible(s, reason: str):
    s.messages.append(f"infeasible: {reason}")


def scroll(s, delta_x: float, delta_y: float):
    s.page.mouse.wheel(delta_x, delta_y)


def fill(s, bid: str, value: str):
    s.element(bid).fill(str(value), timeout=s.action_timeout_ms)


def clear(s, bid: str):
    s.element(bid).clear(timeout=s.action_timeout_ms)


def select_option(s, bid: str, options: str | list):
    s.element(bid).select_option(options if isinstance(options, list) else [options], timeout=s.action_timeout_ms)


def click(s, bid: str, button: str = "left", modifiers: list = ()):
    s.element(bid).click(button=button, modifiers=list(modifiers), timeout=s.action_timeout_ms)


def dblclick(s, bid: str, button: str = "left", modifiers: list = ()):
    s.element(bid).dblclick(button=button, modifiers=list(modifiers), timeout=s.action_timeout_ms)


def hover(s, bid: str):
    s.element(bid).hover(timeout=s.action_timeout_ms)


def press(s, bid: str, key_comb: str):
    s.element(bid).press(key_comb, timeout=s.action_timeout_ms)


def focus(s, bid: str):
    s.element(bid).focus(timeout=s.action_timeout_ms)


def drag_and_drop(s, from_bid: str, to_bid: str):
    s.element(from_bid).drag_to(s.element(to_bid), timeout=s.action_timeout_ms)


def mouse_move(s, x: float, y: float):
    s.page.mouse.move(x, y)


def mouse_down(s, x: float, y: float, button: str = "left"):
    s.page.mouse.move(x, y)
    s.page.mouse.down(button=button)


def mouse_up(s, x: float, y: float, button: str = "left"):
    s.page.mouse.move(x, y)
    s.page.mouse.up(button=button)


def mouse_click(s, x: float, y: float, button: str = "left"):
    s.page.mouse.click(x, y, button=button)


def mouse_dblclick(s, x: float, y: float, button: str = "left"):
    s.page.mouse.dblclick(x, y, button=button)


def mouse_drag_and_drop(s, from_x: float, from_y: float, to_x: float, to_y: float):
    s.page.mouse.move(from_x, from_y)
    s.page.mouse.down()
    s.page.mouse.move(to_x, to_y)
    s.page.mouse.up()


def keyboard_press(s, key: str):
    s.page.keyboard.press(key)


def keyboard_type(s, text: str):
    s.page.keyboard.type(text)


def keyboard_down(s, key: str):
    s.page.keyboard.down(key)


def keyboard_up(s, key: str):
    s.page.keyboard.up(key)


def goto(s, url: str):
    s.page.goto(s.absolute_url(url), timeout=s.navigation_timeout_ms)


def go_back(s):
    s.page.go_back(timeout=s.navigation_timeout_ms)


def go_forward(s):
    s.page.go_forward(timeout=s.navigation_timeout_ms)


def new_tab(s):
    s.new_tab()


def tab_focus(s, index: int):
    s.focus_tab(int(index))


def tab_close(s):
    s.close_tab()


ACTIONS: dict[str, Callable[..., None]] = {fn.__name__: fn for fn in (
    noop, send_msg_to_user, report_infeasible, scroll, fill, clear, select_option, click, dblclick, hover, press,
    focus, drag_and_drop, mouse_move, mouse_down, mouse_up, mouse_click, mouse_dblclick, mouse_drag_and_drop,
    keyboard_press, keyboard_type, keyboard_down, keyboard_up, goto, go_back, go_forward, new_tab, tab_focus,
    tab_close)}
# Actions that end an episode (the agent gives up); BrowserGym records the reason as a message.
TERMINAL_ACTIONS = {"report_infeasible"}
ELEMENT_ARGS = {"bid", "from_bid", "to_bid"}


def _signature(name: str) -> inspect.Signature:
    params = list(inspect.signature(ACTIONS[name]).parameters.values())[1:]  # drop the session argument
    return inspect.Signature(params)


def parse_call(text: str) -> tuple[str, dict[str, Any]]:
    """`click("12", button="right")` -> ("click", {"bid": "12", "button": "right", "modifiers": ()})."""
    try:
        name, args, kwargs = call_syntax.parse_call(text, known=ACTIONS)
    except UnknownName as exc:
        raise ActionError(f"action {text!r}: unknown action {exc.name!r}; known: {', '.join(sorted(ACTIONS))}") \
            from None
    except CallSyntaxError as exc:
        raise ActionError(f"action {exc}") from None
    return name, bind(name, args, kwargs, text)


def bind(name: str, args: list, kwargs: dict, text: str = "") -> dict[str, Any]:
    try:
        bound = _signature(name).bind(*args, **kwargs)
    except TypeError as exc:
        raise ActionError(f"action {text or name!r}: {name}() {exc}") from None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    for key in ELEMENT_ARGS & set(arguments):
        arguments[key] = str(arguments[key])
    return {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()}


def format_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of an action: defaults left out, strings double-quoted as BrowserGym writes them."""
    params = _signature(name).parameters
    shown, skipped = [], False
    for key, param in params.items():
        value = arguments.get(key, param.default)
        default = list(param.default) if isinstance(param.default, tuple) else param.default
        if param.default is not inspect.Parameter.empty and value == default:
            skipped = True  # later arguments must then be named to keep their meaning
            continue
        literal = json.dumps(value, ensure_ascii=False)
        shown.append(f"{key}={literal}" if skipped else literal)
    return f"{name}({', '.join(shown)})"


def run(session, name: str, arguments: dict[str, Any]) -> None:
    ACTIONS[name](session, **arguments)
