"""Find the volatile spans of an observation: the parts that change from run to run of the same action.

The observation is never rewritten. The spans are stored as offsets (Python str indices into the normalized
text, CURATED_TRANSITION_SCHEMA.next_volatile_spans), and a masked copy, with each span replaced by `<kind>`, is
used only for hashing, so two runs that differ only in a PID or a clock reading hash the same.

mask(text) masks one text; mask_many(texts) gives the same result for each of many texts, for less: it runs every
rule once over groups of texts joined by newlines (see _Joined).
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate, repeat

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Every pattern starts with a literal or a plain character set, never with \b: Python's regex engine then skips
# to candidate positions in C instead of trying the pattern at every character (~10x faster on 2 KB screens).
# `_B` after the first character stands for the word boundary that would have led the pattern.
_B = r"(?<![\w]{0})"
_D = "[0-9]"
_H = "[0-9a-fA-F]"

# Forms that start with a digit share one scan: `[0-9]` then the rest of each form, in priority order. A new form
# must have, right after its leading digits, a character _digit_rule_matches counts as a follower (see there), and
# get a reference form and fragments in tests/transforms/test_masking_reference.py.
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

# (kind, pattern, precheck, check), in priority order: where matches start at the same place the earlier rule
# wins, so the longer, more specific forms come first (a UUID before its hex groups, a temp path before the hex id
# inside it). A rule runs only over the texts its precheck (a necessary condition, None for none) finds a hit in: a
# substring search, or a regex that starts with a literal, is far cheaper than the rule's own scan, and most
# observations lack most kinds. A precheck is a finder, find(joined, position) -> the offset of its next hit in the
# joined text at or after position, or -1, so that over a group of texts one search per text that has a hit (and
# one more) tells which texts to scan. A rule led by a long enough literal ("pid", "0x") needs none: its own scan
# jumps between occurrences of the literal as fast as a substring search. Rules sharing a precheck object share its
# answer. Where a pattern has a group `v`, only that group is volatile (the number after "pid ", not the word).
# `check`, if any, must accept the matched text.
def _find_literal(needle: str):
    return lambda joined, position: joined.text.find(needle, position)


def _find_regex(pattern: str):
    search = re.compile(pattern).search

    def find(joined, position):
        hit = search(joined.text, position)
        return hit.start() if hit else -1
    return find


def _byte_classes(*classes: str) -> bytes:
    """A bytes.translate table mapping the characters of classes[i] (disjoint ASCII sets) to byte i + 1 and every
    other byte to 0."""
    table = bytearray(256)
    for code, cls in enumerate(classes, 1):
        for char in cls.encode("ascii"):
            if table[char]:
                raise ValueError(f"character classes overlap at {chr(char)!r}")
            table[char] = code
    return bytes(table)


# The digits rule starts at a digit after a non-word character, and each of its forms needs one of a few
# characters right after that first run of digits: "-" (dates), ":" (clocks), " " ("5 Nov", "1.5 sec", "12 MiB"),
# "." (decimals), or a unit's first letter. Trying the pattern at every digit costs more than the rest of the scan
# (screens are full of words like "file42"), so the candidates are found first, in C: the text, one byte per
# character (each non-ASCII character as "?", which counts as a possible non-word character and follower, so no
# candidate is lost), is translated to character classes, and two regexes led by a two-byte literal find
# "non-word, digits, follower". The first digit is spelled out (\x01\x01*, not \x01+) so that the literal prefix
# the regex engine jumps between is both bytes, not the frequent non-word byte alone: half the instructions.
_UNIT_INITIALS = "munsKMGTPb"
_DIGIT_CLASSES = _byte_classes(string.digits, "".join(sorted(set(string.ascii_letters + "_") - set(_UNIT_INITIALS))),
                               "-: .?", _UNIT_INITIALS)
_DIGITS_AFTER = tuple(re.compile(rb"%s\x01\x01*(?=[\x03\x04])" % lead).finditer for lead in (b"\x00", b"\x03"))
_DIGITS_AT_START = re.compile(rb"\x01+[\x03\x04]").match


def _find_sequence(*classes: str):
    """A precheck: one character from each of `classes` (disjoint ASCII sets) in a row.

    One bytes.translate maps each class to its own byte and everything else to 0, then a substring search finds the
    sequence: both run in C over the whole text, where a regex led by a character set starts a match attempt at
    every member. The text is encoded one byte per character, so byte offsets are text offsets: a non-ASCII
    character becomes "?", which no class may hold, so it maps to 0 and never fakes a member or splits a run of
    ASCII ones."""
    if "?" in "".join(classes):
        raise ValueError('"?" stands for every non-ASCII character and cannot be in a class')
    distinct = list(dict.fromkeys(classes))
    return _find_translated(_byte_classes(*distinct), bytes(distinct.index(cls) + 1 for cls in classes))


def _find_translated(table: bytes, needle: bytes):
    return lambda joined, position: joined.translated(table).find(needle, position)


_LOWER_HEX = "0123456789abcdef"
# A UUID's middle always has this form; starting with a literal "-", it is found without trying the full
# pattern at every hex character (timestamps put a "-" in nearly every screen, so "-" alone rules out nothing).
_FIND_UUID_MIDDLE = _find_regex(rf"-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-")
_MONTH_INITIALS = tuple(dict.fromkeys(month[0] for month in _MONTHS))
_FIND_MONTH_NAME = _find_regex("|".join(_MONTHS))
# One scan jumping between "/" (or ":"), where several substring searches would each read the whole text.
_FIND_TEMP_DIR = _find_regex(r"/(?:tmp|var/|dev/shm)")
_FIND_LOCAL_HOST = _find_regex(r":(?:(?<=localhost:)|(?<=127\.0\.0\.1:)|(?<=0\.0\.0\.0:)|(?<=\[::\]:))")


# Ten digits in a row, found in the digits rule's translation, which every scan makes anyway.
_TEN_DIGITS = _find_translated(_DIGIT_CLASSES, b"\x01" * 10)


def _find_month(joined, position):
    """Most screens have no capital letter that could start a month name: a search for each of the 8 (memchr, in
    C) says so ~30x faster than the search for the names, which only runs from the first such capital on."""
    found = sorted(map(joined.text.find, _MONTH_INITIALS, repeat(position)))  # -1 for each initial not found
    first = bisect_left(found, 0)
    return _FIND_MONTH_NAME(joined, found[first]) if first < len(found) else -1


RULES = (
    ("uuid", rf"{_H}{_B.format(_H)}{_H}{{7}}-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-{_H}{{12}}\b", _FIND_UUID_MIDDLE, None),
    ("digits", rf"{_D}{_B.format(_D)}(?:" + "|".join(f"(?P<d{i}>{rest})" for i, (_, rest) in enumerate(DIGIT_FORMS))
     + ")", None, None),
    ("timestamp", rf"{_DAY},? +{_MONTH} +{_D}{{1,2}},? +{_D}{{2}}:{_D}{{2}}:{_D}{{2}}"
                  rf"(?: +[A-Z]{{2,5}})?(?: +{_D}{{4}})?\b", _find_month, None),  # date(1)
    ("timestamp", rf"{_MONTH} +{_D}{{1,2}} +{_D}{{2}}:{_D}{{2}}(?::{_D}{{2}})?\b", _find_month, None),  # ls -l, syslog
    ("timestamp", rf"1{_B.format('1')}[5-9]{_D}{{8}}(?:\.{_D}+)?\b", _TEN_DIGITS, None),  # Unix seconds, 2017..2033
    ("temp_path", r"(?:/tmp|/var/tmp|/dev/shm|/private/var/folders)/[^\s'\"`:;,)\]}]+", _FIND_TEMP_DIR,
     None),
    ("temp_path", rf"tmp{_B.format('tmp')}[a-zA-Z0-9_]{{6,}}\b", _find_literal("tmp"), None),
    # One rule per word, each led by its literal, rather than one alternation that tries every "p": no match of
    # one can start inside a match of another, so they find the same matches.
    *(("pid", rf"{word}(?:[=:] ?| )(?P<v>{_D}{{1,7}})\b", None, None) for word in ("pid", "PID", "process")),
    # Shell job control: [1] 12345. `(?<!.\[)` is `^` (MULTILINE) spelled after the "[", so the scan jumps from "["
    # to "[" instead of trying every position: `.` is anything but a newline.
    ("pid", rf"\[(?<!.\[){_D}{{1,3}}\] (?P<v>{_D}{{1,7}})\b", None, None),
    # Only ephemeral-range ports: fixed service ports are content.
    ("port", rf"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::\]):(?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b",
     _FIND_LOCAL_HOST, None),
    ("port", rf"port (?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b", _find_literal("port "), None),
    ("hex_id", rf"0x{_H}{{4,}}\b", None, None),
    # Git shas, container ids: lowercase hex with both digits and letters (so "facade" and "2026" stay content).
    # The pattern has no leading character to jump to, so the seven-hex-characters precheck saves most scans.
    ("hex_id", r"\b[0-9a-f]{7,64}\b", _find_sequence(*[_LOWER_HEX] * 7),
     lambda token: not token.isdigit() and not token.isalpha()),
)
KINDS = tuple(dict.fromkeys([kind for kind, *_ in RULES if kind != "digits"] + [k for k, _ in DIGIT_FORMS]))
_DIGIT_KIND = {f"d{i}": kind for i, (kind, _) in enumerate(DIGIT_FORMS)}
_COMPILED = tuple((kind, re.compile(pattern, re.MULTILINE), precheck, check)
                  for kind, pattern, precheck, check in RULES)


class _Joined:
    """Texts joined by "\n", which every scan runs over: the rules, their prechecks and their Python calls are then
    paid once per group of texts instead of once per text.

    This finds in each text exactly what a scan of that text alone finds because every rule is line-local: no
    match or precheck hit contains a newline, and a newline next to a match counts as the start or end of a lone
    text does (\\b and the lookbehinds see a non-word character, `.` does not match it). Matches therefore never
    cross from one text into the next, and each one lies at its text's offset in the join. A rule that runs only
    over some texts scans their stretch with finditer(text, start, end): its lookbehinds and \\b still see the
    newline before start, and end acts as the end of the string, as the newline after it would."""

    def __init__(self, texts: list[str]):
        self.text = "\n".join(texts)
        self.lengths = list(map(len, texts))
        self.starts = list(accumulate(self.lengths[:-1], lambda start, length: start + length + 1, initial=0))
        self._one_byte_per_char = None
        self._translated = {}

    def translated(self, table: bytes) -> bytes:
        """The text as one byte per character (so offsets agree, each non-ASCII character as "?") through table;
        computed once per table."""
        if table not in self._translated:
            if self._one_byte_per_char is None:
                self._one_byte_per_char = self.text.encode("ascii", "replace")
            self._translated[table] = self._one_byte_per_char.translate(table)
        return self._translated[table]

    def stretches_with_hits(self, find, hit: int) -> list[tuple[int, int]]:
        """(start, end) of the runs of consecutive texts in which find has a hit, from its first hit on; the rest of
        a text is skipped once it has one."""
        stretches = []
        while hit >= 0:
            index = bisect_right(self.starts, hit) - 1
            start, end = self.starts[index], self.starts[index] + self.lengths[index]
            if stretches and stretches[-1][1] + 1 == start:
                stretches[-1] = (stretches[-1][0], end)
            else:
                stretches.append((start, end))
            hit = find(self, end + 1)
        return stretches


def _digit_rule_matches(pattern: re.Pattern, joined: _Joined):
    """What pattern.finditer(joined.text) yields, trying the pattern only at the candidate starts: as finditer
    does, a match is looked for from each candidate on that is not inside the previous match."""
    marks = joined.translated(_DIGIT_CLASSES)
    starts = sorted(found.start() + 1 for finditer in _DIGITS_AFTER for found in finditer(marks))
    if _DIGITS_AT_START(marks):
        starts.insert(0, 0)
    reach = 0
    for start in starts:
        if start >= reach and (match := pattern.match(joined.text, start)):
            yield match
            reach = match.end()


def _scan(joined: _Joined) -> list[tuple[int, int, str]]:
    """Every rule over the joined texts: non-overlapping (start, end, kind), in order of position."""
    found, stretches_of = [], {}
    everything = [(0, len(joined.text))]
    for priority, (kind, pattern, precheck, check) in enumerate(_COMPILED):
        if precheck is None:
            stretches = everything
        else:
            if precheck not in stretches_of:
                # Most prechecks find nothing: that first search is all they cost.
                first_hit = precheck(joined, 0)
                stretches_of[precheck] = joined.stretches_with_hits(precheck, first_hit) if first_hit >= 0 else ()
            stretches = stretches_of[precheck]
        for start, end in stretches:
            matches = (_digit_rule_matches(pattern, joined) if kind == "digits"
                       else pattern.finditer(joined.text, start, end))
            for match in matches:
                if check is not None and not check(match.group()):
                    continue
                if kind == "digits":
                    found.append((match.start(), priority, match.end(), _DIGIT_KIND[match.lastgroup]))
                    continue
                span_start, span_end = match.span("v") if "v" in pattern.groupindex else match.span()
                found.append((span_start, priority, span_end, kind))
    found.sort()
    spans, reach = [], 0
    for start, _, end, kind in found:
        if start >= reach:  # sorted by start, then by rule order: the first rule's match at a position wins
            spans.append((start, end, kind))
            reach = end
    return spans


def _replaced(text: str, spans) -> str:
    parts, position = [], 0
    for start, end, kind in spans:
        parts.append(text[position:start])
        parts.append(f"<{kind}>")
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _masked_group(texts: list[str]) -> list[tuple[list[dict], str]]:
    """(spans, masked text) of each text, from one scan of them joined."""
    joined = _Joined(texts)
    spans = _scan(joined)
    span_starts = [start for start, _, _ in spans]
    results, first = [], 0
    for text, offset in zip(texts, joined.starts):
        # No span starts on a joining newline, so the spans that start before this text's end are its own.
        last = bisect_left(span_starts, offset + len(text), first)
        if first == last:
            results.append(([], text))
            continue
        own = [(start - offset, end - offset, kind) for start, end, kind in spans[first:last]]
        results.append(([{"start": start, "end": end, "kind": kind} for start, end, kind in own],
                        _replaced(text, own)))
        first = last
    return results


# Every rule is line-local, and consecutive screens share most lines, so a memo of spans per line was built and
# measured (2026-11, generated mixed-domain screens): looking up ~30 lines and learning the new ones cost about as
# much per character as this scan, so it lost even on the domains where 80% of lines repeat. Not kept.
def _spans_and_masked(text: str) -> tuple[list[dict], str]:
    if not text:
        return [], ""
    found = _scan(_Joined([text]))
    return [{"start": start, "end": end, "kind": kind} for start, end, kind in found], _replaced(text, found)


# Big enough that the Python steps per rule are paid rarely, small enough that the join and its translations stay
# in the CPU caches between the rules' scans.
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
