"""Web observations: the CDP accessibility tree flattened to BrowserGym-style text, under a short page header.

`raw` is the JSON bundle the browser sandbox captured: url, title, tabs, active_tab, focused_bid,
last_action_error, aria_snapshot (Playwright's), ax_tree (CDP Accessibility.getFullAXTree nodes) and bids
(backend DOM node id -> the `bid` attribute actions name). Output:

    URL: http://127.0.0.1:5000/cart
    Title: Cart - Northwind Shop
    Tabs: [0] Cart - Northwind Shop (active)
    Focused: [31] spinbutton 'Quantity of Aero 13', value='1'
    RootWebArea 'Cart - Northwind Shop', focused
    \t[12] heading 'Your cart', level=1
    \t[14] button 'Update Aero 13'

Like BrowserGym/WebArena it drops ignored nodes, unnamed generic wrappers and static text its parent already
says, keeping their children one level up.
"""

from __future__ import annotations

import json

from schemas.render import RenderError

SKIPPED_ROLES = {"none", "presentation", "LineBreak", "InlineTextBox"}
UNNAMED_WRAPPERS = {"generic", "group", "Section", "div", "paragraph"}
# Properties a reader needs to predict what an action does; layout-only ones are left out.
SHOWN_PROPERTIES = ("checked", "selected", "expanded", "pressed", "disabled", "required", "invalid", "level",
                    "multiselectable", "readonly")
FLAG_PROPERTIES = ("focused", "modal")


def _value(field) -> object:
    return field.get("value") if isinstance(field, dict) else field


def _line(node: dict, bid: str | None) -> str:
    role = _value(node.get("role")) or "unknown"
    name = str(_value(node.get("name")) or "")
    parts = [f"[{bid}] {role}" if bid is not None else str(role)]
    parts[0] += f" {name!r}" if name or role != "generic" else ""
    extras = []
    value = _value(node.get("value"))
    if value not in (None, "") and role not in ("StaticText", "RootWebArea"):
        extras.append(f"value={str(value)!r}")
    props = {p.get("name"): _value(p.get("value")) for p in node.get("properties") or [] if isinstance(p, dict)}
    for flag in FLAG_PROPERTIES:
        if props.get(flag) is True:
            extras.append(flag)
    for key in SHOWN_PROPERTIES:
        if key in props and props[key] not in (False, "false", None, ""):
            extras.append(f"{key}={str(props[key]).lower() if isinstance(props[key], bool) else props[key]}")
    return ", ".join([parts[0]] + extras)


def tree_lines(nodes: list[dict], bids: dict[str, str]) -> list[str]:
    """CDP-shaped accessibility nodes -> indented lines, one per node shown (the aria snapshot renderer builds
    such nodes too, so both trees are flattened by the same rules)."""
    by_id = {str(n["nodeId"]): n for n in nodes if isinstance(n, dict) and "nodeId" in n}
    roots = [n for n in by_id.values() if str(n.get("parentId", "")) not in by_id]
    lines: list[str] = []
    # Iterative depth-first walk: (node, depth, name of the nearest shown ancestor).
    stack = [(root, 0, "") for root in reversed(roots)]
    while stack:
        node, depth, parent_name = stack.pop()
        role = _value(node.get("role"))
        name = str(_value(node.get("name")) or "").strip()
        shown = not node.get("ignored") and role not in SKIPPED_ROLES
        if shown and role in UNNAMED_WRAPPERS and not name:
            shown = False
        if shown and role == "StaticText" and (not name or name in parent_name):
            shown = False
        if shown:
            bid = bids.get(str(node.get("backendDOMNodeId")))
            lines.append("\t" * depth + _line(node, bid))
        # What a shown node already says (name and value) is not repeated by its static text children.
        said = f"{name}\n{_value(node.get('value')) or ''}"
        child_depth, child_parent = (depth + 1, said) if shown else (depth, parent_name)
        for child_id in reversed(node.get("childIds") or []):
            child = by_id.get(str(child_id))
            if child is not None:
                stack.append((child, child_depth, child_parent))
    return lines


def _focused_line(nodes: list[dict], bids: dict[str, str], focused: str) -> str:
    for node in nodes:
        if not isinstance(node, dict) or node.get("ignored"):
            continue
        if bids.get(str(node.get("backendDOMNodeId"))) == focused:
            return _line(node, focused)
    return f"[{focused}]"


def render_web(raw: bytes, meta: dict) -> str:
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RenderError(f"web-json observation is not valid JSON: {exc}") from None
    if not isinstance(bundle, dict) or not isinstance(bundle.get("ax_tree"), list):
        raise RenderError("web-json observation has no 'ax_tree' list (expected the browser sandbox's bundle)")
    tabs = bundle.get("tabs") or []
    active = bundle.get("active_tab", 0)
    # The browser's own strings, not repr()s as tree names are: what the tab shows and goto() takes; Chromium keeps
    # a title to one line (docs/web.md, Observation).
    header = [f"URL: {bundle.get('url', '')}", f"Title: {bundle.get('title', '')}"]
    if tabs:
        header.append("Tabs: " + " | ".join(
            f"[{i}] {tab.get('title') or tab.get('url') or ''}" + (" (active)" if i == active else "")
            for i, tab in enumerate(tabs)))
    focused = bundle.get("focused_bid")
    if focused is not None:
        header.append(f"Focused: {_focused_line(bundle['ax_tree'], bundle.get('bids') or {}, str(focused))}")
    if bundle.get("last_action_error"):
        header.append(f"Error: {bundle['last_action_error']}")
    return "\n".join(header + tree_lines(bundle["ax_tree"], bundle.get("bids") or {}))


def render_cdp_axtree(raw: bytes, meta: dict) -> str:
    """A bare `Accessibility.getFullAXTree` result (`{"nodes": [...]}` or the node list), without the browser
    sandbox's page header. An element's id is meta["bids"][backendDOMNodeId] when meta maps them (as the sandbox's
    bundle does), else its backendDOMNodeId, which is stable for as long as the document lives."""
    try:
        tree = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RenderError(f"cdp-axtree-json observation is not valid JSON: {exc}") from None
    nodes = tree.get("nodes") if isinstance(tree, dict) else tree
    if not isinstance(nodes, list):
        raise RenderError("cdp-axtree-json observation has no node list (expected Accessibility.getFullAXTree's "
                          "result or its `nodes`)")
    bids = meta.get("bids")
    if not isinstance(bids, dict):
        bids = {str(node["backendDOMNodeId"]): str(node["backendDOMNodeId"]) for node in nodes
                if isinstance(node, dict) and node.get("backendDOMNodeId") is not None}
    return "\n".join(tree_lines(nodes, bids))
