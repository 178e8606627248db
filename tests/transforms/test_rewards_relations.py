"""transforms.rewards' relations between spans (data review N1 of the 2026-11-28 run): a value the reference shows
in two places must agree with itself in the prediction. The time server's convert_time gives one instant as a
source and a target datetime, each with its day of the week; where the target's time of day and offset are exact
text only its date is a span, so a target date that missed the midnight rollover (23:15 London -> 10:15 Sunday in
Sydney) scored 1.0. The relations are read from the reference, so rows curated before them get them too."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms import masking
from transforms.masking import without_distant_dates
from transforms.masking.dates import zoned_instant
from transforms.rewards import Score, compute_score, score
from transforms.stages import split_spans


def _at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(timezone.utc).timestamp()


def _answer(source: str, source_day: str, target: str, target_day: str, zone: str = "Australia/Sydney",
            dst: str = "true", difference: str = "+11.0h") -> str:
    # The time server's convert_time answer, as the run's transitions hold it.
    return ('{\n  "source": {\n    "datetime": "%s",\n    "day_of_week": "%s",\n    "is_dst": false,\n'
            '    "timezone": "Europe/London"\n  },\n  "target": {\n    "datetime": "%s",\n    "day_of_week": "%s",\n'
            '    "is_dst": %s,\n    "timezone": "%s"\n  },\n  "time_difference": "%s"\n}'
            % (source, source_day, target, target_day, dst, zone, difference))


# mcp-explore-time-s0-3d1ba2ed:12 and :10 of the run in /work/ci-check (recorded at 09:08 UTC): 23:15 is cut to its
# dates, 09:30 lies within the clock window and stays whole timestamps.
SYDNEY_2315 = _answer("2026-11-28T23:15:00+00:00", "Saturday", "2026-11-29T10:15:00+11:00", "Sunday")
SYDNEY_0930 = _answer("2026-11-28T09:30:00+00:00", "Saturday", "2026-11-28T20:30:00+11:00", "Saturday")
RECORDED = _at("2026-11-28T09:08:53+00:00")


def _row(reference: str, recorded_at_s: float | None = RECORDED, action: str = "") -> dict:
    # As curation builds it: mask_many's spans, the distant-date filter at the row's recorded time, split_spans.
    spans = masking.mask_many([reference])[0][0]
    spans = without_distant_dates(reference, spans, recorded_at_s)
    exact, formats = split_spans(reference, spans, "relations-row", (action,))
    return {"reference": reference, "exact_spans": exact, "format_spans": formats, "rubric_id": "worldline/mcp/v1"}


def _score(prediction: str, row: dict) -> Score:
    return score(prediction, row["reference"], row["exact_spans"], row["format_spans"], row["rubric_id"])


def _spans(row: dict) -> list[tuple[str, str]]:
    return [(row["reference"][span["start"]:span["end"]], span["kind"]) for span in row["format_spans"]]


@pytest.fixture(scope="module")
def rollover():
    row = _row(SYDNEY_2315)
    # Only the dates and weekdays are spans, or this tests the clock window rather than the relation.
    assert _spans(row) == [("2026-11-28", "date"), ("Saturday", "date"), ("2026-11-29", "date"), ("Sunday", "date")]
    return row


@pytest.mark.parametrize("weekday", ["Sunday", "Saturday"])
def test_a_missed_midnight_rollover_scores_0(rollover, weekday):
    missed = SYDNEY_2315.replace("2026-11-29", "2026-11-28").replace("Sunday", weekday)
    result = _score(missed, rollover)
    assert result == Score(0.0, False, (
        "format span 2 [181,191) kind date: '2026-11-28' gives 2026-11-28T10:15:00+11:00 (2026-11-27T23:15:00Z), "
        "but format span 0 [33,43) '2026-11-28' gives 2026-11-28T23:15:00+00:00 (2026-11-28T23:15:00Z): the "
        "reference gives the two as one instant"))
    # The verl adapter reads the same rule.
    assert compute_score("worldline/mcp/v1", f"<predicted_observation>{missed}</predicted_observation>",
                         {key: rollover[key] for key in ("reference", "exact_spans", "format_spans")}) == 0.0


def test_a_rollover_too_many_scores_0(rollover):
    assert _score(SYDNEY_2315.replace("2026-11-29", "2026-11-30").replace("Sunday", "Monday"), rollover).reward == 0


def test_a_date_no_calendar_has_is_no_instant(rollover):
    # A date of the reference's form, which the format check alone let through.
    result = _score(SYDNEY_2315.replace("2026-11-28", "2026-02-30").replace("Saturday", "Monday"), rollover)
    assert result == Score(0.0, False, "format span 0 [33,43) kind date: '2026-02-30' reads as no instant (no such "
                                       "day or time), and the reference gives it and format span 2 [181,191) as one "
                                       "instant")


def test_the_right_date_with_the_wrong_weekday_scores_0(rollover):
    result = _score(SYDNEY_2315.replace("Sunday", "Saturday"), rollover)
    assert result == Score(0.0, False, "format span 3 [229,235) kind date: 'Saturday' is not the weekday of format "
                                       "span 2 [181,191) '2026-11-29': 2026-11-29 is a Sunday")


@pytest.mark.parametrize(("source", "source_day", "target", "target_day"), [
    ("2026-12-05", "Saturday", "2026-12-06", "Sunday"),
    ("2026-12-31", "Thursday", "2027-01-01", "Friday"),  # over a month's and a year's end
    ("2028-02-28", "Monday", "2028-02-29", "Tuesday"),  # a leap day
])
def test_the_right_conversion_on_any_date_scores_1(rollover, source, source_day, target, target_day):
    assert _score(SYDNEY_2315, rollover) == Score(1.0, True, "")
    other = _answer(f"{source}T23:15:00+00:00", source_day, f"{target}T10:15:00+11:00", target_day)
    assert _score(other, rollover) == Score(1.0, True, "")


def test_whole_timestamps_of_one_instant_are_held_to_it():
    row = _row(SYDNEY_0930)
    assert [kind for _, kind in _spans(row)] == ["timestamp", "date", "timestamp", "date"]
    assert _score(SYDNEY_0930, row).matched
    # Another reading near the recording, converted right, and on another day: right.
    assert _score(SYDNEY_0930.replace("T09:30", "T09:41").replace("T20:30", "T20:41"), row).matched
    other_day = SYDNEY_0930.replace("2026-11-28", "2026-12-01").replace("Saturday", "Tuesday")
    assert _score(other_day, row).matched
    # The target a day off or an hour off: not one instant.
    for wrong in (SYDNEY_0930.replace("2026-11-28T20", "2026-11-29T20").replace('"Saturday",\n    "is_dst": true',
                                                                                '"Sunday",\n    "is_dst": true'),
                  SYDNEY_0930.replace("T20:30", "T21:30")):
        result = _score(wrong, row)
        assert not result.matched and result.reason.endswith("the reference gives the two as one instant"), wrong
    # One instant, but not converted: the offsets are as far apart as the reference's (both moved: a summer time).
    result = _score(SYDNEY_0930.replace("T20:30:00+11:00", "T09:30:00+00:00"), row)
    assert result.reason == ("format span 2 [181,206) kind timestamp: '2026-11-28T09:30:00+00:00' gives "
                             "2026-11-28T09:30:00+00:00, in an offset +0 h from format span 0 [33,58)'s "
                             "2026-11-28T09:30:00+00:00: the reference gives the one instant in offsets +11 h apart")
    assert _score(SYDNEY_0930.replace("T20:30:00+11:00", "T21:30:00+12:00").replace("T09:30:00+00:00",
                                                                                   "T10:30:00+01:00"), row).matched


def test_a_row_curated_before_the_clock_window_gets_the_relation_too():
    # No recording time: nothing is cut, the 23:15 conversion stays two whole timestamps, as older shards hold it.
    row = _row(SYDNEY_2315, recorded_at_s=None)
    assert [kind for _, kind in _spans(row)] == ["timestamp", "date", "timestamp", "date"]
    assert _score(SYDNEY_2315, row).matched
    missed = SYDNEY_2315.replace("2026-11-29T10:15", "2026-11-28T10:15")
    assert not _score(missed, row).matched
    # What those spans let free before is free still, where it is one instant: the hour moved on both sides.
    assert _score(SYDNEY_2315.replace("T23:15", "T22:15").replace("T10:15", "T09:15"), row).matched


def test_readings_in_one_offset_are_not_bound():
    # A file's times in one offset that agree to the second may differ on another run: two readings, not one time
    # shown in two offsets.
    reference = '{"created": "2026-11-28T09:08:50+00:00", "modified": "2026-11-28T09:08:50+00:00"}'
    row = _row(reference)
    assert [kind for _, kind in _spans(row)] == ["timestamp", "timestamp"]
    assert _score(reference.replace("09:08:50+00:00\"}", "09:08:52+00:00\"}"), row).matched


def test_a_weekday_beside_a_clock_reading_names_the_predicted_date():
    text = '{\n  "datetime": "2026-11-28T18:03:48+09:00",\n  "day_of_week": "Saturday",\n  "is_dst": false,\n' \
           '  "timezone": "Asia/Tokyo"\n}'
    row = _row(text, _at("2026-11-28T09:03:48Z"))
    assert [kind for _, kind in _spans(row)] == ["timestamp", "date"]
    assert _score(text.replace("2026-11-28", "2026-11-29").replace("Saturday", "Sunday"), row).matched
    result = _score(text.replace("2026-11-28", "2026-11-29"), row)
    assert result.reason == ("format span 1 [63,71) kind date: 'Saturday' is not the weekday of format span 0 [17,42) "
                             "'2026-11-29T18:03:48+09:00': 2026-11-29 is a Sunday")


def test_a_weekday_in_its_own_span_before_its_date_names_that_date():
    # HTTP's date: the day's name is a span, the date another (before, a contradiction between them scored 1.0).
    http = "Date: Fri, 27 Nov 2026 03:04:05 GMT\n"
    row = _row(http, None)
    assert [kind for _, kind in _spans(row)] == ["date", "date", "timestamp"]
    assert _score(http.replace("Fri, 27", "Sat, 28"), row).matched
    result = _score(http.replace("Fri", "Mon"), row)
    assert result == Score(0.0, False, "format span 0 [6,9) kind date: 'Mon' is not the weekday of format span 1 "
                                       "[11,22) '27 Nov 2026': 2026-11-27 is a Friday")


def test_a_reference_that_does_not_hold_a_relation_binds_nothing():
    # A fixture's weekday may be made up, and a fixture's two times unrelated: the environment printed them.
    made_up = _answer("2026-11-28T23:15:00+00:00", "Monday", "2026-11-29T11:15:00+11:00", "Sunday")
    row = _row(made_up, None)
    assert _score(made_up.replace("Monday", "Friday").replace("T11:15", "T13:15"), row).matched


def test_the_relation_holds_through_a_replay_span():
    # A replay span before the answer may end at several places; the alignment that scores is the one read.
    reference = "took 12 ms\n" + SYDNEY_2315
    row = _row(reference)
    replayed = [{"start": 0, "end": 10, "kind": "replay"}] + [
        span for span in masking.without_distant_dates(reference, masking.mask_many([reference])[0][0], RECORDED)
        if span["start"] >= 10]
    exact, formats = split_spans(reference, replayed, "replayed-row")
    row = {**row, "exact_spans": exact, "format_spans": formats}
    assert _score("took 3 s\n" + SYDNEY_2315, row).matched
    assert not _score("took 3 s\n" + SYDNEY_2315.replace("2026-11-29", "2026-11-28"), row).matched


@pytest.mark.parametrize(("text", "start", "end", "instant"), [
    ("2026-11-29T10:15:00+11:00", 0, 25, "2026-11-28T23:15:00+00:00"),
    ('"2026-11-29T10:15:00+11:00"', 1, 11, "2026-11-28T23:15:00+00:00"),  # a date cut from its time and offset
    ("2026-11-28 05:50:04.5+0000", 0, 26, "2026-11-28T05:50:04.500000+00:00"),
    ("2026-11-28T05:50Z", 0, 17, "2026-11-28T05:50:00+00:00"),
    ("2026-11-28T09:30:00", 0, 19, None),  # no offset: no instant
    ("2026-02-30T09:30:00Z", 0, 20, None),  # no such day
    ("2026-11-28T25:00:00Z", 0, 20, None),
    ("2026-11-28", 0, 10, None),  # a date alone
])
def test_zoned_instant(text, start, end, instant):
    found = zoned_instant(text, start, end)
    assert (found if found is None else found.astimezone(timezone.utc).isoformat()) == instant
