#!/usr/bin/env python3
"""Dump the AT-SPI accessibility tree of the desktop as JSON. Runs INSIDE the desktop container (Debian python3 +
gi.repository.Atspi), as the desktop user; `python3 atspi_dump.py` prints one dump, desktopd.py imports dump().

Every node gets an integer `id` in depth-first order; the host renders those ids and resolves click(id) against
the same dump, so an id always means "the node with that id in the observation the agent saw".
Every property read is a D-Bus round trip to the app (≈0.1 ms), so the dump reads as little as it can: subtrees
under a node that is not `showing` (collapsed menus, hidden pages) are cut off with `children_skipped`, and only
showing nodes get their extents, text, description and value.
"""

import json
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

MAX_NODES = 4000
MAX_DEPTH = 60
MAX_TEXT = 4000
WINDOW_ROLES = ("frame", "dialog", "window", "alert", "file chooser")
# GTK marks embedded child widgets inside text with U+FFFC; it carries no text.
OBJECT_REPLACEMENT = "\ufffc"


def _states(acc):
    return sorted(Atspi.StateType(s).value_nick for s in acc.get_state_set().get_states())


# An Accessible implements its interfaces directly (the interface list is cached, so checking it is free);
# a widget may vanish between two calls, and what it would have said is then simply left out.

def _text(acc):
    try:
        count = Atspi.Text.get_character_count(acc)
        return Atspi.Text.get_text(acc, 0, min(count, MAX_TEXT)).replace(OBJECT_REPLACEMENT, "")
    except Exception:
        return None


def _extents(acc):
    try:
        rect = Atspi.Component.get_extents(acc, Atspi.CoordType.SCREEN)
        return [rect.x, rect.y], [rect.width, rect.height]
    except Exception:
        return None, None


def _value(acc):
    try:
        return Atspi.Value.get_current_value(acc)
    except Exception:
        return None


class _Walker:
    def __init__(self):
        self.next_id = 0
        self.truncated = False
        self.focused = None
        self.active_window = None
        self.gail = False  # the app being walked is GTK2 (toolkit "GAIL"), whose open menus need extents

    def node(self, acc, depth, app_name, in_showing_menu=False):
        if self.next_id >= MAX_NODES:
            self.truncated = True
            return None
        node_id = self.next_id
        self.next_id += 1
        try:
            role = acc.get_role_name()
            name = acc.get_name() or ""
            states = _states(acc)
        except Exception as exc:  # defunct object: record that it was there
            return {"id": node_id, "role": "defunct", "name": "", "states": [], "error": str(exc)[:200]}
        node = {"id": node_id, "role": role, "name": name, "states": states}
        if depth <= 2:  # toolkit and window type; deeper GTK nodes only repeat the toolkit
            try:
                attributes = acc.get_attributes() or {}
            except Exception:
                attributes = {}
            if attributes:
                node["attributes"] = dict(sorted(attributes.items()))
        shown = "showing" in states
        if not shown and in_showing_menu and self.gail and "visible" in states:
            # GTK2 (gail) never sets `showing` on the items of an open popup menu; their extents tell: a closed
            # menu's items sit at -2^31, an open one's on screen. Marked as such rather than given a false state.
            position, size = _extents(acc)
            if position is not None and position[0] >= 0 and position[1] >= 0 and size[0] > 0 and size[1] > 0:
                node["shown_by_extents"] = shown = True
        if shown:
            # Each read is a D-Bus round trip to the app (≈0.1 ms when the machine is idle): only nodes a user
            # could see pay for extents, description, text and value.
            description = acc.get_description() or ""
            if description:
                node["description"] = description
            interfaces = set(acc.get_interfaces())
            if "Component" in interfaces:
                node["position"], node["size"] = _extents(acc)
            if "Text" in interfaces:
                text = _text(acc)
                if text:
                    node["text"] = text
            if "Value" in interfaces:
                value = _value(acc)
                if value is not None:
                    node["value"] = value
            if "Action" in interfaces:  # action names would cost a round trip each; that it acts is enough
                node["actionable"] = True
        if "focused" in states:
            self.focused = node_id
        if "active" in states and role in WINDOW_ROLES:
            # A dialog comes after its parent frame in the walk, and both can say `active`: the last one wins.
            self.active_window = {"id": node_id, "role": role, "name": name, "app": app_name}
        count = acc.get_child_count()
        if count <= 0:
            return node
        if not shown and depth > 1 or depth >= MAX_DEPTH:
            node["children_skipped"] = count
            return node
        children = []
        for index in range(count):
            try:
                child = acc.get_child_at_index(index)
            except Exception:
                continue
            if child is None:
                continue
            dumped = self.node(child, depth + 1, app_name, shown and role == "menu")
            if dumped is None:
                break
            children.append(dumped)
        node["children"] = children
        return node


def app_window_showing(app_name):
    """Whether `app_name` has a showing top-level window: a cheap check to poll while an app starts."""
    return _app_window_has(app_name, Atspi.StateType.SHOWING)


def app_window_active(app_name):
    """Whether a top-level window of `app_name` is active (has the keyboard focus the window manager gives)."""
    return _app_window_has(app_name, Atspi.StateType.ACTIVE)


def _app_window_has(app_name, state):
    desktop = Atspi.get_desktop(0)
    for index in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(index)
        try:
            if app is None or app.get_name() != app_name:
                continue
            for child_index in range(app.get_child_count()):
                window = app.get_child_at_index(child_index)
                if window is not None and window.get_state_set().contains(state):
                    return True
        except Exception:  # the app is still starting or already gone
            continue
    return False


def dump():
    """The whole desktop: one entry per accessible application, with its window tree."""
    started = time.perf_counter()
    desktop = Atspi.get_desktop(0)
    walker = _Walker()
    apps = []
    for index in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(index)
        if app is None:
            continue
        try:
            app_name = app.get_name() or ""
            pid = app.get_process_id()
            toolkit = app.get_toolkit_name() or ""
        except Exception:
            continue
        walker.gail = toolkit == "GAIL"
        node = walker.node(app, 1, app_name)
        if node is None:
            break
        node["pid"], node["toolkit"] = pid, toolkit
        apps.append(node)
    return {
        "format": "atspi-json/1",
        "apps": apps,
        "focused_id": walker.focused,
        "active_window": walker.active_window,
        "nodes": walker.next_id,
        "truncated": walker.truncated,
        "dump_ms": round((time.perf_counter() - started) * 1000, 2),
    }


if __name__ == "__main__":
    json.dump(dump(), sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")
