"""The opening sentence of a phone's (android) trace: the action as the collector wrote it (collectors/android/
actions.py action_text: tap(3), type("hi"), key(back), swipe(3, up)), the element of the state it targets, named by
its id, class and text (views.label, as the line diff names it), and whether the next observation's screen changed
or which app came to the front. And the sentence after it, where the foreground activity changed: the package and
activity the collector recorded from dumpsys in the state's and the next observation's meta."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from transforms.reasoning._linediff import quote
from transforms.reasoning.views import app, label, view

# action_text's forms: a call whose arguments are bare words (key(back), swipe(up), open_app(com.x)), numbers, or
# JSON (a selector, a typed text).
_CALL = re.compile(r"(\w+)\((.*)\)", re.DOTALL)
_VERBS = {"tap": "Tapping", "long_press": "Long-pressing", "swipe": "Swiping", "scroll": "Scrolling"}


def _element(state: str, element: int) -> str | None:
    """How the state's element `element` is named, as the line diff names it (views.label): "[4] TextView 'Network &
    internet'", "[2] ImageButton described 'Navigate up'"; None where the state has no such line."""
    key = f"[{element:>2}] | "
    at = state.find(key)
    while at > 0 and state[at - 1] != "\n":
        at = state.find(key, at + 1)
    if at < 0:
        return None
    end = state.find("\n", at)
    found = view(state[at:end if end >= 0 else len(state)])
    return label(found) if found else None


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


@lru_cache(maxsize=512)
def _phone_call(action_text: str) -> tuple[str, str, int | None, str | None] | None:
    """What an action's call says without the state: its kind, how its subject is told around the element it
    targets (or whole, where it targets none: "{}" stands for the element), that element's id, and the text it
    types."""
    call = _CALL.fullmatch(action_text.strip())
    if call is None:
        return None
    kind, args = call[1], call[2].strip()
    if kind in ("tap", "long_press"):
        verb = _VERBS[kind]
        element = _number(args)
        if element is not None:
            return kind, f"{verb} {{}}", element, None
        point = [_number(part) for part in args.split(",")]
        if len(point) == 2 and None not in point:
            return kind, f"{verb} at ({point[0]}, {point[1]})", None, None
        try:
            selector = json.loads(args)
        except ValueError:
            return None
        if not isinstance(selector, dict) or not selector:
            return None
        shown = " and ".join(f"{key} {quote(str(value))}" for key, value in selector.items())
        return kind, f"{verb} the element with {shown}", None, None
    if kind in ("swipe", "scroll"):
        parts = [part.strip() for part in args.split(",")]
        element = _number(parts[0]) if len(parts) == 2 else None
        if element is not None:
            return kind, f"{_VERBS[kind]} {parts[1]} on {{}}", element, None
        return (kind, f"{_VERBS[kind]} {parts[0]}", None, None) if len(parts) == 1 and parts[0].isalpha() else None
    if kind == "type":
        try:
            typed = json.loads(args)
        except ValueError:
            return None
        return (kind, f"Typing {quote(typed)}", None, typed) if isinstance(typed, str) else None
    if kind == "key" and re.fullmatch(r"\w+", args):
        return kind, f"Pressing the {args.replace('_', ' ')} key", None, None
    if kind == "open_app" and args:
        return kind, f"Opening the app {quote(args)}", None, None
    if kind == "wait":
        return kind, "Waiting", None, None
    return None


def _apps(state: str, text: str) -> tuple[str, str] | None:
    """The app of the state and the one of the next screen where they differ (com.google.android.apps.nexuslauncher,
    com.android.settings), as the two screens' elements name them by their resource ids (views.app)."""
    before, after = app(state), app(text)
    return (before, after) if before and after and before != after else None


def phone_opening(state: str, text: str, action_text: str) -> str | None:
    """What an android action does: its verb and the element of the state it targets, then whether the screen
    changed, or which app came to the front; for typed text, whether an element now shows it. For an action that is
    not one of the collector's calls, only the app that came to the front, else None."""
    call = _phone_call(action_text)
    apps = _apps(state, text) if text != state else None
    if call is None:
        return f"The app {apps[1]} comes to the front in place of {apps[0]}." if apps else None
    kind, subject, element, typed = call
    if element is not None:
        subject = subject.replace("{}", _element(state, element) or f"element [{element}]", 1)
    if text == state:
        return f"{subject} changes nothing on the screen."
    if kind == "wait":
        # Waiting does nothing itself: the screen changed while the action waited (an app starting).
        return f"While waiting, the app {apps[1]} comes to the front in place of {apps[0]}." if apps else \
            "While waiting, the screen changes."
    told = f"{subject} brings {apps[1]} to the front in place of {apps[0]}" if apps else \
        f"{subject} changes the screen"
    if typed is not None:
        # The field's text, as the view list writes it (text="…"), matched whole.
        shown = f" | text={json.dumps(typed, ensure_ascii=False)} | "
        told += "; an element now shows the text" if shown in text and shown not in state else ""
    return told + "."


def opens(state: str, text: str, action_text: str) -> bool:
    """Whether phone_opening has a sentence for the step (the sentence after it goes first where it has none)."""
    return _phone_call(action_text) is not None or (text != state and _apps(state, text) is not None)


def _named(meta: dict, key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) and value else None


def foreground_sentence(state: str, text: str, before: dict, after: dict) -> str | None:
    """Which activity came to the front, as the collector recorded the state's and the next observation's from
    dumpsys (meta's `package`, and `activity` as dumpsys writes it: `.SubSettings`, short for a class of the package,
    else the class's whole name): "The foreground activity of com.android.settings changes from .Settings to
    .SubSettings.", or where the package changed too, both components as dumpsys names them
    (`com.android.settings/.Settings`). Where a side has no activity (the replay stand-in reports none: its
    recordings do not say), a package that changed is told only if the opening does not tell the same two apps from
    the screens' resource ids already. None where the foreground did not change, or a side has no package."""
    package, new_package = _named(before, "package"), _named(after, "package")
    if package is None or new_package is None:
        return None
    activity, new_activity = _named(before, "activity"), _named(after, "activity")
    if package == new_package:
        if activity is None or new_activity is None or \
                _whole(package, activity) == _whole(package, new_activity):
            return None
        return f"The foreground activity of {package} changes from {activity} to {new_activity}."
    if activity and new_activity:
        return f"The foreground activity changes from {package}/{activity} to {new_package}/{new_activity}."
    if text != state and _apps(state, text) == (package, new_package):
        return None
    return f"The foreground package changes from {package} to {new_package}."


def _whole(package: str, activity: str) -> str:
    # dumpsys shortens a class of the package to `.Name`: one activity, however it was written.
    return package + activity if activity.startswith(".") else activity
