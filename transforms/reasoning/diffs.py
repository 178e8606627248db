"""What a unified diff an answer prints (swe's git_diff and submit) changes, told from its hunks alone: how many lines
each file loses and gains, and its first change where that is one line, "line 548 changes from 'd[item] += 2' to
'd[item] += 1'". The answer's own quotes are its first lines, the diff's headers, which say none of this."""

from __future__ import annotations

import re

from transforms.reasoning._linediff import quote

# A hunk's header: @@ -OLD_START[,OLD_COUNT] +NEW_START[,NEW_COUNT] @@.
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")
# A changed line this long or shorter is quoted whole; a longer one by the words that differ.
_WHOLE = 60


def _files(text: str) -> list[tuple[str, list[str]]]:
    """Each file of a unified diff (its `+++ b/` name, or `--- a/` for a file removed) and the lines of its hunks."""
    files: list[tuple[str, list[str]]] = []
    lines = text.split("\n")
    at = 0
    while at < len(lines):
        line = lines[at]
        if line.startswith("--- ") and at + 1 < len(lines) and lines[at + 1].startswith("+++ "):
            old, new = line[4:], lines[at + 1][4:]
            name = new[2:] if new.startswith("b/") else old[2:] if old.startswith("a/") else new
            files.append((name.split("\t")[0], []))
            at += 2
            continue
        if files and line.startswith(("@@ ", "+", "-", " ", "\\")):
            files[-1][1].append(line)
        elif files and not line and files[-1][1]:
            # A blank context line whose space the output dropped (a screen or a tool strips trailing whitespace).
            files[-1][1].append(" ")
        at += 1
    return files


def _changed(old: str, new: str) -> str:
    """How one line becomes another: whole where both are short, else by the words that differ (what lies between
    spaces), or by the text added to it or taken from it."""
    if len(old.strip()) <= _WHOLE and len(new.strip()) <= _WHOLE:
        return f"changes from {quote(old.strip())} to {quote(new.strip())}"
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    old_end, new_end = len(old) - end, len(new) - end
    if start == old_end:
        return f"gains {quote(new[start:new_end].strip())}"
    if start == new_end:
        return f"loses {quote(old[start:old_end].strip())}"
    start = max(old.rfind(" ", 0, start), new.rfind(" ", 0, start)) + 1
    while old_end < len(old) and not old[old_end].isspace():
        old_end += 1
    while new_end < len(new) and not new[new_end].isspace():
        new_end += 1
    return f"changes {quote(old[start:old_end].strip())} to {quote(new[start:new_end].strip())}"


def _first_change(hunks: list[str]) -> str | None:
    """The diff's first change where it is one line: "line 548 changes from '…' to '…'", "a line '…' is added
    after line 876", "line 40 '…' is removed"; None where the first change is longer (the counts tell it)."""
    old_line = 0
    at = 0
    while at < len(hunks):
        line = hunks[at]
        header = _HUNK.match(line)
        if header:
            old_line = int(header[1])
        elif line.startswith(("-", "+")):
            removed = []
            while at < len(hunks) and hunks[at].startswith("-"):
                removed.append(hunks[at][1:])
                at += 1
            added = []
            while at < len(hunks) and hunks[at].startswith("+"):
                added.append(hunks[at][1:])
                at += 1
            if (len(removed), len(added)) == (1, 1):
                return f"line {old_line} {_changed(removed[0], added[0])}"
            if (len(removed), len(added)) == (0, 1) and added[0].strip():
                return f"a line {quote(added[0].strip())} is added after line {old_line - 1}"
            if (len(removed), len(added)) == (1, 0) and removed[0].strip():
                return f"line {old_line} {quote(removed[0].strip())} is removed"
            return None
        elif line.startswith(" "):
            old_line += 1
        at += 1
    return None


def changed_files(text: str) -> list[str]:
    """The files diff_sentence tells, in its order: each file of the diff that has a hunk."""
    if "\n@@ -" not in text or "\n+++ " not in text:
        return []
    return [name for name, hunks in _files(text) if hunks]


def diff_sentence(text: str) -> str | None:
    """"The diff removes 1 line and adds 1 in toolz/itertoolz.py: line 548 changes from … to …." for an answer that
    holds a unified diff, else None. A diff of several files tells each file's counts, and the first file's change."""
    if "\n@@ -" not in text or "\n+++ " not in text:
        return None
    files = [(name, hunks) for name, hunks in _files(text) if hunks]
    if not files:
        return None
    told = []
    for name, hunks in files:
        removed = sum(1 for line in hunks if line.startswith("-"))
        added = sum(1 for line in hunks if line.startswith("+"))
        counts = [f"removes {removed} {'line' if removed == 1 else 'lines'}" if removed else "",
                  f"adds {added} {'line' if added == 1 else 'lines'}" if added else ""]
        told.append(f"{' and '.join(count for count in counts if count) or 'changes no line'} in {name}")
    replaced = _first_change(files[0][1])
    if replaced:
        told[0] += f": {replaced}" if len(told) == 1 else f" ({replaced})"
    return f"The diff {'; '.join(told)}."
