"""without_distant_dates: the timestamp and date spans whose full date lies far from the time the transition was
recorded are content (a preserved mtime, a fixture's log line), not clock readings, and are dropped; a timestamp
with an explicit offset whose instant lies far from it on a near date (a converted time) keeps only its date masked.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from transforms.masking.rules import _D, _DAY, _MONTH
from transforms.masking.weekdays import _DATED_KINDS, _weekday_date


# ---- dates far from the recording: content, not clock readings ------------------------------------------------
# The rules are syntactic, so a date a file or fixture fixed is masked like a clock reading: a preserved mtime
# (`ls -l --time-style=long-iso`: "2024-01-02 03:04 config.ini.bak"), a log fixture's "2024-05-01T10:01:19", a pinned
# commit's "Date:   Mon Jan 1 00:00:00 2024" (audit of the 2026-11-27 run). A clock read while the transition was
# recorded shows about the recording time, give or take its time zone (at most 14 hours); a full date further from
# it than that is what the data says.
_MONTH_NUMBERS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# The full dates of the timestamp and date rules' matches, at the start of a span's text: ISO 8601 ("2026-11-25",
# with a time and an offset or not), "5 Nov 2026", and date(1)'s or JavaScript's ("Mon Jan 1 00:00:00 2024", "Fri Nov
# 27 2026 00:35:13 GMT", with or without the day name). A clock time, "Nov 25 21:58" or a unix time has no match, and
# the last form matches with no year where there is none ("Thu, Dec 3, 08:01:09"): such spans are kept.
_FULL_DATE = re.compile(
    rf"(?P<year>{_D}{{4}})-(?P<month>{_D}{{2}})-(?P<day>{_D}{{2}})"
    rf"(?:[T ](?P<hour>{_D}{{2}}):(?P<minute>{_D}{{2}})(?::(?P<second>{_D}{{2}}))?(?:[.,]{_D}+)?"
    rf"(?P<zone>Z|[+-]{_D}{{2}}:?{_D}{{2}})?)?"
    rf"|(?P<day2>{_D}{{1,2}}) (?P<month2>{_MONTH}) (?P<year2>{_D}{{4}})"
    rf"|(?:{_DAY},? +)?(?P<month3>{_MONTH}) +(?P<day3>{_D}{{1,2}}),?(?: +(?P<year3>{_D}{{4}}))?"
    rf" +(?P<hour3>{_D}{{2}}):(?P<minute3>{_D}{{2}}):(?P<second3>{_D}{{2}})(?: +[A-Z]{{2,5}})?"
    rf"(?: +(?P<year4>{_D}{{4}}))?"
    # Python's datetime.datetime and datetime.date fields, and time.struct_time's (see the rules, rules.py).
    rf"|(?P<year5>{_D}{{4}}), (?:tm_mon=)?(?P<month5>{_D}{{1,2}}), (?:tm_mday=)?(?P<day5>{_D}{{1,2}})"
    rf"(?:, (?:tm_hour=)?(?P<hour5>{_D}{{1,2}}), (?:tm_min=)?(?P<minute5>{_D}{{1,2}})"
    rf"(?:, (?:tm_sec=)?(?P<second5>{_D}{{1,2}}))?)?")
# Between a date span and a time span of the same reading ("Wed, 21 Oct 2015 07:28:00 GMT", date -R, HTTP headers;
# "2026-11-25 3:04:35 PM"): the time is part of that date, so it goes where the date goes.
_DATE_TIME_GAP = re.compile(r",? {1,2}")
_CLOCK = re.compile(rf"{_D}{{1,2}}:{_D}{{2}}:")
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_DAY_SECONDS = 86400
_MOST_OFFSET = 14 * 3600  # UTC-12 .. UTC+14

# ---- a time of day far from the recording: content on today's date --------------------------------------------
# The mcp time server's convert_time, given a time in the action ("time": "09:30"), answers "2026-11-28T09:30:00+00:00"
# and "2026-11-28T20:30:00+11:00": only the date is today's; the time of day and the offset follow from the action,
# and are what the tool exists to give (data review D1 of the 2026-11-28 run). A clock read while the transition
# was recorded shows that instant whatever its offset, so an ISO timestamp with an explicit offset (or Z) whose
# instant is more than CLOCK_WINDOW_S from the recording is not one: its time of day and offset are content, and
# only its date stays masked. An hour is far more than a reading made earlier in the episode and shown later can be
# off (a file created at setup, a commit made in an earlier step): that run's longest episode lasted 32 s (a swe
# step with its 30 s test kill), each domain's whole collection under 2 minutes, its replays 2-3 s after. A given
# time within the hour stays masked whole: a loss (about 1 in 12 times of day), not an error. With no offset the
# instant is unknown (a local clock is up to 14 hours off UTC), so such a timestamp is left whole. Not caught: a time
# the environment computes from now, more than an hour on (a token expiring in 2 hours), whose time of day is then
# exact though it moves with the run; a replay (collect --replays) shows it move and marks it (curation.md).
CLOCK_WINDOW_S = 3600.0
# The rest of an ISO timestamp after its date (offset 10) when it gives a time of day and an explicit offset: as
# the ISO 8601 rule (rules.DIGIT_FORMS) and _FULL_DATE read them.
_ZONED_TIME = re.compile(rf"[T ](?P<hour>{_D}{{2}}):(?P<minute>{_D}{{2}})(?::(?P<second>{_D}{{2}})"
                         rf"(?:[.,](?P<fraction>{_D}+))?)?"
                         rf"(?:Z|(?P<sign>[+-])(?P<zone_hours>{_D}{{2}}):?(?P<zone_minutes>{_D}{{2}}))")
_ISO_DATE_LENGTH = 10
_ISO_DATE = re.compile(rf"{_D}{{4}}-{_D}{{2}}-{_D}{{2}}")


@lru_cache(maxsize=64)
def _iso_days(first_day: int, last_day: int) -> dict[str, int]:
    """The ISO dates ("2026-11-27") of the days first_day to last_day (days since 1970-01-01), each with the epoch
    seconds its UTC day starts at; none for a range out of bounds or longer than a month. Shared: not to be changed."""
    if not 0 <= last_day - first_day <= 31:
        return {}
    try:
        return {date.fromordinal(_EPOCH_ORDINAL + day).isoformat(): day * _DAY_SECONDS
                for day in range(first_day, last_day + 1)}
    except (ValueError, OverflowError):
        return {}


# A fixture's or a file's date recurs in the texts of many steps (the next observation of each while it is on
# screen): each distinct text is read once. The result is a tuple, so a cached one cannot be changed by a caller.
@lru_cache(maxsize=4096)
def _date_range(span_text: str) -> tuple[float, float] | None:
    """(first, last) UTC epoch seconds a span's text can mean, when it starts with a full calendar date: the instant
    where it gives a time of day (at its offset if it has one, else read as UTC: a zone name is not looked up), the
    whole day where it does not. None for a text with no full date or an impossible one ("2024-13-45")."""
    found = _FULL_DATE.match(span_text)
    if found is None:
        return None
    (year, month, day, hour, minute, second, zone, day2, month2, year2, month3, day3, year3, hour3, minute3, second3,
     year4, year5, month5, day5, hour5, minute5, second5) = found.groups()
    if year is None:
        if year5 is not None:
            year, month, day, hour, minute, second = year5, month5, day5, hour5, minute5, second5
        elif year2 is not None:
            year, month, day = year2, _MONTH_NUMBERS[month2], day2
        elif (year := year3 or year4) is None:
            return None
        else:
            month, day, hour, minute, second = _MONTH_NUMBERS[month3], day3, hour3, minute3, second3
    try:
        first = (date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL) * _DAY_SECONDS
    except ValueError:
        return None
    if hour is None:
        return first, first + _DAY_SECONDS
    first += int(hour) * 3600 + int(minute) * 60 + int(second or 0)
    if zone and zone != "Z":
        first -= (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[-2:]) * 60)
    return first, first


def without_distant_dates(text: str, spans: list[dict], recorded_at_s: float | None,
                          window_days: float = 2.0, clock_window_s: float = CLOCK_WINDOW_S) -> list[dict]:
    """spans (text's volatile spans, as volatile_spans or mask_many give them) without the timestamp and date spans
    whose text holds a full calendar date (year, month and day) more than window_days from recorded_at_s, the time
    the transition was recorded (UTC epoch seconds): such a date is content (a preserved mtime, a log fixture's
    line, a pinned commit's date), not a clock reading. A time span that directly follows a dropped date as part of
    the same reading ("21 Oct 2015 07:28:00", "2015-10-21 7:28:00 AM") is dropped with it, and so is the name of
    its day of the week ("Wed, 21 Oct 2015", "2015-10-21 (Wednesday)", a JSON object's "day_of_week": see
    weekdays._weekday_date). Kept: spans of other kinds, spans with no year ("21:58:00", "Nov 25 21:58", "Thu, Dec 3,
    08:01:09"), unix times, impossible dates, and every span when recorded_at_s is None (or not finite).

    An ISO timestamp with a time of day and an explicit offset or Z ("2026-11-28T20:30:00+11:00") whose date is kept
    but whose instant lies more than clock_window_s from recorded_at_s (a time the action gave, converted) is cut to
    its date: a date span over its first 10 characters ("2026-11-28"), the time of day and the offset left as content.
    The name of its day of the week stays masked with that date. A timestamp with no offset is left whole.

    A date with a time and an offset is compared as that instant; with no offset (or a zone name) it is read as UTC,
    and a date alone as its whole day (UTC): a local clock is at most 14 hours off UTC, well within the default
    window of 2 days. Not caught: a date the environment computes relative to now (a token's expiry in 30 days),
    which a far window keeps out, and a sandbox whose clock is wrong by more than the window, whose readings would
    be taken for content.

    Pure and cheap: only spans of kind timestamp or date are read (a dict lookup per span otherwise, nothing parsed
    when there are none), and each distinct span text is parsed once (_date_range, _zoned_seconds: the reading of
    the text is remembered, the decision, which depends on recorded_at_s, is not). Returns spans itself, not a
    copy, when it drops and cuts nothing; otherwise a new list of the same dicts (a new one for each cut
    timestamp), still sorted and non-overlapping.

    How transforms/prepare.py (with_masks) calls it: after
    `masks = masking.mask_many(texts)`, once per masked text, before the rows take their parts from masks:

        spans, _ = masks[i]
        kept = masking.without_distant_dates(texts[i], spans, recorded_at_s)
        if kept is not spans:
            masks[i] = kept, masking.masked(texts[i], kept)

    with recorded_at_s the time of the row whose next observation texts[i] is (for a state text that is not the
    previous row's next observation, the row's own time): its `timings.action_start` as epoch seconds
    (`row["timings"]["action_start"].timestamp()`; curated_row would have to carry it), or None when unknown.
    Filtering each text once, in masks, keeps what with_masks relies on: the masked state is the very str of the
    previous row's masked next observation. next_volatile_spans (stage 3's format-only spans) and the content hash
    then both leave the distant dates as content."""
    if not spans or recorded_at_s is None or not math.isfinite(recorded_at_s):
        return spans
    found = _distant_dates(text, spans, recorded_at_s, window_days * _DAY_SECONDS, clock_window_s)
    if found is None:
        return spans
    dropped, weekdays, cut = found
    dropped = set(dropped)
    if dropped:
        for index in weekdays:
            if _weekday_date(text, spans, index) in dropped:
                dropped.add(index)
    cut = set(cut)
    return [{**span, "end": span["start"] + _ISO_DATE_LENGTH, "kind": "date"} if index in cut else span
            for index, span in enumerate(spans) if index not in dropped]


def _distant_dates(text: str, spans: list[dict], recorded_at_s: float, window: float,
                   clock_window: float) -> tuple[list[int], list[int], list[int]] | None:
    """The indices of the timestamp and date spans of spans to drop (a full date more than window seconds from
    recorded_at_s, and a clock time that is the same reading's), of the days' names among them, which go where their
    date goes (decided once the dates are), and of the zoned ISO timestamps to cut to their date (an instant more
    than clock_window seconds from recorded_at_s on a date that is kept); None when none is dropped or cut."""
    dropped, weekdays, cut, date_end, near_days = [], [], [], -1, None
    for index, span in enumerate(spans):
        if (kind := span["kind"]) not in _DATED_KINDS:
            continue
        start, end = span["start"], span["end"]
        span_text = text[start:end]
        if kind == "date" and span_text[0].isalpha():
            weekdays.append(index)
            continue
        if span_text[4:5] == "-":
            if near_days is None:
                near_days = _near_iso_days(recorded_at_s, window)
            if (day_start := near_days.get(span_text[:_ISO_DATE_LENGTH])) is not None:
                # The date is kept unparsed; its time of day is read only where an offset gives the instant.
                if (seconds := _ZONED_SECONDS.get(span_text, _UNREAD)) is _UNREAD:
                    seconds = _zoned_seconds(span_text)
                if seconds is not None and clock_window < abs(day_start + seconds - recorded_at_s):
                    cut.append(index)
                continue
        dates = _date_range(span_text)
        if dates is None:
            # A clock time with no date of its own, right after a dropped date: that date's time of day.
            if 0 <= date_end and _DATE_TIME_GAP.fullmatch(text, date_end, start) and _CLOCK.match(span_text):
                dropped.append(index)
            continue
        if not dates[0] - window <= recorded_at_s <= dates[1] + window:
            dropped.append(index)
            date_end = end
        elif (clock_window < abs(dates[0] - recorded_at_s) and span_text[4:5] == "-"
              and _ZONED_TIME.fullmatch(span_text, _ISO_DATE_LENGTH)):
            cut.append(index)
    if not dropped and not cut:
        return None
    return dropped, weekdays, cut


# A screen shows the same clock reading in the next observation of several steps, and a chunk's texts repeat
# timestamps: each distinct one's time of day is read once. Bounded, as a worker curates many chunks; emptied
# whole when full (a lost entry is only read again). Its dict operations are atomic, so a worker's threads share it.
_ZONED_SECONDS: dict[str, int | None] = {}
_ZONED_SECONDS_MOST = 4096
_UNREAD = object()


def _zoned_seconds(span_text: str) -> int | None:
    """_seconds_into_day of the time of day and offset after the date of an ISO timestamp's text, None if it has
    no offset (or no time of day): remembered in _ZONED_SECONDS."""
    zoned = _ZONED_TIME.fullmatch(span_text, _ISO_DATE_LENGTH)
    seconds = None if zoned is None else _seconds_into_day(zoned)
    if len(_ZONED_SECONDS) >= _ZONED_SECONDS_MOST:
        _ZONED_SECONDS.clear()
    _ZONED_SECONDS[span_text] = seconds
    return seconds


def _seconds_into_day(zoned: re.Match) -> int:
    """The UTC seconds from the start of its date to the instant a _ZONED_TIME match gives (negative, or a day or
    more, where its offset moves it to another UTC day)."""
    hour, minute, second, sign, zone_hours, zone_minutes = zoned.group(
        "hour", "minute", "second", "sign", "zone_hours", "zone_minutes")
    seconds = int(hour) * 3600 + int(minute) * 60 + int(second or 0)
    if sign is not None:
        seconds -= (1 if sign == "+" else -1) * (int(zone_hours) * 3600 + int(zone_minutes) * 60)
    return seconds


def _near_iso_days(recorded_at_s: float, window: float) -> dict[str, int]:
    """The ISO dates of the days that lie within window of recorded_at_s even at the farthest offset and time of
    day (with a window of 2 days, always the recording's own UTC day), with the epoch seconds each starts at: a
    span starting with one is kept, with nothing parsed but the time of day of one with an offset (the clock
    window)."""
    return _iso_days(math.ceil((recorded_at_s - window + _MOST_OFFSET) / _DAY_SECONDS),
                     math.floor((recorded_at_s + window - _MOST_OFFSET) / _DAY_SECONDS) - 1)


# ---- the instant of a zoned ISO timestamp, whole or cut to its date ------------------------------------------
def zoned_instant(text: str, start: int, end: int) -> datetime | None:
    """The instant (an aware datetime) of the ISO timestamp with a time of day and an explicit offset or Z that
    text[start:end] is ("2026-11-29T10:15:00+11:00"), or whose date it is, followed in text by its time of day and
    offset: a converted time that without_distant_dates cut to its date ("2026-11-29" of the same). None for any
    other text, and for a date, time or offset no clock gives (2026-02-30, 25:00, +24:00). The scorer
    (transforms.rewards, "relations") reads a prediction's values with it, so that a converted time's date is held to
    the instant its source gives: only the date is a span there, and its rollover is what a prediction may miss."""
    if end - start == _ISO_DATE_LENGTH:
        zoned = _ZONED_TIME.match(text, end)
    else:
        zoned = _ZONED_TIME.fullmatch(text, start + _ISO_DATE_LENGTH, end)
    if zoned is None or _ISO_DATE.fullmatch(text, start, start + _ISO_DATE_LENGTH) is None:
        return None
    hour, minute, second, fraction, sign, zone_hours, zone_minutes = zoned.group(
        "hour", "minute", "second", "fraction", "sign", "zone_hours", "zone_minutes")
    offset = timedelta(0) if sign is None else (1 if sign == "+" else -1) * timedelta(
        hours=int(zone_hours), minutes=int(zone_minutes))
    try:
        day = date.fromisoformat(text[start:start + _ISO_DATE_LENGTH])
        return datetime(day.year, day.month, day.day, int(hour), int(minute), int(second or 0),
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone(offset))
    except ValueError:  # an impossible date or time of day, or an offset of a day or more
        return None
