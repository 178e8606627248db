"""Days of the week that go with a date: the second pass over a day's name that a JSON key gives in the object
of a masked date (_weekday_key_spans), and which date or timestamp span a day's name belongs to (_weekday_date,
for the date filter of dates.py).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from transforms.masking.rules import _WEEKDAY

# The kinds of the spans that hold a date (or a day's name: see _is_weekday).
_DATED_KINDS = frozenset(("timestamp", "date"))


# ---- a day of the week named by a JSON key, in the object of a masked date ------------------------------------
# The mcp time server answers {"datetime": "2026-11-27T06:01:02+00:00", "day_of_week": "Friday", ...}: the day moves
# with the date, but it is not next to it. A string value that is a day's name, of a key naming the day of the week,
# is masked as a date where a timestamp or date span lies in the same JSON object: the nearest such span before the
# value (else after it) with no brace between the two. A day a file or a setting fixes ({"backup": {"weekday":
# "Sunday"}}) has no date beside it and is content. The key may be escaped (JSON in a JSON string). The pass runs
# on the texts where the weekday_key finder of _masking.c saw such a key (see core._masked_group).
_WEEKDAY_KEY = re.compile(rf'"(?:day_of_week|dayOfWeek|DayOfWeek|weekday|Weekday)\\?" ?: ?\\?"(?P<v>{_WEEKDAY})\\?"')


def _is_weekday(text: str, span: dict) -> bool:
    """A date span that is a day's name (the weekday rule's or the pass's), not a date."""
    return span["kind"] == "date" and text[span["start"]].isalpha()


def _same_object_date(text: str, spans: list[dict], before: int, after: int, start: int, end: int) -> int | None:
    """The index of the timestamp or date span (not a day's name) in the same JSON object as text[start:end]: the
    last one of spans[:before + 1], else the first of spans[after:], if no brace lies between it and start (end)."""
    brace = max(text.rfind("{", 0, start), text.rfind("}", 0, start))
    for index in range(before, -1, -1):
        span = spans[index]
        if span["end"] <= brace:
            break
        if span["kind"] in _DATED_KINDS and not _is_weekday(text, span):
            return index
    brace = min(position for position in (text.find("{", end), text.find("}", end), len(text)) if position >= 0)
    for index in range(after, len(spans)):
        span = spans[index]
        if span["start"] >= brace:
            break
        if span["kind"] in _DATED_KINDS and not _is_weekday(text, span):
            return index
    return None


def _weekday_key_spans(text: str, spans: list[dict], keys: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, "date") of each day's name that is the value of a day-of-week key starting at one of keys (the
    weekday_key finder's candidates) in the JSON object of a timestamp or date span of spans (text's, sorted)."""
    found, starts = [], [span["start"] for span in spans]
    for key in keys:
        if (match := _WEEKDAY_KEY.match(text, key)) is None:
            continue
        start, end = match.span("v")
        after = bisect_right(starts, start)
        if _same_object_date(text, spans, after - 1, after, start, end) is not None:
            found.append((start, end, "date"))
    return found


# Between a day's name and its date ("Fri, 27 Nov 2026", "Friday 2026-11-27"), and between a date and its day's name
# ("2026-11-27 (Friday)"): as the weekday rule reads them.
_WEEKDAY_DATE_GAP = re.compile(r",? {1,2}")
_DATE_WEEKDAY_GAP = re.compile(r",? | \(")


def _weekday_date(text: str, spans: list[dict], index: int) -> int | None:
    """The index of the date or timestamp span whose day of the week spans[index] names: the span right after it
    ("Fri, 27 Nov 2026"), else the one right before it ("2026-11-27 (Friday)"), else the one in its JSON object
    ("day_of_week": "Friday" beside "datetime": "2026-11-27T06:01:02+00:00"), if any."""
    span = spans[index]
    if index + 1 < len(spans):
        following = spans[index + 1]
        if (following["kind"] in _DATED_KINDS and not _is_weekday(text, following)
                and _WEEKDAY_DATE_GAP.fullmatch(text, span["end"], following["start"])):
            return index + 1
    if index:
        previous = spans[index - 1]
        if (previous["kind"] in _DATED_KINDS and not _is_weekday(text, previous)
                and _DATE_WEEKDAY_GAP.fullmatch(text, previous["end"], span["start"])):
            return index - 1
    return _same_object_date(text, spans, index - 1, index + 1, span["start"], span["end"])
