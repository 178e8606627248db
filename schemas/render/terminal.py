"""Terminal screens: tmux `capture-pane -e` output (text with ANSI SGR and control sequences) -> plain screen text.

The bytes are replayed through a real terminal emulator (pyte) rather than stripped with a regex, so cursor moves,
carriage-return overwrites, erases and wide characters land where a terminal would put them.
"""

from __future__ import annotations

import math
import re

import pyte
from wcwidth import wcswidth

# Escape sequences take no cells on screen; removed only to measure how wide the content is when meta gives no size.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def _visible_width(line: str) -> int:
    plain = _ESCAPES.sub("", line).replace("\r", "")
    width = wcswidth(plain)
    # wcswidth is -1 when the line holds other control characters; count them as one cell each (an upper bound).
    return width if width >= 0 else len(plain)


def _screen_size(text: str, meta: dict) -> tuple[int, int]:
    lines = text.split("\n")
    widths = [_visible_width(line) for line in lines]
    cols = int(meta.get("cols") or 0) or max(max(widths, default=1), 1)
    # One screen row per captured line (more when a line wraps), so no captured line scrolls off the top, even for
    # a capture that includes history (`capture-pane -S -`).
    needed = sum(max(1, math.ceil(w / cols)) for w in widths)
    rows = max(int(meta.get("rows") or 0), needed, 1)
    return cols, rows


def render_terminal(raw: bytes, meta: dict) -> str:
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if text.endswith("\n"):
        # capture-pane ends every line with a newline; the last one would otherwise scroll the screen by a row.
        text = text[:-1]
    cols, rows = _screen_size(text, meta)
    screen = pyte.Screen(cols, rows)
    # capture-pane separates lines with a bare LF; LNM makes LF also return the carriage, as a tty's onlcr would.
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(text)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
