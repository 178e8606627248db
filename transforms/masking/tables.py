"""The second passes over process tables: the pid and usage columns of ps, top, lsof and docker top output read
under their header (_table_spans), of ps aux and ps -ef rows printed without it (_ps_row_spans), and the padding
that right-aligned columns give their values (_padded, _padded_field).
"""

from __future__ import annotations

import re

from transforms.masking.rules import _D, _MONTH


# ---- process tables: the pid columns of ps, top, lsof, docker top ----------------------------------------------
# No line says that the 18 of "root  18  0.0  0.0 2920 1744 pts/0 S 01:30 0:00 sleep 1000" is a pid: its table's
# header does. So the rules (rules.py) cannot find it, being line-local, and a second pass does, on each text where
# the C pass saw "PID" before a space, "=" or ":" (see core._masked_group): it finds header lines (upper-case column
# names only, one of them a pid column) and masks the pid columns' values in the rows under them. A row is read as
# whitespace-separated fields, the n-th under the n-th name: the columns before a pid column hold one word each in
# ps, top, lsof and docker top output, and a value wider than its column (a long user name) still counts right.
# The table ends at the first line whose field under the first pid column is not a number (the next prompt, a blank
# line), except for a row the terminal wrapped: a line under a row that is as long as the longest line of the text
# (the screen's width) may be the row's continuation, and the rows after it go on only if their pid ends in the same
# column as the last row's (ps and top right-align it), so the output of a command after a truncated row is not read
# as rows. The same rows' CPU, memory and time columns are masked too, as "usage": they move with the machine's load
# (a process's RSS differs by some pages from run to run of the same command). A time column's value is cumulative
# CPU time (TIME, TIME+) or time since the start (ELAPSED), "[DD-]hh:mm:ss" as ps prints both: the digits rule reads
# "00:00:01" as a clock time, so the column's usage span replaces a rule's time span inside it (see
# core._with_second_passes).
_PID_COLUMNS = ("PID", "PPID", "PGID", "SID", "TPGID", "LWP", "SPID", "TGID")
_USAGE_COLUMNS = ("%CPU", "%MEM", "C", "CPU", "VSZ", "RSS", "SZ", "VIRT", "RES", "SHR", "START", "STIME", "TIME",
                  "TIME+", "ELAPSED")
# A figure, or ps's "1-02:03:04" (a day and a time) and "Nov26" (a start before today, as the ps_row pass reads it).
_USAGE_VALUE = re.compile(rf"(?:[0-9]+-)?[0-9][0-9.:,]*[kmgtpKMGTP]?|{_MONTH}[0-9]{{2}}")
_HEADER_NAME = r"[A-Z%][A-Z0-9%+_/:.()-]*"
_TABLE_HEADER = re.compile(rf"^[ \t]*(?:{_HEADER_NAME}[ \t]+)*(?:{'|'.join(_PID_COLUMNS)})(?:[ \t]+{_HEADER_NAME})*"
                           r"[ \t\r]*$", re.MULTILINE)
_FIELD = re.compile(r"\S+")
_PID_VALUE = re.compile(r"[0-9]{1,7}")


def _table_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each value in a pid ("pid") or usage ("usage") column of a process table in text."""
    spans, width = [], None
    for header in _TABLE_HEADER.finditer(text):
        names = header.group().split()
        columns = [k for k, name in enumerate(names) if name in _PID_COLUMNS]
        # Not the last column: a command line there may hold any words.
        usage = [k for k, name in enumerate(names[:-1]) if name in _USAGE_COLUMNS]
        first, pid_column, wrapped = columns[0], None, False
        line_start, previous_length = header.end() + 1, len(header.group())
        while line_start <= len(text):
            line_end = text.find("\n", line_start)
            line_end = len(text) if line_end < 0 else line_end
            fields = [field.span() for field in _FIELD.finditer(text, line_start, line_end)]
            if (len(fields) > first and _PID_VALUE.fullmatch(text, *fields[first])
                    and (not wrapped or fields[first][1] - line_start == pid_column)):
                spans += [(*_padded_field(fields, k, line_start), "pid") for k in columns
                          if k < len(fields) and _PID_VALUE.fullmatch(text, *fields[k])]
                spans += [(*_padded_field(fields, k, line_start), "usage") for k in usage
                          if k < len(fields) and _USAGE_VALUE.fullmatch(text, *fields[k])]
                pid_column, wrapped = fields[first][1] - line_start, False
            elif pid_column is not None and previous_length >= (width := width or _width(text)):
                wrapped = True
            else:
                break
            previous_length = len(text[line_start:line_end].rstrip("\r"))
            line_start = line_end + 1
    return spans


def _padded_field(fields: list[tuple[int, int]], k: int, line_start: int) -> tuple[int, int]:
    """The span of the k-th of a line's fields with the padding before it (see _padded): from the space after the
    field before, or from the line's start."""
    return fields[k - 1][1] + 1 if k else line_start, fields[k][1]


def _width(text: str) -> int:
    """The length of the longest line of text: a screen's width, if a line filled it."""
    return max(len(line.rstrip("\r")) for line in text.split("\n"))


# ---- process rows without their header: ps aux | grep, ps -ef | grep --------------------------------------------
# `ps aux | grep sleep` prints the rows without the header that _table_spans reads them under. A row is still
# unambiguous when the whole line has the column shape of ps aux (or ps u: USER PID %CPU %MEM VSZ RSS TTY STAT
# START TIME COMMAND) or of ps -ef (UID PID PPID C STIME TTY TIME CMD): a user name or uid, the pid, then exactly
# those numeric, tty, state and time columns in that order, then the command. Its pid and usage columns are masked
# as under a header (the same columns: _PID_COLUMNS, _USAGE_COLUMNS). The pass runs on the texts where the ps_row
# finder of _masking.c saw a line start with a name, spaces, a number (the candidate), spaces and a digit. Not
# read: rows of other layouts (top's, ps's default PID TTY TIME CMD, BusyBox's), which start with the pid, as many
# numbered lines do.
_PS_USER = r"(?:[a-z_][a-z0-9_.-]{0,31}[$+]?|[0-9]{1,10})"  # ps cuts a long name to 7 characters and "+"
_PS_TTY = r"(?:\?|[A-Za-z]+[0-9]*(?:/[0-9]+)?)"  # ?, pts/0, tty1, ttyS0, console
_PS_STARTED = rf"(?:{_D}{{2}}:{_D}{{2}}|{_MONTH}{_D}{{2}}|{_D}{{4}})"  # today, this year, before
_PS_ROW = re.compile(
    rf"^{_PS_USER} +(?P<pid>{_D}{{1,7}}) +(?:"
    rf"(?P<cpu>{_D}{{1,4}}\.{_D}) +(?P<mem>{_D}{{1,3}}\.{_D}) +(?P<vsz>{_D}{{1,12}}) +(?P<rss>{_D}{{1,12}})"
    rf" +{_PS_TTY} +[DIPRSTWXZt][<NLsl+]* +(?P<start>{_PS_STARTED}) +(?P<time>{_D}{{1,6}}:{_D}{{2}})"
    rf"|(?P<ppid>{_D}{{1,7}}) +(?P<c>{_D}{{1,3}}) +(?P<stime>{_PS_STARTED}) +{_PS_TTY}"
    rf" +(?P<cputime>(?:{_D}{{1,4}}-)?{_D}{{2}}:{_D}{{2}}:{_D}{{2}})"
    r")(?= +\S)", re.MULTILINE)
_PS_ROW_KINDS = tuple((_PS_ROW.groupindex[group], kind) for group, kind in (
    ("pid", "pid"), ("cpu", "usage"), ("mem", "usage"), ("vsz", "usage"), ("rss", "usage"), ("start", "usage"),
    ("time", "usage"), ("ppid", "pid"), ("c", "usage"), ("stime", "usage"), ("cputime", "usage")))


def _ps_row_spans(text: str, pids: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each value in a pid ("pid") or usage ("usage") column of a headerless ps row whose pid
    may start at one of pids (the ps_row finder's candidates: only those lines are read)."""
    spans = []
    for pid in pids:
        row = _PS_ROW.match(text, text.rfind("\n", 0, pid) + 1)
        if row is not None and row.start("pid") == pid:
            regs = row.regs
            spans += [(*regs[group], kind) for group, kind in _PS_ROW_KINDS if regs[group][0] >= 0]
    return spans


# ---- the padding of right-aligned columns -------------------------------------------------------------------------
def _padded(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """spans (of values in ps and top columns) each grown left over the spaces before it, but for the one space that
    separates it from a field before it on its line: ps and top right-align numbers in a fixed width, so the padding
    ("      1", "   4242") moves with the value's width and is as volatile as the value."""
    padded = []
    for start, end, kind in spans:
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start].rstrip(" ")
        padded.append((min(line_start + len(before) + (1 if before else 0), start), end, kind))
    return padded
