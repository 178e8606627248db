"""A phone's (android) elements as a trace tells them: by what identifies one, "[3] Button 'OK'" (its id, its class
without the package, its text, else its description, hint or resource id), not by its whole line of the view list
(schemas/render/android.py: `[ 3] | android.widget.Button | res="com.app:id/ok" | text="OK" | bounds=[42,149][147,275]
| clickable`), whose bounds, resource ids and flags a quote would repeat; a changed element by the fields that changed
("[5] CheckBox 'Wi-Fi' is now checked", "moves", "changes size"). The sentences are elements.py's (describer), so an
android trace counts and lists elements as a desktop's does.

And which app a screen shows, by the package its elements' resource ids name: the view list has no line for the
foreground package, but an app's own views carry its ids (`com.android.chrome:id/url_bar`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache, partial
from typing import NamedTuple

from transforms.reasoning._linediff import quote
from transforms.reasoning.elements import describer, joined, shows_clause, state_clauses

# A line as format_node writes it: the id padded to two places, the class, the JSON-quoted fields it has in this
# order (a text may hold " | " itself: each runs to its closing quote), the bounds, the flags.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_LINE = re.compile(rf"\[ *(\d+)\] \| ([^\s|]+)(?: \| res=({_STRING}))?(?: \| text=({_STRING}))?"
                   rf"(?: \| hint=({_STRING}))?(?: \| desc=({_STRING}))?"
                   rf" \| bounds=\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\](?: \| (.+))?")
# Flags that say what an element is now, listed with it; the others (clickable, scrollable, …) say what it can do,
# which its class mostly tells, and are told only where they change.
_SHOWN_STATES = ("checked", "focused", "selected", "disabled")
# A resource id's package: `res="com.android.chrome:id/url_bar"`. The framework's own ids (`android:id/title`, which
# Settings' rows use) name no app, nor do a vendor framework's (`vivo:id/main` on a vivo phone's Settings, whose
# nodes' package is com.android.settings: the trace said "brings vivo to the front"): an app's package name has a dot,
# as Android requires of every app's, and a framework's resource package has none.
_RES_PACKAGE = re.compile(r' \| res="([\w.]+):id/')
_PACKAGE = re.compile(r"\w+(?:\.\w+)+")
_FRAMEWORK = "android"
_RES = ' | res="'
_FRAMEWORK_RES = f'{_RES}{_FRAMEWORK}:id/'


class View(NamedTuple):
    element: str  # "[3]", without the padding
    cls: str  # without its package: "Button"
    res: str
    text: str
    hint: str
    desc: str
    bounds: tuple[int, int, int, int]
    flags: tuple[str, ...]


# A View from its fields without NamedTuple's keyword handling (a third of a line's parse).
_View = partial(tuple.__new__, View)


@lru_cache(maxsize=2048)
def view(line: str) -> View | None:
    """The fields of a line of the view list, its JSON strings decoded; None for a line that is not one. Cached: a
    line the next observation shows is the next step's state's, and most lines are shown unchanged step after step."""
    found = _LINE.fullmatch(line)
    if found is None:
        return None
    number, cls, res, text, hint, desc, x1, y1, x2, y2, flags = found.groups()
    if "\\" in line:
        quoted = tuple(map(_decoded, (res, text, hint, desc)))
        if None in quoted:
            return None
        res, text, hint, desc = quoted
    else:  # most lines: the fields are their quotes' insides
        res, text, hint, desc = (field[1:-1] if field else "" for field in (res, text, hint, desc))
    return _View(("[" + number + "]", cls[cls.rfind(".") + 1:], res, text, hint, desc,
                  (int(x1), int(y1), int(x2), int(y2)), tuple(flags.split()) if flags else ()))


def _decoded(field: str | None) -> str | None:
    """A JSON string field's value ("" where the line has none); None where it is not a string JSON reads."""
    if field is None:
        return ""
    try:
        value = json.loads(field)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _naming(element: View) -> tuple[str, str]:
    """What names an element, and how the name is introduced: its text, else its description, else its hint, else
    its resource id without the package ("settings_homepage_container")."""
    if element.text.strip():
        return "", element.text
    if element.desc.strip():
        return "described ", element.desc
    if element.hint.strip():
        return "with the hint ", element.hint
    return ("with the id ", element.res.rsplit("/", 1)[-1]) if element.res else ("", "")


def label(element: View) -> str:
    """"[4] TextView 'Settings'", "[2] ImageButton described 'Navigate up'", "[0] ScrollView with the id '…'"."""
    how, name = _naming(element)
    return f"{element.element} {element.cls}" + (f" {how}{quote(name)}" if name else "")


def _states(element: View) -> list[str]:
    states = [flag for flag in element.flags if flag in _SHOWN_STATES]
    if "checkable" in element.flags and "checked" not in element.flags:
        states.insert(0, "not checked")
    return states


def named_line(line: str) -> str:
    """An element as a list names it, "[5] CheckBox 'Wi-Fi' (checked)"; a line that is not one, quoted whole."""
    element = view(line)
    if element is None:
        return quote(line)
    states = _states(element)
    return label(element) + (f" ({', '.join(states)})" if states else "")


def _field_clause(noun: str, old: str, new: str) -> str:
    """"now has the id 'content_parent' instead of 'settings_homepage_container'", "loses its hint '…'"."""
    return (f"now has the {noun} {quote(new)} instead of {quote(old)}" if old and new else
            f"now has the {noun} {quote(new)}" if new else f"loses its {noun} {quote(old)}")


def changed(old_line: str, new_line: str) -> str:
    """How one element changed, by its fields: "[5] CheckBox 'Wi-Fi' is now checked", "[12] TextView 'Battery'
    moves"; lines that are not the view list's are quoted whole."""
    old, new = view(old_line), view(new_line)
    if old is None or new is None:
        return f"{quote(old_line)} becomes {quote(new_line)}"
    # An element whose name changed is named by its id and class: its label would say the new name before the
    # clause that tells it.
    renamed = _naming(old) != _naming(new)
    subject = (f"{new.element} {new.cls}" if renamed else label(new)) + \
        (f" (was {old.element})" if old.element != new.element else "")
    clauses = []
    if old.cls != new.cls:
        clauses.append(f"becomes a {new.cls}")
    if old.text != new.text:
        clauses.append(shows_clause(old.text, new.text))
    if old.desc != new.desc:
        clauses.append(f"is now described {quote(new.desc)} instead of {quote(old.desc)}" if old.desc and new.desc
                       else f"is now described {quote(new.desc)}" if new.desc else
                       f"loses its description {quote(old.desc)}")
    if old.hint != new.hint:
        clauses.append(_field_clause("hint", old.hint, new.hint))
    if old.res != new.res:
        was, now = old.res.rsplit("/", 1)[-1], new.res.rsplit("/", 1)[-1]
        # The same name under another package is told whole ('com.a:id/x' instead of 'com.b:id/x').
        clauses.append(_field_clause("id", *((old.res, new.res) if was == now else (was, now))))
    (x1, y1, x2, y2), (u1, v1, u2, v2) = old.bounds, new.bounds
    if (x1, y1) != (u1, v1):
        clauses.append("moves")
    if (x2 - x1, y2 - y1) != (u2 - u1, v2 - v1):
        clauses.append("changes size")
    clauses += state_clauses(list(old.flags), list(new.flags))
    if not clauses:
        # Equal fields from unequal lines (only the padding of the id or an escape differs): both are quoted.
        return f"{quote(old_line)} becomes {quote(new_line)}"
    return f"{subject} {joined(clauses)}"


# What appeared, disappeared and changed on a phone's screen, as line_diff pairs the lines (its describe).
view_sentences = describer(named_line, changed)


@lru_cache(maxsize=256)
def app(text: str) -> str | None:
    """The package whose resource ids name the most of a screen's elements, a framework's own (a package without a
    dot: android, vivo) left out; None where no app's ids are shown or two name as many. Cached: a next observation
    is the next step's state."""
    # Most screens show one app's ids and the framework's: counted by str.count, the first app's ids and the
    # framework's are all the ids (Counter over a findall cost ~11 us a screen, twice a row).
    at = text.find(_RES)
    while at >= 0 and text.startswith(_FRAMEWORK_RES, at):
        at = text.find(_RES, at + 1)
    end = text.find(":id/", at) if at >= 0 else -1
    if at < 0 or end < 0:
        return None
    first = text[at + len(_RES):end]
    if text.count(f"{_RES}{first}:id/") + text.count(_FRAMEWORK_RES) == text.count(_RES) and \
            _PACKAGE.fullmatch(first):
        return first
    counts = Counter(package for package in _RES_PACKAGE.findall(text) if "." in package)
    if not counts:
        return None
    (most, many), *rest = counts.most_common(2)
    return None if rest and rest[0][1] == many else most
