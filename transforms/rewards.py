"""The reference scorer of stage 3's rubric `worldline/<domain>/v1` (docs/formats.md, "Rubric"), so RL with rule
checks does not re-implement it from prose.

A prediction (the text inside the answer's last complete <predicted_observation> tags) matches a stage-3 row when,
taking the reference's spans in order, each exact span is reproduced exactly with nothing added between, and each
format span holds a value of its kind: where the span starts in the prediction, the masker (transforms.masking),
run on the whole predicted text, finds a span of that kind. The masker decides because its rules are
context-sensitive (a number is a pid after `pid` or in a PID column, not elsewhere), so the value's extent is the
masker's span and nothing is guessed. A `replay` span may hold any text, newlines too, or none.

A value of a FORM_KINDS kind (timestamp, date, duration) must also keep the reference value's form (same_form): an
ISO time where ls prints `Nov 27 03:04` is a timestamp, but not one this tool prints, and a model rewarded for it
learns a form the environment never shows. Zero padding is form: `03:04` does not take `3:04`, nor `9:04` take
`09:04` (see same_form). A timestamp or date value that names a weekday and a full date (`Fri Nov 27 03:04:05 UTC
2026`, `Fri Nov 27 2026 23:19:31 GMT`) must name that date's weekday (`Mon Nov 27 ... 2026` is a date no clock
prints), when python-dateutil reads one date from it whichever defaults and day-first order it is given; a value
with no year, a numeric date that reads both ways (`11/07/2026`) or one dateutil cannot read is not checked.
Identifiers and measurements (pid, port, hex_id, uuid, temp_path, byte_size, usage) stay any value of their kind:
their form is the kind.

Values in different spans are held to what the reference shows between them (relations, read from the reference,
so no column or kind is added and older rows get them too): a day's name in a span of its own (`Fri` of `Fri, 27
Nov 2026 03:04:05 GMT`, a JSON object's `day_of_week`) must name the predicted date it goes with, where the
reference's does; and two zoned ISO timestamps the reference gives as one instant in two UTC offsets (the time
server's convert_time source and target, or their dates where only the date is a span) must be one instant, the
offsets as far apart. So a converted time that misses its midnight rollover scores 0, and the right answer on any
date 1.0.

A format span whose predicted text is exactly the reference's value there passes too, whatever today's masker makes
of it (_Alignment._format_ends): a row curated by older masking rules may mark as a value what today's rules read as
content (git's `index 4693ad3..08b1076` blob ids, hex_ids until 50540e2), and the reference is a value of its kind
by definition. Any other text in that place is judged by today's rules alone.

The walk is linear but at replay spans, where the next exact text or format value may be found at several places,
and at a format span where the masker's value and the reference's end apart; those places are tried in order
(after a replay span nearest first, the reference's own value's places after the masker's), each (span, position)
at most once, and at most MAX_PLACES of them offered in all: a prediction with more ways to place its replay spans
fails with that reason rather than stall a trainer (counting only new places, 300 replay spans over 5000 newlines
that cannot match took 20 s; now 0.1 s).

The reward is binary, as the rubric is: 1.0 iff the prediction matches. No partial credit: a share of matched
spans would need an alignment that stays well defined after a line is added or dropped (every later span shifts),
and a diff of 100 KB screens per completion is not cheap; the reason names the first span that failed instead.

Adapters: trl_reward (TRL's GRPOTrainer reward function: completions plus the dataset's columns as keyword
arguments) and compute_score (verl's custom reward function).
"""

import json
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache, lru_cache

# Not a dependency of ours but of apache-beam's (and pandas'), so present wherever curation runs.
from dateutil import parser as dateutil_parser

from transforms import masking
from transforms.masking.dates import zoned_instant
from transforms.masking.weekdays import _weekday_date
from transforms.prompts import ANSWER_TAG, DOMAINS, GENERIC, plugin_domains
from transforms.stages import rubric_id as domain_rubric


# Known without reading the plugins, so that scoring the shipped domains' rows does not depend on what is installed.
_SHIPPED_RUBRICS = frozenset(map(domain_rubric, (*DOMAINS, GENERIC)))


@cache
def _rubric_ids() -> frozenset[str]:
    return _SHIPPED_RUBRICS | frozenset(map(domain_rubric, plugin_domains()))


class _Rubrics(AbstractSet):
    """The rubric ids this scorer implements: each shipped domain's, the generic one, and those of the domains the
    installed plugins describe (transforms.prompts.plugin_domains), read on first use, so that importing the scorer
    reads no plugin. One set of rules scores them all (score reads the id only to refuse one it does not know): the
    id names the domain and the rubric's version, and a row of a plugin's domain is scored where its plugin is
    installed."""

    def __contains__(self, rubric: object) -> bool:
        return rubric in _SHIPPED_RUBRICS or rubric in _rubric_ids()

    def __iter__(self):
        return iter(sorted(_rubric_ids()))

    def __len__(self) -> int:
        return len(_rubric_ids())


RUBRICS = _Rubrics()
REPLAY = "replay"
# What split_spans writes for a volatile span that came without a kind: a value of any kind the masker knows.
ANY_KIND = "volatile"
KINDS = frozenset((*masking.KINDS, REPLAY, ANY_KIND))
MAX_PLACES = 10_000
FORM_KINDS = frozenset(("timestamp", "date", "duration"))
_DATED_KINDS = frozenset(("timestamp", "date"))
# A value's pieces: a run of ASCII digits with the spaces padding it (ls's `Nov  7` pads the day the width of `27`),
# a run of ASCII letters, or any other character.
_PIECES = re.compile(r" *[0-9]+|[A-Za-z]+|.", re.DOTALL)
# Full names, which differ in length from one value to the next (`Friday`, `Saturday`); tools print them in English.
_FULL_NAMES = {name.lower(): group for group, names in (
    ("weekday", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")),
    ("month", ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"))) for name in names}
_WEEKDAY_NAME = re.compile(r"\b(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?"
                           r"|Sun(?:day)?)\b", re.IGNORECASE)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_YEAR = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")
# A numeric date that may be day or month first (11/06/2026); not year first, which is never read day first (dateutil
# reads 2026-11-07 as July 11th under dayfirst), nor one with a month's name.
_NUMERIC_DATE = re.compile(r"(?<![0-9])[0-9]{1,2}([-/.])[0-9]{1,2}\1[0-9]{2,4}")
# Two defaults that differ in year, month and day: a value that lacks one of them parses to two dates.
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
_SHOWN = 40  # characters of expected and predicted text a reason quotes
# The date of an ISO timestamp, which curation masks alone where the time of day and offset are content
# (masking.without_distant_dates: a converted time); the masker, run on the prediction, reads the whole timestamp.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATE_LENGTH = 10

_OPEN, _CLOSE = f"<{ANSWER_TAG}>", f"</{ANSWER_TAG}>"


@dataclass(frozen=True)
class Score:
    reward: float
    matched: bool
    reason: str  # empty when matched, else the first span that failed and why


@dataclass(frozen=True)
class _Segment:
    kind: str | None  # None for an exact span
    start: int
    end: int
    index: int  # in exact_spans or format_spans, as a reason names it


def extract_prediction(completion: str, reference: str | None = None) -> str | None:
    """The text inside the last complete <predicted_observation>...</predicted_observation> of completion, as it is
    (no whitespace stripped: the observation's own leading and trailing newlines count), or None if there is none.

    An observation may show the tags itself (a page or file about worldline's data): given the reference, the answer
    block is the one that ends at the last closing tag and holds as many opening tags as the reference does, so the
    target of such a row gives its reference back. One block is read either way, never the best of several."""
    close = completion.rfind(_CLOSE)
    if close < 0:
        return None
    opening = completion.rfind(_OPEN, 0, close)
    for _ in range(reference.count(_OPEN) if reference else 0):
        if opening < 0:
            break
        opening = completion.rfind(_OPEN, 0, opening)
    return None if opening < 0 else completion[opening + len(_OPEN):close]


def same_form(kind: str, reference: str, value: str) -> bool:
    """Whether value, a value of kind, is in the form of the reference's value: the same pieces in the same order,
    other characters equal, letters and digits free. A letter run keeps its length and each letter its case, but for
    full weekday or month names, any other of the same group (same capitalization). A digit run keeps its length
    (with its padding, or the padding's width with it), but for those that vary with the value: 1 or 2 digits in a
    timestamp or date (an hour, a day: `9:04`, `10:04`), any number before a duration's decimal point. Such a run
    changes length only without a leading zero on either side: a tool that pads a field pads it always (`03:04`,
    not `3:04`) and one that does not never does (`9:04`, not `09:04`); `13` may become `05` (a minute). After a
    decimal point a leading zero is a digit, not padding (Go trims `.050` to `.05`, `.500` to `.5`), so a 1-2 digit
    fraction of a timestamp changes length freely, as before. Space padding (ls's `Nov  7`) is free as ever.
    Python's reprs (`datetime.datetime(2026, 11, 28, 2, 25, 38, 558825)`, `time.struct_time(tm_year=...)`) print
    every field unpadded, so there any digit run changes length (a microsecond `45678`, a `tm_yday` of 3 digits).
    A datetime's or time's repr leaves out a microsecond of 0, and then a second of 0 too, so its form is any of
    those Python prints (_python_clock_form). Does not check weekdays against dates (_weekday_contradiction)."""
    ours, theirs = _PIECES.findall(reference), _PIECES.findall(value)
    unpadded = _PYTHON_FIELDS.fullmatch(reference) is not None
    if unpadded and kind == "timestamp" and "tm_" not in reference:
        return _python_clock_form(reference, value)
    return len(ours) == len(theirs) and all(
        _same_piece(kind, ours[k], theirs[k], fraction=k > 0 and ours[k - 1] == ".", unpadded=unpadded)
        for k in range(len(ours)))


def _same_piece(kind: str, ours: str, theirs: str, fraction: bool, unpadded: bool = False) -> bool:
    if ours[-1].isdigit():  # one regex piece ends with a digit only when it is a digit run
        if not theirs[-1].isdigit():
            return False
        our_digits, their_digits = ours.lstrip(" "), theirs.lstrip(" ")
        if len(our_digits) != len(their_digits):
            length_varies = unpadded or (kind == "duration" and not fraction) or (
                kind in ("timestamp", "date") and max(len(our_digits), len(their_digits)) <= 2)
            if not length_varies or (not fraction and (_zero_padded(our_digits) or _zero_padded(their_digits))):
                return False
        return len(ours) - len(our_digits) == len(theirs) - len(their_digits) or len(ours) == len(theirs)
    if ours.isascii() and ours.isalpha():
        if not (theirs.isascii() and theirs.isalpha()):
            return False
        group = _FULL_NAMES.get(ours.lower())
        if group is not None and _FULL_NAMES.get(theirs.lower()) == group:
            return _capitalization(ours) == _capitalization(theirs)
        return len(ours) == len(theirs) and all(a.isupper() == b.isupper() for a, b in zip(ours, theirs))
    return ours == theirs


def _capitalization(word: str) -> str:
    return "upper" if word.isupper() else "lower" if word.islower() else "title" if word.istitle() else "mixed"


# The fields of the timestamp and date reprs the masker reads (transforms/masking/rules.py), a span from the first field
# to the last: Python ints, `, `-separated, named in a struct_time (`2026, tm_mon=11, ...`).
_PYTHON_FIELDS = re.compile(r"[0-9]+(?:, (?:tm_[a-z]+=)?[0-9]+)+")


def _python_clock_form(reference: str, value: str) -> bool:
    """Whether value holds the fields of a datetime.datetime or datetime.time repr of the reference's type, as Python
    prints them: CPython's __repr__ drops a microsecond of 0, and then a second of 0, so a reference recorded with
    a microsecond may be predicted without one (`..., 2, 57, 15)`, 1 in 10^6 of now()'s readings) and the reverse,
    but a trailing explicit 0 (`..., 15, 0)`) is no reading Python prints. The hour and minute are always printed:
    the first five fields of a datetime, two of a time (the masker's spans hold 5-7 or 2-4)."""
    if _PYTHON_FIELDS.fullmatch(value) is None or "tm_" in value:
        return False
    ours, theirs = reference.split(", "), value.split(", ")
    always = 5 if len(ours) >= 5 else 2
    if not always <= len(theirs) <= always + 2:
        return False
    optional = theirs[always:]
    if optional and int(optional[-1]) == 0:
        return False
    return (all(_same_piece("timestamp", our, their, fraction=False, unpadded=True)
                for our, their in zip(ours[:always], theirs[:always]))
            and not any(_zero_padded(field) for field in optional))


def _zero_padded(digits: str) -> bool:
    return len(digits) >= 2 and digits[0] == "0"


def _utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _hours(offset: timedelta) -> str:
    return f"{offset.total_seconds() / 3600:+g} h"


@lru_cache(maxsize=4096)  # a GRPO group's completions repeat values; a parse costs about 80 us
def _single_date(value: str) -> date | None:
    """The one date dateutil reads from value whichever defaults and day-first order it is given, or None: no year,
    a date that depends on defaults or on reading day or month first, or no date dateutil can read."""
    if _YEAR.search(value) is None:
        return None
    dates = set()
    for dayfirst in (False, True) if _NUMERIC_DATE.search(value) else (False,):
        for default in _DEFAULTS:
            try:
                found = dateutil_parser.parse(value, default=default, dayfirst=dayfirst, ignoretz=True).date()
            except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
                return None
            dates.add(found)
            # Year, month and day all unlike the default's were all read from the value, so the other default
            # reads the same date. (Without a day, dateutil moves to the named weekday: a day, never a contradiction.)
            if found.year != default.year and found.month != default.month and found.day != default.day:
                break
    return dates.pop() if len(dates) == 1 else None


def _weekday_contradiction(value: str) -> str | None:
    """Why value, a timestamp or date, names a weekday its own date does not fall on (`Mon Nov 27 03:04:05 UTC
    2026`), or None: also when it names no weekday or no year, names two, or dateutil reads no single date from it
    (it cannot parse it, or the date depends on defaults or on reading day or month first)."""
    named = {name[:3].lower() for name in _WEEKDAY_NAME.findall(value)}
    if len(named) != 1 or (found := _single_date(value)) is None:
        return None
    weekday = _WEEKDAYS[found.weekday()]
    if weekday[:3].lower() in named:
        return None
    return f"its weekday contradicts its date: {found.isoformat()} is a {weekday}"


# ---- relations between spans: one reading shown twice ------------------------------------------------------------
# A format span is checked alone, so a value that is right in itself may contradict another value of the same
# answer: the time server's convert_time gives a source and a target datetime of one instant, each with the day of
# the week of its own date, and where the target's time of day and offset are content only its date is a span
# (masking.without_distant_dates), so a target date that misses the midnight rollover (23:15 London is 10:15 the
# next day in Sydney, a Sunday) was a date of the right form. What the reference shows to hold between two of its
# values is read from the reference itself, so rows curated before this rule get it too, and no column or kind is
# added:
# - "instant": two zoned ISO timestamps (whole spans, or dates followed by their time of day and offset) whose
#   reference readings are one instant in two UTC offsets must be one instant in the prediction. Two offsets, not
#   one: two readings of a clock in one offset that agree to the second are two readings that may differ, but a
#   time given in two offsets is a conversion.
# - "weekday": a day's name that names its date's weekday in the reference (the date transforms.masking pairs it
#   with: beside it, or in its JSON object) must name the predicted date's weekday, as a day's name and a date
#   within one span already must (_weekday_contradiction). Not checked where dateutil reads no single date from
#   the predicted one.
# The prediction that repeats the reference's values meets them as the reference does; others are read.


@dataclass(frozen=True)
class _Relation:
    kind: str  # "instant" or "weekday"
    first: int  # segment indices: the other reading, or the date a weekday names
    second: int  # the reading a failure is named by, or the weekday
    offsets: timedelta = timedelta(0)  # an instant's: the second reading's UTC offset less the first's


def _relations(reference: str, segments: list[_Segment]) -> tuple[_Relation, ...]:
    """The relations the reference's dated format spans show (see above), in segment order. Not cached: a few
    microseconds a dated span (dateutil's parse of a weekday's date is, in _single_date), and a cache keyed by the
    reference would hold the batch's references (a top screen is 142 KB)."""
    dated = [index for index, segment in enumerate(segments) if segment.kind in _DATED_KINDS]
    if len(dated) < 2:
        return ()
    relations = []
    instants = {index: zoned_instant(reference, segments[index].start, segments[index].end) for index in dated}
    readings = [(index, instant) for index, instant in instants.items() if instant is not None]
    for k, (first, instant) in enumerate(readings):
        relations += [_Relation("instant", first, second, other.utcoffset() - instant.utcoffset())
                      for second, other in readings[k + 1:]
                      if other == instant and other.utcoffset() != instant.utcoffset()]
    spans = [{"start": segments[index].start, "end": segments[index].end, "kind": segments[index].kind}
             for index in dated]
    for k, index in enumerate(dated):
        weekday = reference[segments[index].start:segments[index].end]
        if segments[index].kind != "date" or _WEEKDAY_NAME.fullmatch(weekday) is None:
            continue
        paired = _weekday_date(reference, spans, k)
        if paired is None:
            continue
        day = _single_date(reference[spans[paired]["start"]:spans[paired]["end"]])
        if day is not None and _WEEKDAYS[day.weekday()][:3].lower() == weekday[:3].lower():
            relations.append(_Relation("weekday", dated[paired], index))
    return tuple(sorted(relations, key=lambda relation: (relation.second, relation.first)))


def score(prediction: str | None, reference: str, exact_spans, format_spans, rubric_id: str) -> Score:
    """prediction scored against a stage-3 row's reference and spans (lists of {start, end, kind}, as the row holds
    them). Raises ValueError for an unknown rubric id or spans that do not tile the reference."""
    if rubric_id not in RUBRICS:
        raise ValueError(f"unknown rubric id {rubric_id!r}: this scorer implements {', '.join(RUBRICS)} (a "
                         "plugin's domain is known where the plugin that describes it is installed)")
    segments = _segments(reference, exact_spans, format_spans)
    if prediction is None:
        return Score(0.0, False, f"no complete {_OPEN}...{_CLOSE} in the completion")
    reason = _Alignment(prediction, reference, segments).first_failure()
    return Score(1.0, True, "") if reason is None else Score(0.0, False, reason)


def _segments(reference: str, exact_spans, format_spans) -> list[_Segment]:
    """The spans in order, checked to cover the reference exactly once with known kinds."""
    segments = [_Segment(None, int(span["start"]), int(span["end"]), k) for k, span in enumerate(exact_spans)]
    segments += [_Segment(span["kind"], int(span["start"]), int(span["end"]), k)
                 for k, span in enumerate(format_spans)]
    segments.sort(key=lambda segment: segment.start)
    cursor = 0
    for segment in segments:
        if segment.kind is not None and segment.kind not in KINDS:
            raise ValueError(f"format span {segment.index} [{segment.start},{segment.end}) has kind "
                             f"{segment.kind!r}, which no masking rule is")
        if segment.start != cursor or segment.end <= segment.start:
            raise ValueError(f"{_name(segment)} does not continue the spans before it at offset {cursor}: exact and "
                             "format spans must cover the reference in order, without gaps or overlaps")
        cursor = segment.end
    if cursor != len(reference):
        raise ValueError(f"the spans end at offset {cursor}, the reference at {len(reference)}")
    return segments


def _name(segment: _Segment) -> str:
    what = "exact span" if segment.kind is None else "format span"
    return f"{what} {segment.index} [{segment.start},{segment.end})"


class _Alignment:
    """The walk of the reference's segments over the prediction (see the module's docstring)."""

    def __init__(self, prediction: str, reference: str, segments: list[_Segment]):
        self.prediction, self.reference, self.segments = prediction, reference, segments
        self._rule_spans = None
        self._furthest = (-1, -1, "")  # (segment, position, reason) of the failure that got furthest
        # Where each segment starts in the prediction on the walk being made (the last one: the prediction's end).
        # A walk from segment k rewrites k on, and a branch's places lie past what the walk that made them wrote,
        # so when a walk ends the list holds the whole path it ended.
        self._starts = [0] * (len(segments) + 1)
        self._relations = None  # read from the reference when a walk first ends

    @property
    def rule_spans(self) -> dict[int, dict]:
        """The masker's spans of the prediction by start, computed once and only when a format span needs them."""
        if self._rule_spans is None:
            self._rule_spans = {span["start"]: span for span in masking.mask(self.prediction)[0]}
        return self._rule_spans

    def first_failure(self) -> str | None:
        """None when the prediction matches, else the reason of the failure that got furthest into the reference."""
        places = [iter([(0, 0)])]  # for each replay span being placed, the (segment, position) places left to try
        tried, offered = set(), 0
        while places:
            place = next(places[-1], None)
            if place is None:
                places.pop()
                continue
            offered += 1  # a place tried before costs its lookup too: counted, or they are the stall
            if offered > MAX_PLACES:
                return f"more than {MAX_PLACES} ways to place the replay spans were tried; the furthest failed " \
                       f"with: {self._furthest[2]}"
            if place in tried:
                continue
            tried.add(place)
            walked = self._walk(*place)
            if walked is True:
                return None
            if walked is not None:
                places.append(walked)
        return self._furthest[2] or "no way to place the replay spans fits the prediction"

    def _walk(self, index: int, position: int):
        """Walks from segment index at position: True when the prediction ends with the last segment, an iterator
        of the (segment, position) places to go on from where the walk may go on at more than one (a replay span's
        end, a format value the masker and the reference's value give different ends), None on a failure (recorded
        in _furthest)."""
        prediction, starts = self.prediction, self._starts
        for index in range(index, len(self.segments)):
            segment = self.segments[index]
            starts[index] = position
            if segment.kind is None:
                expected = self.reference[segment.start:segment.end]
                if not prediction.startswith(expected, position):
                    return self._fail(index, position, self._exact_reason(segment, expected, position))
                position += len(expected)
            elif segment.kind == REPLAY:
                return self._replay_ends(index, position)
            else:
                ends = self._format_ends(index, position)
                if not ends:
                    return None
                if len(ends) > 1:
                    return ((index + 1, end) for end in ends)
                position = ends[0]
        if position != len(prediction):
            return self._fail(len(self.segments), position, "the prediction goes on after the reference's end: "
                                                            f"{prediction[position:position + _SHOWN]!r}")
        starts[len(self.segments)] = position
        # The reference meets the relations it shows, so a prediction that is the reference needs none read.
        if prediction != self.reference and (reason := self._relation_failure()) is not None:
            # Another placement of the replay spans may read other values: the search goes on. (A place already
            # tried is not walked again, though the values before it may now differ: at worst a stricter score, on a
            # row with a replay span between a relation's two values.)
            return self._fail(len(self.segments), position, reason)
        return True

    def _relation_failure(self) -> str | None:
        """Why the values of the walk just ended break a relation the reference shows (_relations), or None."""
        if self._relations is None:
            self._relations = _relations(self.reference, self.segments)
        for relation in self._relations:
            first, second = self.segments[relation.first], self.segments[relation.second]
            ours = [self._value(relation.first), self._value(relation.second)]
            if ours == [self.reference[first.start:first.end], self.reference[second.start:second.end]]:
                continue
            if relation.kind == "instant":
                instants = [zoned_instant(self.prediction, self._starts[index], self._starts[index + 1])
                            for index in (relation.first, relation.second)]
                if None in instants:
                    bad, other = (first, second) if instants[0] is None else (second, first)
                    return (f"{_name(bad)} kind {bad.kind}: {ours[bad is second]!r} reads as no instant (no such day "
                            f"or time), and the reference gives it and {_name(other)} as one instant")
                if instants[0] != instants[1]:
                    return (f"{_name(second)} kind {second.kind}: {ours[1]!r} gives {instants[1].isoformat()} "
                            f"({_utc(instants[1])}), but {_name(first)} {ours[0]!r} gives {instants[0].isoformat()} "
                            f"({_utc(instants[0])}): the reference gives the two as one instant")
                if instants[1].utcoffset() - instants[0].utcoffset() != relation.offsets:
                    return (f"{_name(second)} kind {second.kind}: {ours[1]!r} gives {instants[1].isoformat()}, "
                            f"in an offset {_hours(instants[1].utcoffset() - instants[0].utcoffset())} from "
                            f"{_name(first)}'s {instants[0].isoformat()}: the reference gives the one instant in "
                            f"offsets {_hours(relation.offsets)} apart")
            else:
                day = _single_date(ours[0])
                if day is not None and _WEEKDAYS[day.weekday()][:3].lower() != ours[1][:3].lower():
                    return (f"{_name(second)} kind {second.kind}: {ours[1]!r} is not the weekday of "
                            f"{_name(first)} {ours[0]!r}: {day.isoformat()} is a {_WEEKDAYS[day.weekday()]}")
        return None

    def _value(self, index: int) -> str:
        return self.prediction[self._starts[index]:self._starts[index + 1]]

    def _format_ends(self, index: int, position: int) -> list[int]:
        """Where the format segment index may end in the prediction from position: where today's masker's value of
        its kind ends, if the value keeps the reference's form, then where the reference's own value ends, if the
        prediction holds it there. The second is for rows curated by older masking rules (git's `index 4693ad3..`
        blob ids were hex_ids until 50540e2): the reference is a value of its kind by definition, whatever today's
        rules make of its context, and the text around it is exact, so only the reference's text passes that way.
        Empty when neither, the masker's reason recorded."""
        segment, prediction = self.segments[index], self.prediction
        expected = self.reference[segment.start:segment.end]
        ends, reason = [], None
        span = self.rule_spans.get(position)
        if (segment.kind == "date" and span is not None and span["kind"] == "timestamp"
                and span["end"] > position + _ISO_DATE_LENGTH and _ISO_DATE.fullmatch(expected)
                and _ISO_DATE.match(prediction, position)):
            span = {"start": position, "end": position + _ISO_DATE_LENGTH, "kind": "date"}
        if span is None or (segment.kind != ANY_KIND and span["kind"] != segment.kind):
            reason = self._format_reason(index, position, span)
        elif segment.kind in FORM_KINDS and not same_form(segment.kind, expected,
                                                          value := prediction[position:span["end"]]):
            reason = (f"{_name(segment)} kind {segment.kind}: {value!r} is a {segment.kind}, but not in the "
                      f"reference's form {expected!r}")
        # The reference's own value is what the environment printed: checked only when the value differs.
        elif segment.kind in FORM_KINDS and segment.kind != "duration" and value != expected and (
                why := _weekday_contradiction(value)):
            reason = f"{_name(segment)} kind {segment.kind}: {value!r} {why}"
        else:
            ends.append(span["end"])
            if span["end"] - position == len(expected):  # the reference's value would end there too
                return ends
        if prediction.startswith(expected, position) and position + len(expected) not in ends:
            ends.append(position + len(expected))
        if not ends:
            self._fail(index, position, reason)
        return ends

    def _replay_ends(self, index: int, position: int):
        """The places a replay span at position may end, first the nearest: where the next segment's text or a value
        of its kind starts (the prediction's end after the last segment)."""
        if index + 1 == len(self.segments):
            yield index + 1, len(self.prediction)
            return
        following = self.segments[index + 1]
        if following.kind is None:
            expected = self.reference[following.start:following.end]
            end = self.prediction.find(expected, position)
            if end < 0:
                self._fail(index + 1, position, f"{_name(following)}: expected {expected[:_SHOWN]!r} after the "
                                                f"replay span at prediction offset {position}, found nowhere")
            while end >= 0:
                yield index + 1, end
                end = self.prediction.find(expected, end + 1)
        else:  # a rule span: replay spans are the parts of a replay's changes no rule span covers
            starts = sorted(start for start, span in self.rule_spans.items() if start >= position
                            and following.kind in (span["kind"], ANY_KIND))
            # Then where the reference's own value is (_format_ends), after every value of today's rules, so that
            # what those placed as before is tried as before.
            expected = self.reference[following.start:following.end]
            own = self.prediction.find(expected, position)
            if not starts and own < 0:
                self._fail(index + 1, position, f"{_name(following)} kind {following.kind}: no value after the "
                                                f"replay span at prediction offset {position}")
            for start in starts:
                yield index + 1, start
            placed = set(starts)
            while own >= 0:
                if own not in placed:
                    yield index + 1, own
                own = self.prediction.find(expected, own + 1)

    def _fail(self, index: int, position: int, reason: str) -> None:
        if (index, position) > self._furthest[:2]:
            self._furthest = (index, position, reason)
        return None

    def _exact_reason(self, segment: _Segment, expected: str, position: int) -> str:
        got = self.prediction[position:position + len(expected)]
        same = next((k for k, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
        shown = self.prediction[position + same:position + same + _SHOWN]
        return (f"{_name(segment)}: expected {expected[same:same + _SHOWN]!r} at reference offset "
                f"{segment.start + same}, got " + (repr(shown) if shown else "the prediction's end"))

    def _format_reason(self, index: int, position: int, span: dict | None) -> str:
        segment = self.segments[index]
        kind = "a value of any kind" if segment.kind == ANY_KIND else f"a {segment.kind}"
        found = f" (the masker reads a {span['kind']} there)" if span is not None else ""
        same = self.reference[segment.start:segment.end]
        if self.prediction.startswith(same, position):
            # The rules read a value with the text around it (uptime's figures only in a whole uptime line, a pid
            # column under its header): what broke it is near, often after it.
            return (f"{_name(segment)} kind {segment.kind}: the reference's {same!r} is there, but not {kind} in "
                    f"the predicted text's context{found}")
        return f"{_name(segment)} kind {segment.kind}: {self._value_at(index, position)!r} is not {kind}{found}"

    def _value_at(self, index: int, position: int) -> str:
        """What the prediction holds where a format span failed, for its reason: up to where the next exact span's
        text starts on the same line, else the line's end."""
        line_end = self.prediction.find("\n", position)
        line_end = len(self.prediction) if line_end < 0 else line_end
        end = line_end
        if index + 1 < len(self.segments) and self.segments[index + 1].kind is None:
            following = self.segments[index + 1]
            head = self.reference[following.start:following.end].split("\n", 1)[0]
            if head and (found := self.prediction.find(head, position, line_end + len(head))) >= 0:
                end = min(found, line_end)
        return self.prediction[position:min(end, position + _SHOWN)]


# ---- adapters -------------------------------------------------------------------------------------------------
def completion_text(completion) -> str:
    """A TRL completion's text: the string itself, or a conversational completion's (a list of messages) last
    message's content."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"] if completion else ""
    if isinstance(content, list):  # content parts, as multimodal chat templates take them
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def trl_reward(completions, reference, exact_spans, format_spans, rubric_id, **kwargs) -> list[float]:
    """A reward function for TRL's GRPOTrainer (`reward_funcs=[trl_reward]`): TRL passes the stage-3 dataset's
    columns as lists aligned with completions, and the rest (prompts, trainer_state...) in kwargs."""
    return [score(extract_prediction(completion_text(completion), row[0]), *row).reward
            for completion, *row in zip(completions, reference, exact_spans, format_spans, rubric_id, strict=True)]


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """verl's custom reward function (`custom_reward_function.path` = this file, `.name` = compute_score): the row's
    data_source is its rubric_id, and reward_model.ground_truth holds reference, exact_spans and format_spans (a
    dict, or the same as a JSON string). Other keywords are ignored: verl passes its config's reward_kwargs, and its
    reward loop adds reward_router_address and reward_model_tokenizer."""
    if isinstance(ground_truth, (str, bytes)):
        ground_truth = json.loads(ground_truth)
    return score(extract_prediction(solution_str, ground_truth["reference"]), ground_truth["reference"], ground_truth["exact_spans"],
                 ground_truth["format_spans"], data_source).reward
