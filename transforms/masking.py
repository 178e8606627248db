"""Find the volatile spans of an observation: the parts that change from run to run of the same action.

The observation is never rewritten. The spans are stored as offsets (Python str indices into the normalized
text, CURATED_TRANSITION_SCHEMA.next_volatile_spans), and a masked copy, with each span replaced by `<kind>`, is
used only for hashing, so two runs that differ only in a PID or a clock reading hash the same.

mask(text) masks one text; mask_many(texts) gives the same result for each of many texts, for less: it runs every
rule once over groups of texts joined by newlines (see _masked_group).
"""

from __future__ import annotations

import re
from functools import lru_cache

from transforms import _masking

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

# `_B` after a pattern's first character stands for the word boundary that would have led the pattern (the
# patterns were written so for a regex scan to jump between literals; tried only at candidate starts now, they
# find the same matches either way).
_B = r"(?<![\w]{0})"
_D = "[0-9]"
_H = "[0-9a-fA-F]"

# Forms that start with a digit share one rule: `[0-9]` then the rest of each form, in priority order. A new form
# must have, right after its leading digits, a character the digits finder of _masking.c counts as a follower (after
# a space, one it counts as following a space), and get a reference form and fragments in
# tests/transforms/test_masking_reference.py.
DIGIT_FORMS = (
    ("timestamp", rf"{_D}{{3}}-{_D}{{2}}-{_D}{{2}}[T ]{_D}{{2}}:{_D}{{2}}(?::{_D}{{2}}(?:[.,]{_D}+)?)?"
                  rf"(?:Z|[+-]{_D}{{2}}:?{_D}{{2}}\b)?"),  # ISO 8601
    ("timestamp", rf"{_D}:{_D}{{2}}:{_D}{{2}}(?:\.{_D}+)?\b"),  # 21:58:00
    ("date", rf"{_D}{{3}}-{_D}{{2}}-{_D}{{2}}\b"),
    ("date", rf"{_D}? {_MONTH} {_D}{{4}}\b"),
    ("duration", rf"{_D}*m{_D}+(?:\.{_D}+)?s\b"),  # 0m0.003s
    # Possessive `*+`/`++` (Python 3.11): giving digits back would put a digit where the rest needs ".", " " or a
    # unit's letter, so it never finds a match; it only made each failed attempt ("42717 took") backtrack.
    ("duration", rf"{_D}*+(?:\.{_D}++)? ?(?:ms|us|µs|ns|sec|secs|seconds|s)\b"),
    ("byte_size", rf"{_D}*+(?:\.{_D}++)? ?(?:[KMGTP]i?B|[KMGTP]|bytes)\b"),
)

# (kind, pattern, finder, check), in priority order: where matches start at the same place the earlier rule wins,
# so the longer, more specific forms come first (a UUID before its hex groups, a temp path before the hex id inside
# it). The pattern is tried only where its finder (one of _masking.FINDERS, all run in one pass over the text in C)
# says a match may start: most observations lack most kinds, and a screen's few candidates cost less than a regex
# scan per rule. Where a pattern has a group `v`, only that group is volatile (the number after "pid ", not the
# word). `check`, if any, must accept the matched text.
RULES = (
    ("uuid", rf"{_H}{_B.format(_H)}{_H}{{7}}-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-{_H}{{12}}\b", "uuid", None),
    ("digits", rf"{_D}{_B.format(_D)}(?:" + "|".join(f"(?P<d{i}>{rest})" for i, (_, rest) in enumerate(DIGIT_FORMS))
     + ")", "digits", None),
    # date(1), and JavaScript's Date.toString with the year before the time ("Fri Nov 27 2026 00:35:13 GMT").
    ("timestamp", rf"{_DAY},? +{_MONTH} +{_D}{{1,2}},?(?: +{_D}{{4}})? +{_D}{{2}}:{_D}{{2}}:{_D}{{2}}"
                  rf"(?: +[A-Z]{{2,5}})?(?: +{_D}{{4}})?\b", "day_date", None),
    ("timestamp", rf"{_MONTH} +{_D}{{1,2}} +{_D}{{2}}:{_D}{{2}}(?::{_D}{{2}})?\b", "month_time", None),  # ls, syslog
    ("timestamp", rf"1{_B.format('1')}[5-9]{_D}{{8}}(?:\.{_D}+)?\b", "unix_seconds", None),  # 2017..2033
    # A backslash ends the path: in JSON-escaped text (tool results) it starts "\n" or "\t", not a path character.
    ("temp_path", r"(?:/tmp|/var/tmp|/dev/shm|/private/var/folders)/[^\s'\"`:;,)\]}\\]+", "temp_dir", None),
    ("temp_path", rf"tmp{_B.format('tmp')}[a-zA-Z0-9_]{{6,}}\b", "tmp_name", None),
    # One rule per word rather than one alternation: no match of one can start inside a match of another, so they
    # find the same matches.
    *(("pid", rf"{word}(?:[=:] ?| )(?P<v>{_D}{{1,7}})\b", finder, None)
      for word, finder in (("pid", "pid_word"), ("PID", "pid_upper"), ("process", "process_word"))),
    # Shell job control: [1] 12345. `(?<!.\[)` is `^` (MULTILINE) spelled after the "[": `.` is anything but a
    # newline.
    ("pid", rf"\[(?<!.\[){_D}{{1,3}}\] (?P<v>{_D}{{1,7}})\b", "shell_job", None),
    # Only ephemeral-range ports: fixed service ports are content.
    ("port", rf"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::\]):(?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b",
     "local_port", None),
    ("port", rf"port (?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b", "port_word", None),
    ("hex_id", rf"0x{_H}{{4,}}\b", "hex_literal", None),
    # Git shas, container ids: lowercase hex with both digits and letters (so "facade" and "2026" stay content).
    ("hex_id", r"\b[0-9a-f]{7,64}\b", "hex_word", lambda token: not token.isdigit() and not token.isalpha()),
)
KINDS = tuple(dict.fromkeys([kind for kind, *_ in RULES if kind != "digits"] + [k for k, _ in DIGIT_FORMS]))
_DIGIT_KIND = {f"d{i}": kind for i, (kind, _) in enumerate(DIGIT_FORMS)}


def _compiled(kind: str, pattern: str, finder: str, check):
    """A rule as _masking.mask_group takes it: (pattern.match, finder index, group number of `v` or None, kind or
    for the digits rule a dict from the matched form's group name to its kind, check or None)."""
    compiled = re.compile(pattern, re.MULTILINE)
    return (compiled.match, _masking.FINDERS.index(finder), compiled.groupindex.get("v"),
            _DIGIT_KIND if kind == "digits" else kind, check)


_COMPILED = tuple(_compiled(*rule) for rule in RULES)


def _replaced(text: str, spans) -> str:
    parts, position = [], 0
    for start, end, kind in spans:
        parts.append(text[position:start])
        parts.append(f"<{kind}>")
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _masked_group(texts: list[str]) -> list[tuple[list[dict], str]]:
    """(spans, masked text) of each text, from one scan of them joined by "\n" in one _masking call: its fixed
    costs (the call, the rules' setup, the one-byte copy of the text) are then paid once per group of texts.

    This finds in each text exactly what a scan of that text alone finds because every rule is line-local: no
    match contains a newline, and a newline next to a match counts as the start or end of a lone text does (\\b
    and the lookbehinds see a non-word character, `.` does not match it). Matches therefore never cross from one
    text into the next, and each one lies at its text's offset in the join."""
    return _masking.mask_group(texts, _COMPILED)


# Every rule is line-local, and consecutive screens share most lines, so a memo of spans per line was built and
# measured (2026-11, generated mixed-domain screens): looking up ~30 lines and learning the new ones cost about as
# much per character as this scan did then (rules run as regex scans), so it lost even on the domains where 80% of
# lines repeat; the scan is cheaper now. Not kept.
def _spans_and_masked(text: str) -> tuple[list[dict], str]:
    return _masking.mask_group([text], _COMPILED)[0]


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
    """Non-overlapping spans [start, end) with their kind, in order of position."""
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
