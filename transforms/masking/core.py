"""mask and mask_many, each text's volatile spans and masked copy: the rules' pass over groups of texts joined
(transforms/_masking.c, _masked_group), then the second passes (tables.py, commands.py, weekdays.py) on the few
texts whose marks say they may need them, merged into the rules' spans (_with_second_passes).
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

from transforms import _masking
from transforms.masking.commands import _command_spans
from transforms.masking.rules import _COMPILED
from transforms.masking.tables import _padded, _ps_row_spans, _table_spans
from transforms.masking.weekdays import _weekday_key_spans


def _replaced(text: str, spans) -> str:
    parts, position = [], 0
    for start, end, kind in spans:
        parts.append(text[position:start])
        parts.append(f"<{kind}>")
        position = end
    parts.append(text[position:])
    return "".join(parts)


# ---- the second passes, on the few texts that need them --------------------------------------------------------
def _merged(spans: list[dict], found: list[tuple[int, int, str]]) -> list[dict]:
    """spans (sorted, non-overlapping) with those of found that overlap neither one of spans nor one of found kept
    before them, sorted: the two merged in one walk."""
    merged, position, reach = [], 0, 0
    for start, end, kind in sorted(set(found)):
        while position < len(spans) and spans[position]["start"] < start:
            merged.append(spans[position])
            reach = spans[position]["end"]
            position += 1
        if start < reach or (position < len(spans) and spans[position]["start"] < end):
            continue
        merged.append({"start": start, "end": end, "kind": kind})
        reach = end
    merged += spans[position:]
    return merged


# The kinds of the rules' spans a usage column's value takes the place of: what the digits rule reads "00:00:01" and
# "1:02:03" as.
_COLUMN_TIME_KINDS = frozenset(("timestamp", "duration"))


def _without_times_in_columns(spans: list[dict], found: list[tuple[int, int, str]]) -> list[dict]:
    """spans without those of a time kind that lie inside a usage span of found: a process table's TIME column
    holds CPU time, not a clock reading, so its value's kind is the column's (the table's header or the row's shape
    says so; a rule sees only "00:00:01")."""
    columns = sorted((start, end) for start, end, kind in found if kind == "usage")
    if not columns:
        return spans
    starts = [start for start, _ in columns]
    kept = []
    for span in spans:
        if span["kind"] in _COLUMN_TIME_KINDS and (index := bisect_right(starts, span["start"]) - 1) >= 0 \
                and span["end"] <= columns[index][1]:
            continue
        kept.append(span)
    return kept if len(kept) < len(spans) else spans


def _with_second_passes(text: str, result: tuple[list[dict], str],
                        marks: tuple[bool, list[int], list[int], list[int]]) -> tuple[list[dict], str]:
    """result (the rules' spans and masked text) with what the second passes find in text added, where no rule's
    span overlaps it (but for a time span inside a usage column's value, which that value replaces): the pid and
    usage columns of process tables (if marks[0]) and of headerless ps rows (at the pids marks[1] offers), the rows
    of the ps and git commands at marks[3], then the days of the week of JSON objects with a date (at the keys
    marks[2] offers)."""
    tables, pids, keys, commands = marks
    spans = result[0]
    found = _table_spans(text) if tables else []
    if found and pids:  # the rows under a header are read already (the spans hold the pids' padding)
        pids = list(set(pids).difference(end - len(text[start:end].lstrip(" ")) for start, end, kind in found
                                         if kind == "pid"))
    if pids:
        found += _padded(text, _ps_row_spans(text, pids))
    if commands:
        found += _command_spans(text, commands)
    if found:
        spans = _merged(_without_times_in_columns(spans, found), found)
    if keys and (found := _weekday_key_spans(text, spans, keys)):
        spans = _merged(spans, found)
    if spans is result[0]:
        return result
    return spans, _replaced(text, [(span["start"], span["end"], span["kind"]) for span in spans])


_PID_UPPER = _masking.FINDERS.index("pid_upper")
_PS_ROW_FINDER = _masking.FINDERS.index("ps_row")
_WEEKDAY_KEY_FINDER = _masking.FINDERS.index("weekday_key")
_COMMAND_FINDER = _masking.FINDERS.index("command")


def _masked_group(texts: list[str]) -> list[tuple[list[dict], str]]:
    """(spans, masked text) of each text, from one scan of them joined by "\n" in one _masking call: its fixed
    costs (the call, the rules' setup, the one-byte copy of the text) are then paid once per group of texts.

    This finds in each text exactly what a scan of that text alone finds because every rule is line-local: no
    match contains a newline, and a newline next to a match counts as the start or end of a lone text does (\\b
    and the lookbehinds see a non-word character, `.` does not match it). Matches therefore never cross from one
    text into the next, and each one lies at its text's offset in the join.

    The second passes, the process table one not line-local, then run on each text alone, but only on the texts
    where a finder saw what they need: the pid_upper finder "PID" before a space, "=", ":" or a line's end, as a
    header naming a PID column has it (the table pass); the ps_row finder a number after a name that starts its
    line and before more numbers, as a ps row's pid is (the headerless row pass); the weekday_key finder a
    day-of-week key (the JSON weekday pass); the command finder "ps " or "git " starting a word (the command pass).
    The same C pass hands back those finders' candidate starts (its `marks`: a substring test of every text cost 10%
    more); the ps_row, weekday_key and command finders are no rule's."""
    tables, rows, weekday_keys, commands = [], [], [], []
    results = _masking.mask_group(texts, _COMPILED, ((_PID_UPPER, tables), (_PS_ROW_FINDER, rows),
                                                     (_WEEKDAY_KEY_FINDER, weekday_keys), (_COMMAND_FINDER, commands)))
    if tables or rows or weekday_keys or commands:
        ends = list(accumulate(len(text) + 1 for text in texts))  # where each text's joining newline ends
        passes = {}  # text index -> (a table header may be there, pid, key and command offsets) in that text
        for kind, marks in enumerate((tables, rows, weekday_keys, commands)):
            for mark in marks:
                index = bisect_right(ends, mark)
                found = passes.setdefault(index, (False, [], [], []))
                if kind == 0:
                    passes[index] = (True, *found[1:])
                else:
                    found[kind].append(mark - (ends[index - 1] if index else 0))
        for index, marks in passes.items():
            results[index] = _with_second_passes(texts[index], results[index], marks)
    return results


# Every rule is line-local, and consecutive screens share most lines, so a memo of spans per line was built and
# measured (2026-11, generated mixed-domain screens): looking up ~30 lines and learning the new ones cost about as
# much per character as this scan did then (rules run as regex scans), so it lost even on the domains where 80% of
# lines repeat; the scan is cheaper now. Not kept.
def _spans_and_masked(text: str) -> tuple[list[dict], str]:
    return _masked_group([text])[0]


# Big enough that a call's fixed costs are paid rarely, small enough that the join and its one-byte copy stay in
# the CPU caches while the rules' patterns run over them.
_GROUP_CHARS = 1 << 16


def mask_many(texts: list[str]) -> list[tuple[list[dict], str]]:
    """mask(text) for each text, scanned in groups: the rules run once over each group of texts joined."""
    results, group, group_chars = [], [], 0
    for text in texts:
        group.append(text)
        group_chars += len(text) + 1
        if group_chars >= _GROUP_CHARS:
            results += _masked_group(group)
            group, group_chars = [], 0
    if group:
        results += _masked_group(group)
    return results


def volatile_spans(text: str) -> list[dict]:
    """Non-overlapping spans [start, end) with their kind, in order of position. Test oracle / reference: only tests
    call it (curation masks chunks with mask_many), to state one text's spans; kept on purpose, not dead code."""
    return _spans_and_masked(text)[0]


def masked(text: str, spans: list[dict]) -> str:
    """The text with each span replaced by `<kind>`; spans must be sorted and non-overlapping."""
    if not spans:
        return text or ""
    return _replaced(text, [(span["start"], span["end"], span["kind"]) for span in spans])


# One text at a time (curation masks whole chunks with mask_many): a caller walking an episode in order passes each
# screen twice, as one step's next observation and the next step's state, and the cache masks it once.
@lru_cache(maxsize=256)
def mask(text: str) -> tuple[list[dict], str]:
    return _spans_and_masked(text)
