"""masking.without_distant_dates' clock window: an ISO timestamp with an explicit offset whose instant lies more than
an hour from the time the transition was recorded is not a clock reading of the run (the time server converting a
time the action gave): only its date stays masked, and stage 3 checks its time of day and offset exactly. The rows
are the 2026-11-28 run's (data review D1): before, a prediction with the hour moved or not converted at all scored
1.0."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms import masking, replay
from transforms.masking import masked, volatile_spans, without_distant_dates
from transforms.rewards import score
from transforms.stages import split_spans


def _at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(timezone.utc).timestamp()


def _answer(source: str, source_day: str, target: str, target_day: str, target_dst: str, zone: str, difference: str):
    return ('{\n  "source": {\n    "datetime": "%s",\n    "day_of_week": "%s",\n    "is_dst": false,\n'
            '    "timezone": "Europe/London"\n  },\n  "target": {\n    "datetime": "%s",\n    "day_of_week": "%s",\n'
            '    "is_dst": %s,\n    "timezone": "%s"\n  },\n  "time_difference": "%s"\n}'
            % (source, source_day, target, target_day, target_dst, zone, difference))


# (row, action, next observation, timings.action_start), as the run's transitions shard holds them.
SYDNEY_0930 = ("mcp-explore-time-s0-3d1ba2ed:10",
               '{"name": "convert_time", "arguments": {"source_timezone": "Europe/London", "time": "09:30", '
               '"target_timezone": "Australia/Sydney"}}',
               _answer("2026-11-28T09:30:00+00:00", "Saturday", "2026-11-28T20:30:00+11:00", "Saturday", "true",
                       "Australia/Sydney", "+11.0h"),
               _at("2026-11-28T06:50:05.354517+00:00"))
SYDNEY_2315 = ("mcp-explore-time-s0-3d1ba2ed:12",
               '{"name": "convert_time", "arguments": {"source_timezone": "Europe/London", "time": "23:15", '
               '"target_timezone": "Australia/Sydney"}}',
               _answer("2026-11-28T23:15:00+00:00", "Saturday", "2026-11-29T10:15:00+11:00", "Sunday", "true",
                       "Australia/Sydney", "+11.0h"),
               _at("2026-11-28T06:50:05.361333+00:00"))
NEW_YORK_0930 = ("mcp-time-zones-s0-2a3a9d17:1",
                 '{"name": "convert_time", "arguments": {"source_timezone": "Europe/London", "time": "09:30", '
                 '"target_timezone": "America/New_York"}}',
                 _answer("2026-11-28T09:30:00+00:00", "Saturday", "2026-11-28T04:30:00-05:00", "Saturday", "false",
                         "America/New_York", "-5.0h"),
                 _at("2026-11-28T06:48:45.912011+00:00"))
CONVERTED = (SYDNEY_0930, SYDNEY_2315, NEW_YORK_0930)


def _row(record: str, action: str, reference: str, recorded_at_s: float) -> dict:
    # As curation builds it: mask_many's spans, the distant-date filter at the row's recorded time, split_spans.
    spans = masking.mask_many([reference])[0][0]
    spans = without_distant_dates(reference, spans, recorded_at_s)
    exact, formats = split_spans(reference, spans, record, (action,))
    return {"reference": reference, "exact_spans": exact, "format_spans": formats, "rubric_id": "worldline/mcp/v1"}


def _score(prediction: str, row: dict) -> float:
    return score(prediction, row["reference"], row["exact_spans"], row["format_spans"], row["rubric_id"]).reward


def test_a_converted_time_keeps_only_its_date_and_weekday_masked():
    record, _action, text, recorded = SYDNEY_2315
    result = masked(text, without_distant_dates(text, volatile_spans(text), recorded))
    # 23:15 London is 10:15 the next day in Sydney: the date and the weekday are today's (and tomorrow's), masked.
    assert result == _answer("<date>T23:15:00+00:00", "<date>", "<date>T10:15:00+11:00", "<date>", "true",
                             "Australia/Sydney", "+11.0h"), record
    for record, _action, text, recorded in (SYDNEY_0930, NEW_YORK_0930):
        spans = without_distant_dates(text, volatile_spans(text), recorded)
        assert [(text[span["start"]:span["end"]], span["kind"]) for span in spans] == [
            ("2026-11-28", "date"), ("Saturday", "date"), ("2026-11-28", "date"), ("Saturday", "date")], record


@pytest.mark.parametrize("row", CONVERTED, ids=[row[0] for row in CONVERTED])
def test_a_wrong_conversion_scores_0_and_the_reference_1(row):
    record, action, reference, recorded = row
    scored = _row(record, action, reference, recorded)
    assert _score(reference, scored) == 1.0
    target = reference.split('"target"')[1]
    hour = target.split("T", 1)[1][:2]
    moved = reference.replace(f"T{hour}:", f"T{(int(hour) + 5) % 24:02d}:")  # the target's hour moved by 5
    assert moved != reference and _score(moved, scored) == 0.0, record
    unconverted = reference.replace(target.split('"datetime": "')[1][11:19], reference.split("T", 2)[1][:8])
    assert unconverted != reference and _score(unconverted, scored) == 0.0, record  # the source's clock kept


@pytest.mark.parametrize("row", CONVERTED, ids=[row[0] for row in CONVERTED])
def test_the_same_conversion_on_another_day_scores_1(row):
    record, action, reference, recorded = row
    scored = _row(record, action, reference, recorded)
    # A run on another day answers with another date and weekday: that is still right.
    other_day = reference.replace("2026-11-28", "2026-12-01").replace("2026-11-29", "2026-12-02")
    other_day = other_day.replace("Saturday", "Tuesday").replace("Sunday", "Wednesday")
    assert _score(other_day, scored) == 1.0, record


def test_clock_readings_within_the_window_stay_whole_timestamps():
    # get_current_time of the same runs: the instant is the recording's (a second after or before it).
    for text, recorded in (('{\n  "datetime": "2026-11-28T15:48:45+09:00",\n  "day_of_week": "Saturday",\n'
                            '  "is_dst": false,\n  "timezone": "Asia/Tokyo"\n}', _at("2026-11-28T06:48:45.874043Z")),
                           ('{\n  "datetime": "2026-11-28T07:50:05+01:00",\n  "day_of_week": "Saturday",\n'
                            '  "is_dst": false,\n  "timezone": "Europe/Paris"\n}', _at("2026-11-28T06:50:05.339479Z"))):
        spans = volatile_spans(text)
        assert without_distant_dates(text, spans, recorded) is spans
        assert masked(text, spans).startswith('{\n  "datetime": "<timestamp>",\n  "day_of_week": "<date>"')
        row = _row("get_current_time", "", text, recorded)
        assert _score(text.replace(":48:45+", ":58:45+").replace(":50:05+", ":40:05+"), row) == 1.0


def test_the_clock_window_is_an_hour_either_way_and_needs_an_offset():
    recorded = _at("2026-11-28T06:50:05Z")

    def cut(text, **options):
        return masked(text, without_distant_dates(text, volatile_spans(text), recorded, **options))

    # A commit made or a file created earlier in the episode: well within the hour.
    assert cut("created 2026-11-28T06:20:05Z") == "created <timestamp>"
    assert cut("at 2026-11-28T07:50:05+00:00, 2026-11-28T05:50:05Z") == "at <timestamp>, <timestamp>"
    assert cut("at 2026-11-28T07:50:06+00:00, 2026-11-28 05:50:04.5+0000") == (
        "at <date>T07:50:06+00:00, <date> 05:50:04.5+0000")
    assert cut("at 2026-11-28T09:30:00+00:00", clock_window_s=4 * 3600) == "at <timestamp>"
    # With no offset (or only a zone name after it) the instant is unknown: left whole.
    assert cut("at 2026-11-28T09:30:00 and 2026-11-28 23:15:00 UTC") == "at <timestamp> and <timestamp> UTC"
    # A date far from the recording still drops the whole timestamp, as content; so does a date alone.
    assert cut("pinned 2024-01-01 00:00:00+00:00") == "pinned 2024-01-01 00:00:00+00:00"
    # Nearer than the 2-day date window but not on the recording's UTC day: parsed rather than looked up, cut too.
    assert cut('{"datetime": "2026-11-29T22:00:00-05:00", "day_of_week": "Sunday"}') == (
        '{"datetime": "<date>T22:00:00-05:00", "day_of_week": "<date>"}')


def test_a_time_computed_from_now_that_the_rule_makes_exact_is_marked_where_a_replay_shows_it_move():
    # Not caught by the window: an expiry 2 hours on is cut to its date like a converted time. A replay 3 seconds
    # later (the run's replays were 2-3 s after) shows its seconds move, and curation marks them (prepare._with_replays).
    recorded = _at("2026-11-28T06:50:05+00:00")
    text, again = '{"expires_at": "2026-11-28T08:50:05+00:00"}', '{"expires_at": "2026-11-28T08:50:08+00:00"}'
    spans = without_distant_dates(text, volatile_spans(text), recorded)
    assert masked(text, spans) == '{"expires_at": "<date>T08:50:05+00:00"}'
    ranges = replay.replay_spans(text, [again])
    assert replay.other_outcome(text, [again]) is None
    assert masked(text, replay.with_replay_spans(spans, ranges)) == '{"expires_at": "<date>T08:50:<replay>+00:00"}'
