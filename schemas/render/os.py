"""Desktop observations: the AT-SPI tree JSON dumped by sandboxes/desktop/guest/atspi_dump.py, rendered as
OSWorld-style tab-separated lines (`tag name text class description position size`), one per node a user could see.

Kept nodes follow OSWorld's `judge_node` for Ubuntu: an interactive or content role, `showing` and `visible`,
`enabled` (or `editable`, `expandable`, `checkable`), a name or text, and on-screen extents. One role is added:
`page-tab` (OSWorld drops it), the only handle on a notebook's tabs, which the explorer clicks. Two columns are
added: the node `id` first (the id click(id) names; it indexes the same dump) and the salient `state` last, so a
toggled setting or moved focus shows in the text.
"""

from __future__ import annotations

import json

from schemas.render import RenderError

HEADER = "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate"
KEPT_TAGS = {"alert", "canvas", "check-box", "combo-box", "entry", "icon", "image", "paragraph", "scroll-bar",
             "section", "slider", "static", "table-cell", "terminal", "text", "spin-button", "page-tab"}
KEPT_SUFFIXES = ("item", "button", "heading", "label", "scrollbar", "searchbox", "textbox", "link", "tabelement",
                 "textfield", "textarea", "menu")
# OSWorld keeps a node only in one of these states: a greyed-out button is left out, a disabled check box stays.
USABLE_STATES = {"enabled", "editable", "expandable", "checkable"}
SALIENT_STATES = ("focused", "checked", "selected", "pressed", "expanded", "indeterminate")


def tag_of(role: str) -> str:
    """AT-SPI role name as OSWorld writes it as an XML tag: 'push button' -> 'push-button'."""
    return role.strip().replace(" ", "-")


def is_shown(node: dict) -> bool:
    """`showing` and `visible`, or found on screen by the dumper where the toolkit does not say (GTK2 menus)."""
    states = node.get("states") or []
    return "visible" in states and ("showing" in states or bool(node.get("shown_by_extents")))


def is_kept(node: dict) -> bool:
    tag = tag_of(node.get("role", ""))
    if not (tag.startswith("document") or tag.endswith(KEPT_SUFFIXES) or tag in KEPT_TAGS):
        return False
    if not is_shown(node) or USABLE_STATES.isdisjoint(node.get("states") or ()):
        return False
    if not (node.get("name") or node.get("text")):
        return False
    position, size = node.get("position"), node.get("size")
    if not position or not size:
        return False
    return position[0] >= 0 and position[1] >= 0 and size[0] > 0 and size[1] > 0


def _cell(value: str) -> str:
    # One node per line: newlines and tabs inside names or texts are written as escapes.
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _text_cell(text: str | None) -> str:
    # Terminals pad their text with empty rows below the prompt; they carry nothing.
    text = (text or "").rstrip("\n")
    if not text:
        return '""'
    return _cell(f'"{text.replace(chr(34), chr(34) * 2)}"' if '"' in text else text)


def _line(node: dict) -> str:
    x, y = node["position"]
    w, h = node["size"]
    states = node.get("states") or []
    state = ",".join(s for s in SALIENT_STATES if s in states)
    if "enabled" not in states and "sensitive" not in states:
        state = ",".join(filter(None, [state, "disabled"]))
    return "\t".join([
        f"[{node['id']}]", tag_of(node["role"]), _cell(node.get("name") or ""), _text_cell(node.get("text")),
        _cell((node.get("attributes") or {}).get("class", "")), _cell(node.get("description") or ""),
        f"({x}, {y})", f"({w}, {h})", state,
    ])


def walk(dump: dict):
    """Every node of the dump in depth-first (id) order, with the name of the application it belongs to."""
    stack = [(app, app.get("name", "")) for app in reversed(dump.get("apps") or [])]
    while stack:
        node, app = stack.pop()
        yield node, app
        stack.extend((child, app) for child in reversed(node.get("children") or []))


def parse_dump(raw: bytes) -> dict:
    try:
        dump = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RenderError(f"atspi-json: not valid JSON ({exc})") from exc
    if not isinstance(dump, dict) or not isinstance(dump.get("apps"), list):
        raise RenderError("atspi-json: expected an object with an 'apps' list (a dump from atspi_dump.py)")
    return dump


def render_atspi(raw: bytes, meta: dict) -> str:
    dump = parse_dump(raw)
    nodes = {}
    lines = []
    for node, _app in walk(dump):
        if not isinstance(node, dict) or "id" not in node:
            raise RenderError(f"atspi-json: a node without an id: {str(node)[:80]}")
        nodes[node["id"]] = node
        if is_kept(node):
            lines.append(_line(node))
    window = dump.get("active_window")
    focused = nodes.get(dump.get("focused_id"))
    head = [
        "focused window: " + (f"[{window['id']}] {tag_of(window['role'])} '{_cell(window['name'])}' "
                              f"({_cell(window.get('app', ''))})" if window else "none"),
        "focused element: " + (f"[{focused['id']}] {tag_of(focused['role'])} '{_cell(focused.get('name') or '')}'"
                               if focused else "none"),
    ]
    return "\n".join(head + [HEADER] + lines)
