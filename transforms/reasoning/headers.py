"""The header lines a web page or a desktop screen starts with (URL, title, tabs, focus, the action's error, the
desktop table's columns): each field's prefix and how a trace tells it changed, appeared or went, as line_diff takes
them; and the prefixes that tell a web observation's header from its tree."""

from __future__ import annotations

# The header lines a web or desktop observation starts with (schemas/render/web.py, schemas/render/os.py): where the
# page is, its tabs, what has focus, the action's error, the table's columns. They are not elements of the tree, so
# line_diff tells each by name ("the URL becomes '…/status'", not "3 elements change: 'URL: …'") and counts only the
# tree's lines. Each field: the prefix of its line, what the trace calls it, whether that noun is plural, and what is
# said when the line holds the desktop renderer's "none" (schemas/render/os.py), which names nothing: "no element has
# focus", not "the focused element becomes 'none'". A web page leaves its Focused line out instead.
_HEADER_FIELDS = {
    "web": (("URL:", "the URL", False), ("Title:", "the title", False), ("Tabs:", "the tabs", True),
            ("Focused:", "the focused element", False), ("Error:", "the action error", False)),
    "os": (("focused window:", "the focused window", False, "no window has focus"),
           ("focused element:", "the focused element", False, "no element has focus"),
           ("id\ttag\t", "the column header", False)),
}


def _header_field(prefix: str, noun: str, plural: bool, nothing: str | None = None) -> tuple[str, ...]:
    """A field as line_diff takes it: its prefix, then how it is told when its value changed, when it appeared (both
    followed by the new value quoted), and when it went; and, for a field shown as "none" when nothing fills it,
    that value and what is said instead."""
    told = (prefix, f"{noun} {'become' if plural else 'becomes'} ", f"{noun} {'are' if plural else 'is'} now ",
            f"the header no longer shows {noun}")
    return told + ("none", nothing) if nothing else told


HEADERS = {domain: tuple(_header_field(*field) for field in fields) for domain, fields in _HEADER_FIELDS.items()}
# A web observation's header lines start with these; its tree starts at the first line that does not.
WEB_PREFIXES = tuple(prefix + " " for prefix, *_ in _HEADER_FIELDS["web"])
