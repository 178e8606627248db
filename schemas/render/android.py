"""Android view hierarchies (`uiautomator dump` XML) as a flattened view list, one element a line:

    [ 3] | android.widget.Button | res="com.app:id/ok" | text="OK" | bounds=[42,149][147,275] | clickable

Only nodes an agent can see or act on are listed: invisible, zero-size and layout-only nodes are dropped (their
children are kept). The `[i]` numbers are the element ids that android actions name (`tap(3)`), so the collector
resolves them with the same `flatten_uiautomator` that draws them here.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from schemas.render import RenderError

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")
# Flags shown after the bounds, in this order; `disabled` is the inverse of enabled="true".
_FLAGS = ("clickable", "long-clickable", "scrollable", "checkable", "checked", "focused", "selected", "password")
_INTERACTIVE = ("clickable", "long-clickable", "scrollable", "checkable", "focused", "selected")
# Classes that only arrange children: without text, description or an interaction they carry nothing an agent uses.
# CardView is a FrameLayout that draws a rounded, raised background: a container, whatever its resource id.
_LAYOUT_SUFFIXES = ("Layout", "ViewGroup", "ScrollView", "ListView", "GridView", "RecyclerView", "ViewPager",
                    "ViewFlipper", "ViewSwitcher", "ViewAnimator", "CardView")
_GENERIC_VIEW = "android.view.View"


@dataclass(frozen=True)
class ViewNode:
    index: int
    cls: str
    package: str
    res: str
    text: str
    desc: str
    bounds: tuple[int, int, int, int]
    flags: tuple[str, ...]
    enabled: bool
    hint: str = ""

    @property
    def center(self) -> tuple[int, int]:
        x1, y1, x2, y2 = self.bounds
        return (x1 + x2) // 2, (y1 + y2) // 2

    def has(self, flag: str) -> bool:
        return flag in self.flags


def _parse(raw: bytes) -> ET.Element:
    if not raw or not raw.strip():
        raise RenderError("uiautomator dump is empty")
    try:
        root = ET.fromstring(raw.removeprefix(b"\xef\xbb\xbf"))
    except ET.ParseError as exc:
        raise RenderError(f"uiautomator dump is not well-formed XML: {exc}") from exc
    if root.tag != "hierarchy":
        raise RenderError(f"uiautomator dump has root <{root.tag}>, expected <hierarchy>")
    if root.find("node") is None:
        raise RenderError("uiautomator dump has no <node> under <hierarchy> (an empty screen is not a valid dump)")
    return root


def _bounds(node: ET.Element) -> tuple[int, int, int, int] | None:
    match = _BOUNDS.fullmatch(node.get("bounds", ""))
    return tuple(int(v) for v in match.groups()) if match else None  # type: ignore[return-value]


def _is_layout_only(node: ET.Element, flags: tuple[str, ...]) -> bool:
    if node.get("text") or node.get("content-desc") or node.get("hint") or any(f in flags for f in _INTERACTIVE):
        return False
    cls = node.get("class", "")
    return not node.get("resource-id") or cls == _GENERIC_VIEW or cls.endswith(_LAYOUT_SUFFIXES)


def flatten_uiautomator(raw: bytes) -> list[ViewNode]:
    """The visible, meaningful nodes of a dump in document order, numbered from 0."""
    nodes: list[ViewNode] = []
    for node in _parse(raw).iter("node"):
        bounds = _bounds(node)
        if bounds is None or bounds[2] <= bounds[0] or bounds[3] <= bounds[1]:
            continue
        if node.get("visible-to-user") == "false":
            continue
        flags = tuple(f for f in _FLAGS if node.get(f) == "true")
        if _is_layout_only(node, flags):
            continue
        text, hint = node.get("text", ""), node.get("hint", "")
        if hint and text == hint:
            # An empty field reports its placeholder as its text (uiautomator has no showing-hint flag): shown as the
            # hint alone, so typing into the field reads as text appearing, not as the text changing.
            text = ""
        nodes.append(ViewNode(len(nodes), node.get("class", ""), node.get("package", ""),
                              node.get("resource-id", ""), text, node.get("content-desc", ""),
                              bounds, flags, node.get("enabled", "true") == "true", hint))
    return nodes


def rotation(raw: bytes) -> int:
    return int(_parse(raw).get("rotation") or 0)


def format_node(node: ViewNode) -> str:
    # The id is padded to two places whatever the screen's length, so an element's line does not change when an
    # unrelated element makes the list reach a hundred lines (ids 100 and up simply take more room).
    parts = [f"[{node.index:>2}]", node.cls or "?"]
    for key, value in (("res", node.res), ("text", node.text), ("hint", node.hint), ("desc", node.desc)):
        if value:
            parts.append(f"{key}={json.dumps(value, ensure_ascii=False)}")
    x1, y1, x2, y2 = node.bounds
    parts.append(f"bounds=[{x1},{y1}][{x2},{y2}]")
    flags = node.flags + (() if node.enabled else ("disabled",))
    if flags:
        parts.append(" ".join(flags))
    return " | ".join(parts)


def render_uiautomator(raw: bytes, meta: dict) -> str:
    return "\n".join(format_node(node) for node in flatten_uiautomator(raw))
