"""The second pass over rows whose columns the command above them names (_command_spans): the pid and usage
columns of a ps format list's rows (ps -o, ps -eo, ps axo) and the commit ids of git log --oneline, reflog,
rev-parse, branch -v and worktree list.
"""

from __future__ import annotations

import re
import shlex

from transforms.masking.tables import _PID_VALUE, _USAGE_VALUE, _padded_field


# ---- rows whose columns their command names: ps -o, git log --oneline ------------------------------------------
# `ps -eo pid,comm | grep sleep` prints "   4242 sleep": no header, and a line of a number and a word is what wc -l,
# uniq -c, du, cat -n and numbered lists print too, so such a line alone says nothing. A terminal's screen shows
# the command above its output, though, and the command names the columns: the pass reads the lines right after a
# ps command line with a format list (-o, -eo, -axo, --format, BSD's "axo") as rows of those columns, and the lines
# after a git command that prints one commit id at the start of each line (log --oneline, log --format=%h...,
# reflog, rev-parse) as rows led by an id, and those after git branch -v (-vv, --verbose) as rows of a branch's name
# and its commit's id ("* main 4997019 msg", "  (HEAD detached at 4997019) 4997019 msg"), and those after git
# worktree list as rows of a path and its HEAD's id ("/work/wt  4997019 [feat]"), up to the first line that is not
# such a row (the next prompt). The output must reach the screen as the command printed its lines: a pipe
# only into grep (not a count), head, tail, sort or less, no redirection. A ps row's columns are read up to the first
# whose value may hold spaces (comm, args) or that the pass does not know, and the row must have a value of each kind
# there (a pid of 1 to 7 digits, a usage figure); a first line that is no row is skipped once as the header (the
# table pass reads a header it knows). The pass runs on the texts where the command finder of _masking.c saw "ps "
# or "git " start a word.
_PS_FORMAT_KINDS = {
    **dict.fromkeys(("pid", "ppid", "pgid", "pgrp", "sid", "sess", "session", "tpgid", "lwp", "spid", "tid", "tgid"),
                    "pid"),
    **dict.fromkeys(("%cpu", "pcpu", "%mem", "pmem", "c", "vsz", "vsize", "rss", "rssize", "rsz", "sz", "stime",
                     "start_time", "time", "cputime", "etime", "etimes"), "usage"),
    # One word each, content.
    **dict.fromkeys(("user", "euser", "ruser", "uid", "euid", "ruid", "group", "egroup", "gid", "egid", "tty", "tt",
                     "tname", "stat", "s", "state", "ni", "nice", "pri", "nlwp", "psr", "f"), None),
}
_PS_FORMAT_OPTION = re.compile(r"-[A-Za-z]*o|--format")  # the list is the next word
_PS_FORMAT_JOINED = re.compile(r"-o(?P<list>.+)|--format=(?P<list2>.+)")
_BSD_FORMAT_OPTION = re.compile(r"[A-Za-z]*o")  # "axo", "o": BSD options, only as ps's first word
_GIT_ID_FORMAT = re.compile(r"(?:--oneline|--(?:pretty|format)=(?:oneline|(?:t?format:)?%[hH]\b.*))")
_GIT_VERBOSE = re.compile(r"-[A-Za-z]*v[A-Za-z]*|--verbose")
_PIPED_INTO = frozenset(("grep", "egrep", "fgrep", "head", "tail", "sort", "less", "more", "cat"))
_COUNTING = re.compile(r"-[A-Za-z]*c[A-Za-z]*|--count|-[A-Za-z]*[lL][A-Za-z]*")  # grep -c, -l: no rows
# What a command the pass reads has on its line: a ps format option, a git subcommand printing commit ids. The
# command finder of _masking.c offers only the commands with one (most, "git status", have none).
_COMMAND_CUE = re.compile(r"ps [^\n\0]*?(?<!\S)(?:-[A-Za-z]*o|--format|[A-Za-z]*o(?= ))"
                          r"|git [^\n\0]*?(?<!\S)(?:log|reflog|rev-parse|branch|worktree)\b")
_QUOTING = re.compile(r"['\"\\]")
_COMMAND_AFTER = ("$ ", "# ", "% ", "> ", "&& ", "; ", "sudo ")
_COMMAND_END = re.compile(r"&&|\|\||;|\r?$", re.MULTILINE)
_GIT_ROW = re.compile(r"[*|\\/_ ]*(?P<v>[0-9a-f]{7,40})(?= |\r?$)|[*|\\/_ ]*[*|\\/_][*|\\/_ .-]*\r?$")
# A row of git branch -v: "*" (the current branch), "+" (checked out in another worktree) or a space, the branch's
# name padded to the longest, its commit's id; a symbolic ref ("  remotes/origin/HEAD -> origin/main") has none.
_GIT_BRANCH_ROW = re.compile(r"[*+ ] (?:\([^)\n]*\)|\S+) +(?P<v>[0-9a-f]{7,40})(?= |\r?$)|  \S+ -> \S+\r?$")
# A row of git worktree list: the worktree's path padded to the longest, its HEAD's id, then its branch or that it
# is detached ("/work/wt  8606722 [feat]", "/work/wt2 8606722 (detached HEAD)"); a bare repository's has none.
_GIT_WORKTREE_ROW = re.compile(r"\S.*? +(?:(?P<v>[0-9a-f]{7,40})(?= \[[^\]\n]+\]| \(detached HEAD\))|\(bare\)\r?$)")
_LINE_FIELD = re.compile(r"[^ \t\r]+")


def _command_words(text: str, start: int) -> list[str] | None:
    """The words of the command at start (up to a pipe, "&&", ";" or the line's end) when a command starts there
    (at its line's start or after a prompt, "&&", ";" or sudo: not as "echo ps" or "man git" does) and its output
    reaches the screen as the command printed it, else None (a redirection, a pipe into another command, words
    shlex cannot split)."""
    line_start = text.rfind("\n", 0, start) + 1
    if start > line_start and not text.endswith(_COMMAND_AFTER, line_start, start):
        return None
    end = _COMMAND_END.search(text, start).start()
    line = text[start:end]
    try:  # shlex only where quotes or escapes need it: it costs ~10 us a line
        stages = [shlex.split(stage) if _QUOTING.search(stage) else stage.split() for stage in line.split("|")]
    except ValueError:
        return None
    if any(">" in word for stage in stages for word in stage) or not all(stages):
        return None
    for stage in stages[1:]:
        if stage[0] not in _PIPED_INTO or (stage[0].endswith("grep") and any(map(_COUNTING.fullmatch, stage[1:]))):
            return None
    return stages[0]


def _ps_columns(words: list[str]) -> tuple[list[str | None], bool]:
    """The kinds of the leading columns a ps command's format list names (see _PS_FORMAT_KINDS), up to the first
    column whose value may hold spaces or that is not known, and whether more columns follow them; no kinds without
    a format list or a pid column in them."""
    names = []
    for k, word in enumerate(words[1:], 1):
        if _PS_FORMAT_OPTION.fullmatch(word) or (k == 1 and _BSD_FORMAT_OPTION.fullmatch(word)):
            names += re.split(r"[,\s]+", words[k + 1]) if k + 1 < len(words) else []
        elif joined := _PS_FORMAT_JOINED.fullmatch(word):
            names += re.split(r"[,\s]+", joined["list"] or joined["list2"])
    names = [re.split("[=:]", name, maxsplit=1)[0].lower() for name in names if name]
    kinds = []
    for name in names:
        if name not in _PS_FORMAT_KINDS:
            break
        kinds.append(_PS_FORMAT_KINDS[name])
    return (kinds if "pid" in kinds else []), len(kinds) < len(names)


def _ps_format_row(text: str, start: int, end: int, kinds: list[str | None], more: bool
                   ) -> list[tuple[int, int, str]] | None:
    """The pid and usage spans of text[start:end] as a row of the columns of kinds (and at least one more if more),
    None if it is no such row."""
    fields = [field.span() for field in _LINE_FIELD.finditer(text, start, end)]
    if len(fields) < len(kinds) + more:
        return None
    for kind, field in zip(kinds, fields):
        if kind == "pid" and not _PID_VALUE.fullmatch(text, *field):
            return None
        if kind == "usage" and not _USAGE_VALUE.fullmatch(text, *field):
            return None
    return [(*_padded_field(fields, k, start), kind) for k, kind in enumerate(kinds) if kind is not None]


def _git_id_row(text: str, start: int, end: int, rows: re.Pattern) -> list[tuple[int, int, str]] | None:
    """The span of the commit id of text[start:end], a line of a git command's output that rows reads (none for a
    line with no id: only log's graph, branch's symbolic ref), None for another line."""
    row = rows.match(text, start, end)
    if row is None:
        return None
    return [(*row.span("v"), "hex_id")] if row["v"] else []


def _command_spans(text: str, commands: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the pid and usage values of the rows of ps commands, and of the commit ids of git
    commands, starting at one of commands (the command finder's candidates: only those lines are read)."""
    spans = []
    for command in commands:
        # The finder offers only lines with a word that _COMMAND_CUE finds (it tests for every line it offers).
        if not _COMMAND_CUE.match(text, command) or (words := _command_words(text, command)) is None:
            continue
        if words[0] == "ps":
            kinds, more = _ps_columns(words)
            if kinds:
                spans += _rows_after(
                    text, command, lambda s, e, kinds=kinds, more=more: _ps_format_row(text, s, e, kinds, more), True)
        elif words[0] == "git" and (rows := _git_rows(words)) is not None:
            spans += _rows_after(text, command, lambda s, e, rows=rows: _git_id_row(text, s, e, rows), False)
    return spans


def _git_rows(words: list[str]) -> re.Pattern | None:
    """How the lines of a git command that prints a commit id on each read: reflog, rev-parse and log with a
    one-line format lead with it (_GIT_ROW), branch -v has it after the name (_GIT_BRANCH_ROW), worktree list after
    the path (_GIT_WORKTREE_ROW); None for others."""
    subcommand, options = _git_subcommand(words)
    arguments = [word for word in options if not word.startswith("-")]
    if subcommand in ("reflog", "rev-parse") or (subcommand == "log" and any(map(_GIT_ID_FORMAT.fullmatch, options))):
        return _GIT_ROW
    if subcommand == "branch" and any(map(_GIT_VERBOSE.fullmatch, options)):
        return _GIT_BRANCH_ROW
    if subcommand == "worktree" and arguments[:1] == ["list"]:
        return _GIT_WORKTREE_ROW
    return None


# git's own options that take the next word as their value, before the subcommand ("git -C /work/repo log",
# "git -c core.pager=cat branch -v"): that word is no subcommand. Its others are one word ("--no-pager",
# "--git-dir=/x").
_GIT_OPTIONS_WITH_VALUE = frozenset(("-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                                     "--config-env"))


def _git_subcommand(words: list[str]) -> tuple[str | None, list[str]]:
    """The subcommand of a git command's words and the words after it, past git's own options (None, [] if none)."""
    k = 1
    while k < len(words) and words[k].startswith("-"):
        k += 2 if words[k] in _GIT_OPTIONS_WITH_VALUE else 1
    return (words[k], words[k + 1:]) if k < len(words) else (None, [])


def _rows_after(text: str, command: int, row_spans, header: bool) -> list[tuple[int, int, str]]:
    """The spans row_spans(start, end) gives each line after the command's line, up to the first it says (None) is
    no row; if header, a first line that is no row is skipped once."""
    spans, line_start = [], text.find("\n", command) + 1
    first = True
    while 0 < line_start <= len(text):
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        found = row_spans(line_start, line_end)
        if found is None and not (header and first):
            break
        spans += found or []
        first, line_start = False, line_end + 1
    return spans
