"""A pyte screen that keeps zero-width characters, as tmux does, instead of dropping the rest of the text.

pyte 0.8.2's `Screen.draw` keeps a zero-width character only when `unicodedata.combining` gives it a combining
class; at any other one (ZWJ, ZWSP, BOM, the emoji variation selector U+FE0F, Devanagari vowel signs, Hangul
jungseong: about 1,500 code points) it stops, and everything after it in that run of text, usually the rest of the
line, is lost. tmux (3.3a, in the sandboxes) adds such a character to the cell on its left, and `capture-pane`
writes it right after that cell's character, so attaching it there again reproduces tmux's screen.

Widths follow tmux 3.3a (probed: the column of the cursor after each kind), so later text keeps its column and a
line tmux fitted in the pane does not wrap here:
- a zero-width character takes no column; a variation selector does not widen its emoji (❤️ is one column);
- after a ZWJ, the next non-ASCII character joins the same cell: an emoji ZWJ sequence such as 👩‍💻 or 👩‍❤️‍👨
  takes the columns of its first character. An ASCII character after a ZWJ gets its own cell;
- pyte adds a combining mark after a wide character to the wide character's blank second cell, which its display
  skips; here it goes to the wide character itself (日 + U+0301 keeps the accent).
A cell keeps the code points tmux shows, not NFC-normalized as pyte's combining marks were (e + U+0301 stays two).
A zero-width character with nothing to its left (first column) is kept in front of the next character drawn there;
tmux drops it, but raw rows from elsewhere may start with a BOM, and keeping it costs nothing.
Control characters pyte has no function for (C0 such as \\x01, C1) take no cell, as in a terminal, and no longer
end the run either.
"""

from __future__ import annotations

import pyte
from wcwidth import wcwidth  # the function pyte 0.8.2 measures cells with (it wraps it in an lru_cache)

_ZWJ = "\u200d"
# Characters met so far that take one or two columns, so a run of only such characters goes to pyte's draw after a
# set check in C instead of a width lookup per character in Python. Starts as printable ASCII; bounded.
_DRAWN = set(map(chr, range(0x20, 0x7F)))
_DRAWN_MAX = 1 << 16


class ZeroWidthScreen(pyte.Screen):
    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines)
        self._join_next = False
        # Zero-width characters met in the first column: (y, x, text), put in front of the next character drawn there.
        self._prefix: tuple[int, int, str] | None = None

    def draw(self, data: str) -> None:
        if not (self._join_next or self._prefix) and _DRAWN.issuperset(data):
            # Nothing zero-width or joined: pyte's own draw is exact (and most runs are this).
            return super().draw(data)
        run_start = 0
        for i, char in enumerate(data):
            width = wcwidth(char)
            joins = self._join_next and not char.isascii() and self._cell_left() is not None
            self._join_next = False
            if width > 0 and not joins:
                if len(_DRAWN) < _DRAWN_MAX:
                    _DRAWN.add(char)
                continue
            self._draw(data[run_start:i])
            run_start = i + 1
            if width >= 0:
                self._attach(char)
                self._join_next = char == _ZWJ
        self._draw(data[run_start:])

    def _draw(self, run: str) -> None:
        if not run:
            return
        if self._prefix is None:
            return super().draw(run)
        y, x, text = self._prefix
        self._prefix = None
        if (self.cursor.y, self.cursor.x) != (y, x):
            # The cursor moved off the first column before any character came: no cell to keep the text in.
            return super().draw(run)
        super().draw(run[0])
        left = self._cell_left()
        if left is not None:
            line, at = left
            line[at] = line[at]._replace(data=text + line[at].data)
        super().draw(run[1:])

    def _cell_left(self):
        """The cell holding the character left of the cursor (a wide character, not its blank second cell)."""
        x = self.cursor.x
        if x == 0:
            return None
        line = self.buffer[self.cursor.y]
        if x >= 2 and line[x - 1].data == "":  # only a wide character's second cell holds ""
            x -= 1
        return line, x - 1

    def _attach(self, char: str) -> None:
        left = self._cell_left()
        if left is None:
            here = (self.cursor.y, self.cursor.x)
            kept = self._prefix[2] if self._prefix and self._prefix[:2] == here else ""
            self._prefix = (*here, kept + char)
            return
        line, at = left
        # Appended as is, not NFC-normalized as pyte does for combining marks: the capture holds what tmux shows,
        # and tmux keeps the code points it was sent (か + U+3099 stays two code points, e + U+0301 too).
        line[at] = line[at]._replace(data=line[at].data + char)

    @property
    def display(self) -> list[str]:
        # pyte's display asserts that a cell holds one character of width > 0 and takes the first for the cell's
        # width; a joined ZWJ sequence or a kept leading mark breaks both. Its blank second cell is skipped the same.
        def render(line):
            skip = False
            for x in range(self.columns):
                if skip:
                    skip = False
                    continue
                data = line[x].data
                if len(data) == 1:
                    skip = wcwidth(data) == 2
                else:
                    skip = next((w for w in map(wcwidth, data) if w > 0), 0) == 2
                yield data

        return ["".join(render(self.buffer[y])) for y in range(self.lines)]
