"""A desktop's elements as a trace tells them: by what identifies one (its id, role and name, its text where short),
not by its whole row of the renderer's table (schemas/render/os.py: tab-separated cells with the coordinates), whose
tabs a quote shows escaped ('[31]\\ttext\\t\\t0\\t\\t\\t(481, 268)…'); and a changed element by the cells that changed
("[31] text shows '7' instead of '0' and is no longer focused"). Its sentences (describer, shows_clause,
state_clauses) tell a phone's view lines too (views.py), so the two read alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from transforms.reasoning._linediff import MAX_LISTED, quote

# The renderer's columns: id, tag, name, text, class, description, position, size, state.
_CELLS = 9
# _cell() of the renderer writes a backslash, a tab and line breaks inside a cell as these escapes.
_ESCAPE = re.compile(r"\\([\\tnr])")
_UNESCAPED = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
# A text this long or shorter is part of how an element is named in a list ("[87] text showing 'buy milk'"); a
# longer one (an editor's whole document) is told only where it changes.
SHORT_TEXT = 24


def _unescaped(cell: str) -> str:
    return _ESCAPE.sub(lambda found: _UNESCAPED[found[1]], cell) if "\\" in cell else cell


@lru_cache(maxsize=2048)
def cells(line: str) -> tuple[str, ...] | None:
    """The cells of a row of the desktop's table, unescaped, the text without its quoting (the renderer writes none
    as '""', and a text holding '"' in quotes with each doubled); None for a line that is not a row. Cached: a row
    the next observation shows is the next step's state's, and most rows are shown unchanged step after step."""
    row = line.split("\t")
    head = row[0]
    if len(row) != _CELLS or head[:1] != "[" or head[-1:] != "]" or not head[1:-1].isdecimal():
        return None
    text = row[3]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        row[3] = text[1:-1].replace('""', '"')
    # Most rows hold no escape at all.
    return tuple(map(_unescaped, row)) if "\\" in line else tuple(row)


def row_needles(name: str) -> tuple[str, ...]:
    """How a name is written as a row's name cell or text cell, between its tabs (schemas/render/os.py's _cell and
    _text_cell): a row that names it holds one of these."""
    cell = name.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    quoted = cell.replace('"', '""')
    return (f"\t{cell}\t",) if quoted == cell else (f"\t{cell}\t", f'\t"{quoted}"\t')


def _name(cell: str) -> str:
    """A name as a person reads it: mousepad pads its menu items' names with spaces ('Find      '), which a quote
    would keep."""
    return cell.strip() or cell


def label(row: tuple[str, ...]) -> str:
    """"[63] toggle-button '9'": the id, the role and the name, as the opening and the focus header name it."""
    name = _name(row[2])
    return f"{row[0]} {row[1]}" + (f" {quote(name)}" if name else "")


def shown(row: tuple[str, ...]) -> str:
    """An element as an action names it: its label, then its text when short and not its name ("[133] icon showing
    'Documents'": a file's icon has only a text, which a click by name matches too)."""
    text = row[3]
    return label(row) + (f" showing {quote(text)}" if text.strip() and text.strip() != _name(row[2]) and
                         len(text) <= SHORT_TEXT
                         else "")


def named(row: tuple[str, ...]) -> str:
    """An element as a list names it: as an action names it (shown), and its state."""
    return shown(row) + (f" ({row[8]})" if row[8] else "")


def _states(cell: str) -> list[str]:
    return [state for state in cell.split(",") if state]


def joined(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def shows_clause(old: str, new: str) -> str:
    """How an element's text changed: "shows '7' instead of '0'", "now shows …", "no longer shows …"."""
    return (f"shows {quote(new)} instead of {quote(old)}" if old and new else
            f"now shows {quote(new)}" if new else f"no longer shows {quote(old)}")


def state_clauses(was: list[str], now: list[str]) -> list[str]:
    """"is now checked", "is no longer focused and selected": the states gained, then those lost."""
    gained, lost = [state for state in now if state not in was], [state for state in was if state not in now]
    return ([f"is now {joined(gained)}"] if gained else []) + ([f"is no longer {joined(lost)}"] if lost else [])


def changed(old_line: str, new_line: str) -> str:
    """How one element changed, by its cells: "[31] text shows '7' instead of '0' and is no longer focused"; a row
    that is not the table's is quoted whole."""
    old, new = cells(old_line), cells(new_line)
    if old is None or new is None:
        return f"{quote(old_line)} becomes {quote(new_line)}"
    was_named, now_named = _name(old[2]), _name(new[2])
    # A row whose name changed is named by its id and role: its label would say the new name before the clause that
    # tells it. A name that is the row's text (a label "Sum = 0") is told once, by the text's clause.
    renamed = was_named != now_named
    subject = (f"{new[0]} {new[1]}" if renamed else label(new)) + (f" (was {old[0]})" if old[0] != new[0] else "")
    clauses = []
    if old[1] != new[1]:
        clauses.append(f"becomes a {new[1]}")
    if renamed and not (old[2] == old[3] and new[2] == new[3]):
        clauses.append(f"is now named {quote(now_named)} instead of {quote(was_named)}" if was_named and now_named
                       else f"is now named {quote(now_named)}" if now_named else f"loses its name {quote(was_named)}")
    if old[3] != new[3]:
        clauses.append(shows_clause(old[3], new[3]))
    for at, noun in ((4, "class"), (5, "description")):
        if old[at] != new[at]:
            clauses.append(f"now has the {noun} {quote(new[at])}" if new[at] else f"loses its {noun}")
    if old[6] != new[6]:
        clauses.append("moves")
    if old[7] != new[7]:
        clauses.append("changes size")
    clauses += state_clauses(_states(old[8]), _states(new[8]))
    if not clauses:
        # Equal cells from unequal rows: only an escape differs. Both rows are quoted, so the change can be seen.
        return f"{quote(old_line)} becomes {quote(new_line)}"
    return f"{subject} {joined(clauses)}"


def _listed(lines: list[str], verb: str, named_line: Callable[[str], str]) -> str:
    """"5 elements appear: [14] radio-menu-item 'Basic Mode' (checked), … and 2 more.", blank lines counted as
    line_diff counts them, not listed."""
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    count = len(lines)
    if not filled:
        return f"{count} blank element{'' if count == 1 else 's'} {verb}{'s' if count == 1 else ''}."
    shown = ", ".join(map(named_line, filled[:MAX_LISTED]))
    more = f" and {len(filled) - MAX_LISTED} more" + (" non-blank" if blank else "") \
        if len(filled) > MAX_LISTED else ""
    return (f"{count} element{'' if count == 1 else 's'} {verb}{'s' if count == 1 else ''}"
            f"{f' ({blank} blank)' if blank else ''}: {shown}{more}.")


def describer(named_line: Callable[[str], str], changed_line: Callable[[str, str], str]) \
        -> Callable[[list[str], list[str], list[tuple[str, str]]], list[str]]:
    """line_diff's describe for a screen whose lines are elements: what appeared, disappeared and changed, each
    element as named_line names it (its line quoted whole where it is not an element's) and each change as
    changed_line tells it. The counts are line_diff's lines, so they can be checked against the two screens."""
    def describe(added: list[str], removed: list[str], pairs: list[tuple[str, str]]) -> list[str]:
        sentences = []
        if added:
            sentences.append(_listed(added, "appear", named_line))
        if removed:
            sentences.append(_listed(removed, "disappear", named_line))
        if pairs:
            told = "; ".join(changed_line(old, new) for old, new in pairs[:MAX_LISTED])
            more = f" and {len(pairs) - MAX_LISTED} more" if len(pairs) > MAX_LISTED else ""
            sentences.append(f"{len(pairs)} element{'' if len(pairs) == 1 else 's'} "
                             f"change{'s' if len(pairs) == 1 else ''}: {told}{more}.")
        return sentences
    return describe


def _named_line(line: str) -> str:
    row = cells(line)
    return named(row) if row else quote(line)


# What appeared, disappeared and changed on a desktop, as line_diff pairs the rows (its describe).
element_sentences = describer(_named_line, changed)
