"""Terminal screens: tmux `capture-pane -e` output (text with ANSI SGR and control sequences) -> plain screen text.

Anything with cursor moves, carriage returns, erases, tabs or unusual characters is replayed through a real
terminal emulator (pyte), so every character lands where a terminal would put it. pyte costs tens of milliseconds
per screen, though, and most captures hold nothing but printable text and color (SGR) sequences; for those the
screen is computed directly — dropping SGR and wrapping at the width gives exactly what the replay gives
(tests/formats checks both paths agree).
"""

from __future__ import annotations

import math
import re

import pyte
from wcwidth import wcswidth, wcwidth

from schemas.render.terminal_screen import ZeroWidthScreen

# Sequences that change how cells look or link, never where text lands: SGR colors and OSC 8 hyperlinks.
_SGR = re.compile(r"\x1b\[[0-9;:]*m|\x1b\]8;[^\x07\x1b]*(?:\x07|\x1b\\)")
# Printable ASCII plus LF: one cell per character, so SGR removal and wrapping reproduce the screen exactly.
_PLAIN_ASCII = re.compile(r"[\x20-\x7e\n]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

# Escape sequences take no cells on screen; removed only to measure how wide the content is when meta gives no size.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def _visible_width(line: str) -> int:
    """At least the cells the line takes on the screen, so that sizing the screen by it never wraps the line."""
    plain = _ESCAPES.sub("", line).replace("\r", "")
    # Summed per character, as the screen draws: wcswidth reads 👍🏽, 🇺🇸 or a cut ZWJ sequence as one narrower
    # glyph, and a screen fitted to that wrapped the line and scrolled the first captured row off. A control
    # character counts one cell, a tab eight.
    if plain.isascii() and "\t" not in plain:
        return len(plain)
    return sum(w if w >= 0 else (8 if c == "\t" else 1) for c, w in zip(plain, map(wcwidth, plain)))


# The largest width and height a recorded size may give the screen. pyte renders every cell of it (rows x cols), so
# a meta_json claiming 10^8 x 10^8 never finished, and tmux's own limit (10,000) still takes minutes; no terminal an
# agent reads is wider or taller. Rows needed by the captured lines themselves (a capture with history) still count.
MAX_SIDE = 2_000


def _screen_size(text: str, meta: dict) -> tuple[int, int]:
    lines = text.split("\n")
    widths = [_visible_width(line) for line in lines]
    cols = min(int(meta.get("cols") or 0), MAX_SIDE) or min(max(max(widths, default=1), 1), MAX_SIDE)
    # One screen row per captured line (more when a line wraps), so no captured line scrolls off the top, even for
    # a capture that includes history (`capture-pane -S -`).
    needed = sum(max(1, math.ceil(w / cols)) for w in widths)
    rows = max(min(int(meta.get("rows") or 0), MAX_SIDE), needed, 1)
    return cols, rows


def _finish(lines: list[str]) -> str:
    # Spaces only, as tmux's plain capture trims: str.rstrip() also took a trailing NBSP or ideographic space.
    lines = [line.rstrip(" ") for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _replay(text: str, meta: dict) -> str:
    """The screen a terminal emulator shows after receiving `text`."""
    cols, rows = _screen_size(text, meta)
    # Not pyte.Screen: its draw drops the rest of a line at a zero-width character such as ZWJ or U+FE0F.
    screen = ZeroWidthScreen(cols, rows)
    # capture-pane separates lines with a bare LF; LNM makes LF also return the carriage, as a tty's onlcr would.
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(text)
    return _finish(screen.display)


def _plain_screen(plain: str, meta: dict) -> str | None:
    """The same screen computed directly, or None when only the emulator knows where everything lands."""
    lines = plain.split("\n")
    cols = min(int(meta.get("cols") or 0), MAX_SIDE)
    if _PLAIN_ASCII.fullmatch(plain):
        if not cols or all(len(line) <= cols for line in lines):
            return _finish(lines)
        return _finish([line[i:i + cols] for line in lines for i in range(0, max(len(line), 1), cols)])
    # Other text qualifies when every character takes one or two cells (no combining or zero-width marks, no
    # controls) and no line wraps: a wide character at the right edge wraps early, which only pyte reproduces.
    if _CONTROL.search(plain) or any(wcwidth(c) not in (1, 2) for c in set(plain) - {"\n"} if c > "\x7e"):
        return None
    if cols and any(wcswidth(line) > cols for line in lines):
        return None
    return _finish(lines)


def _decoded(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    # capture-pane ends every line with a newline; the last one would otherwise scroll the screen by a row.
    return text[:-1] if text.endswith("\n") else text


def render_terminal(raw: bytes, meta: dict) -> str:
    text = _decoded(raw)
    fast = _plain_screen(_SGR.sub("", text), meta)
    return fast if fast is not None else _replay(text, meta)
