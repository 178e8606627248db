"""What a unified diff an answer prints (swe's git_diff and submit) or a terminal command shows (`git diff`, `git
show`, `git log -p`: terminal_diff, where the screen holds it whole or cuts it off inside a hunk) changes, told from
its hunks alone: how many lines each file loses and gains, and its first change where that is one line, "line 548
changes from 'd[item] += 2' to 'd[item] += 1'". The answer's own quotes are its first lines, the diff's headers,
which say none of this."""

from __future__ import annotations

import re

from transforms.reasoning._linediff import quote

# A hunk's header: @@ -OLD_START[,OLD_COUNT] +NEW_START[,NEW_COUNT] @@.
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")
# A changed line this long or shorter is quoted whole; a longer one by the words that differ.
_WHOLE = 60


def _name(old_header: str, new_header: str) -> str:
    """A file's name from its `--- a/` and `+++ b/` lines: the new one's, or the old one's for a file removed."""
    old, new = old_header[4:], new_header[4:]
    name = new[2:] if new.startswith("b/") else old[2:] if old.startswith("a/") else new
    return name.split("\t")[0]


def _files(text: str) -> list[tuple[str, list[str]]]:
    """Each file of a unified diff (its `+++ b/` name, or `--- a/` for a file removed) and the lines of its hunks."""
    files: list[tuple[str, list[str]]] = []
    lines = text.split("\n")
    at = 0
    while at < len(lines):
        line = lines[at]
        if line.startswith("--- ") and at + 1 < len(lines) and lines[at + 1].startswith("+++ "):
            files.append((_name(line, lines[at + 1]), []))
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


def _counts(hunks: list[str]) -> str:
    """How many lines some hunks remove and add: "removes 1 line and adds 2 lines"."""
    removed = sum(1 for line in hunks if line.startswith("-"))
    added = sum(1 for line in hunks if line.startswith("+"))
    counts = [f"removes {removed} {'line' if removed == 1 else 'lines'}" if removed else "",
              f"adds {added} {'line' if added == 1 else 'lines'}" if added else ""]
    return " and ".join(count for count in counts if count) or "changes no line"


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
    return _whole_sentence([(name, hunks) for name, hunks in _files(text) if hunks])


def _whole_sentence(files: list[tuple[str, list[str]]]) -> str | None:
    """diff_sentence's sentence for the files of a diff that have hunks."""
    if not files:
        return None
    told = [f"{_counts(hunks)} in {name}" for name, hunks in files]
    replaced = _first_change(files[0][1])
    if replaced:
        told[0] += f": {replaced}" if len(told) == 1 else f" ({replaced})"
    return f"The diff {'; '.join(told)}."


# A hunk's header with its old start and its counts: a count left out is 1.
_HUNK_COUNTS = re.compile(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
# git's extended header lines between `diff --git` and `---`: diff_sentence does not read them.
_EXTENDED = ("diff --git ", "index ", "new file mode ", "deleted file mode ", "old mode ", "new mode ",
             "similarity index ", "dissimilarity index ", "rename from ", "rename to ", "copy from ", "copy to ",
             "Binary files ")
# The last character of the shell's prompt, which returns after the diff (openings._PROMPT_ENDS, but '>', which a
# diff's own lines may end with).
_PROMPT_ENDS = ("#", "$", "%")


# What _hunk_end returns where the lines end inside the hunk: the screen's bottom cut it off.
_CUT = -1
# less's prompt while more of its input follows below the page (git's pager).
_PAGER_MORE = ":"
# util-linux more's prompt, as a recorded screen shows it (reverse video dropped): '--More--' where it reads a pipe
# (`git diff | more`, GIT_PAGER=more), '--More--(48%)' where it reads a file. It starts with '-', so a hunk cut off
# above it would take it for a removed line.
_MORE_PROMPT = re.compile(r"--More--(?:\(\d{1,3}%\))?")
# man's less prompt (man-db's LESS -Pm, which any less run under that LESS shows): ' Manual page git-diff(1) line 1
# (press h for help or q to quit)', or '… line 1/13 (END) (press …)' at the input's end. It starts with a space, so a
# hunk would take it for a context line.
_MAN_PROMPT = re.compile(r" Manual page \S.* (?:line|byte) \d+(?:/\d+)?( \(END\)| \d+%)? \(press h for help or q to "
                         r"quit\)")


def pager_prompt(line: str) -> bool | None:
    """Whether a screen's last line is a pager's prompt and more of its input follows (True: less's ':', more's
    '--More--', man's prompt) or it ended (False: man's prompt with '(END)'); None for any other line. less's and
    more's own '(END)' are _ended's: a diff's end is read from them, not a cut."""
    line = line.rstrip()
    if line == _PAGER_MORE or _MORE_PROMPT.fullmatch(line):
        return True
    man = _MAN_PROMPT.fullmatch(line)
    return None if man is None else man[1] != " (END)"


def _hunk_end(lines: list[str], at: int, old: int, new: int) -> int | None:
    """Where a hunk whose body starts at `at` ends, as its header's counts say; _CUT where the lines end first; None
    where a line does not fit it (a long line the terminal wrapped, or a prompt after a hunk `head` cut)."""
    while old > 0 or new > 0:
        if at >= len(lines):
            return _CUT
        line = lines[at]
        if line.startswith("-"):
            old -= 1
        elif line.startswith("+"):
            new -= 1
        elif line.startswith(" ") or not line:
            # A blank context line shows as an empty one: a screen drops trailing spaces.
            old, new = old - 1, new - 1
        elif not line.startswith("\\"):
            return None
        if old < 0 or new < 0:
            return None
        at += 1
    while at < len(lines) and lines[at].startswith("\\ "):  # "\ No newline at end of file"
        at += 1
    return at


def _read(lines: list[str]) -> tuple[list[str], int, tuple[str, int] | None] | None:
    """The first unified diff in the lines, from their first: its headers and whole hunks, the line after them, and,
    where the lines end inside a hunk (its header's counts not met), that hunk's file and old start line. None where
    its start may be above the lines (a hunk's lines before its first header) or a hunk's lines do not fit it."""
    start = None
    for at, line in enumerate(lines):
        if line.startswith("--- ") and at + 1 < len(lines) and lines[at + 1].startswith("+++ "):
            start = at
            break
        if line.startswith(("@@ ", "+", "-")):
            return None
    if start is None:
        return None
    kept: list[str] = []
    at = start
    while at < len(lines):
        line = lines[at]
        if line.startswith("--- ") and at + 1 < len(lines) and lines[at + 1].startswith("+++ "):
            name = _name(line, lines[at + 1])
            kept += lines[at:at + 2]
            at += 2
            header = _HUNK_COUNTS.match(lines[at]) if at < len(lines) else None
            while header:
                end = _hunk_end(lines, at + 1, int(header[2] or 1), int(header[3] or 1))
                if end is None:
                    return None
                if end == _CUT:
                    return kept, at, (name, int(header[1]))
                kept += lines[at:end]
                at = end
                header = _HUNK_COUNTS.match(lines[at]) if at < len(lines) else None
        elif line.startswith(_EXTENDED):
            at += 1
        else:
            break
    return kept, at, None


def shown_diff(lines: list[str]) -> str | None:
    """The unified diff in a command's output (`git diff`, `git show`, `git log -p`, `diff -u`), from its first line:
    its headers and hunks, for diff_sentence, where the lines show it whole. None where its start may be above them (a
    hunk's lines before its first header), a hunk is not whole (its header's counts), or nothing after its last hunk
    shows that it ended: only the shell's prompt, a pager's '(END)' or the next commit of `git log -p` does. Only the
    first diff is read: `git log -p` shows one a commit."""
    read = _read(lines)
    return "\n".join(read[0]) if read and read[2] is None and _ended(lines, read[1]) else None


def _ended(lines: list[str], at: int) -> bool:
    """Whether the line after a diff's last hunk shows the diff ended: a long last line the terminal wrapped leaves
    its rest after a hunk whose counts it fits, and less's ':' says more follows. more pads a page its input ended
    on with blank lines down to its '(END)' at the screen's last line, and less painting from the top (-c) with
    '~' rows: a diff ends with a hunk, never a blank line nor a '~' one."""
    end = lines[at].rstrip() if at < len(lines) else ""
    if end in ("", "~") and at < len(lines) - 1 and all(line.rstrip() == end for line in lines[at:-1]):
        last = lines[-1].rstrip()
        return last == "(END)" or pager_prompt(last) is False
    return end == "(END)" or pager_prompt(end) is False or end.startswith("commit ") or end.endswith(_PROMPT_ENDS)


def _cut_sentence(kept: list[str], name: str, old: int, paged: str | None) -> tuple[str, list[str]]:
    """What a diff cut off inside a hunk shows: each file above the cut as diff_sentence tells it, the cut hunk's
    file by its hunks above the cut alone (the rest of it is below), and where the cut hunk starts."""
    files = [(file, hunks) for file, hunks in _files("\n".join(kept)) if hunks]
    told = []
    for file, hunks in files:
        if file == name:
            whole = sum(1 for line in hunks if line.startswith("@@ "))
            told.append(f"{_counts(hunks)} in {'the first hunk' if whole == 1 else f'the first {whole} hunks'} of "
                        f"{file}")
        else:
            told.append(f"{_counts(hunks)} in {file}")
    replaced = _first_change(files[0][1]) if files else None
    if replaced:
        told[0] += f" ({replaced})"
    # The old file's line, as the whole diff's sentence numbers them; a hunk from line 0 adds to an empty file.
    place = f"line {old}" if old else "the top"
    cut = f"shows the start of a hunk at {place} of {name}, cut off at the screen's bottom" + (
        f", above the pager's {quote(paged)}" if paged else "")
    names = list(dict.fromkeys([file for file, _ in files] + [name]))
    return f"The diff {'; '.join(told)}, then {cut}." if told else f"The diff {cut}.", names


def terminal_diff(lines: list[str]) -> tuple[str, list[str]] | None:
    """The sentence for the diff a command's output shows below it, and the files that sentence names: diff_sentence's
    where the lines show the diff whole (shown_diff); where they end inside a hunk, at the screen's bottom or above a
    pager's prompt that says more follows (less's ':', more's '--More--', man's), the hunks above the cut and where
    the cut one starts. None otherwise: such a prompt after a whole hunk leaves unknown whether the next is the same
    file's. The prompt itself is never read as a line of the diff."""
    prompt = pager_prompt(lines[-1]) if lines else None
    paged = lines[-1].strip() if prompt else None
    # A prompt saying the input ended is set aside too: a man-style one starts with a space, a context line's mark.
    read = _read(lines[:-1] if prompt is not None else lines)
    if read is None:
        return None
    kept, at, cut = read
    if cut is not None:
        # A prompt saying the input ended below a hunk not whole: a line the terminal wrapped, not a cut.
        return _cut_sentence(kept, *cut, paged) if prompt is not False else None
    if paged or not _ended(lines, at):
        return None
    files = [(name, hunks) for name, hunks in _files("\n".join(kept)) if hunks]
    return (_whole_sentence(files), [name for name, _ in files]) if files else None
