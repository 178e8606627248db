r"""Playwright aria snapshots (`locator.aria_snapshot()`, YAML; `mode="ai"` adds `[ref=eN]` ids) -> the web
renderer's `[ref] role 'name', props` lines.

    - main [ref=e8]:                              [e8] main ''
      - paragraph [ref=e11]: Welcome back.    ->  \tStaticText 'Welcome back.'
      - textbox "Name" [ref=e14]: ada             \t[e14] textbox 'Name', value='ada'
      - button "Buy" [disabled] [ref=e19]         \t[e19] button 'Buy', disabled=true

Each entry becomes a node shaped like CDP's (role, name, value, properties, children) and the tree goes through
schemas/render/web.py's tree_lines, so an aria snapshot and a CDP tree of one page are flattened by the same rules:
unnamed generic wrappers and static text its parent already says are dropped, their children kept one level up.
An entry's inline text is the value of a field (textbox, combobox, ...) and a text child of anything else, as in
CDP's tree. Link targets and other `/prop:` lines are left out, as the CDP rendering leaves them out.
"""

from __future__ import annotations

import json
import re

import yaml

from schemas.render import RenderError
from schemas.render.web import tree_lines

# Every scalar a string: a YAML 1.1 loader would read a text "yes" or "1.0" as a bool or a number.
_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
# `role "name" [attr] [attr=value]`; a name is a JSON string.
_ENTRY = re.compile(r'(?P<role>[A-Za-z][\w-]*)(?: (?P<name>"(?:[^"\\]|\\.)*"))?(?P<attrs>(?: \[[^\]]*\])*)')
_ATTR = re.compile(r"\[([\w-]+)(?:=([^\]]*))?\]")
# Roles whose inline text is what the field holds, not text they show.
VALUE_ROLES = {"textbox", "searchbox", "combobox", "spinbutton", "slider", "progressbar", "meter", "scrollbar"}
# Attributes that are not the element's state: `active` is focus (shown as CDP's `focused` flag), `ref` its id.
_NOT_PROPERTIES = {"ref", "cursor", "active"}


def render_aria(raw: bytes, meta: dict) -> str:
    try:
        entries = yaml.load(raw, Loader=_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise RenderError(f"aria-yaml observation is not a YAML aria snapshot: {' '.join(str(exc).split())}") \
            from None
    if entries is None:
        return ""
    if not isinstance(entries, list):
        raise RenderError("aria-yaml observation is not a list of entries (expected Playwright's aria_snapshot())")
    nodes = _nodes(entries)
    refs = {node["backendDOMNodeId"]: node["backendDOMNodeId"] for node in nodes if "backendDOMNodeId" in node}
    return "\n".join(tree_lines(nodes, refs))


def _nodes(entries: list) -> list[dict]:
    """CDP-shaped nodes of the entries, parents before children (an explicit stack: a deep page must not hit
    Python's recursion limit)."""
    nodes: list[dict] = []
    stack = [(entry, None) for entry in reversed(entries)]
    while stack:
        entry, parent = stack.pop()
        key, value = _key_value(entry)
        if key.startswith("/"):
            continue
        node = {"nodeId": str(len(nodes)), "childIds": []}
        if parent is not None:
            node["parentId"] = parent["nodeId"]
            parent["childIds"].append(node["nodeId"])
        nodes.append(node)
        if key == "text":
            node.update(role={"value": "StaticText"}, name={"value": value if isinstance(value, str) else ""})
            continue
        _describe(node, key)
        if isinstance(value, list):
            stack += [(child, node) for child in reversed(value)]
        elif value and node["role"]["value"] in VALUE_ROLES:
            node["value"] = {"value": value}
        elif value:
            stack.append(({"text": value}, node))
    return nodes


def _key_value(entry) -> tuple[str, object]:
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict) and len(entry) == 1:
        [(key, value)] = entry.items()
        return key, value
    raise RenderError(f"aria-yaml entry {json.dumps(entry)[:80]} is neither `role \"name\" [attrs]` nor a "
                      "one-key mapping of it")


def _describe(node: dict, key: str) -> None:
    """Role, name, id and properties of an entry key such as `checkbox "Agree" [checked] [ref=e16]`."""
    match = _ENTRY.fullmatch(key)
    if match is None:
        raise RenderError(f"aria-yaml entry {key[:80]!r} is not `role \"name\" [attrs]`")
    node["role"] = {"value": match["role"]}
    if match["name"]:
        node["name"] = {"value": json.loads(match["name"])}
    attrs = dict(_ATTR.findall(match["attrs"]))
    if attrs.get("ref"):
        node["backendDOMNodeId"] = attrs["ref"]
    properties = [{"name": name, "value": {"value": value or True}} for name, value in attrs.items()
                  if name not in _NOT_PROPERTIES]
    if "active" in attrs:
        properties.append({"name": "focused", "value": {"value": True}})
    if properties:
        node["properties"] = properties
