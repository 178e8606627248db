"""masking.without_distant_dates: a timestamp or date span whose full calendar date is far from the time the
transition was recorded is content (a preserved mtime, a fixture's log line, a pinned commit), not a clock reading.
The observations below are from the curated run of 2026-11-27 (audit D2a) unless said otherwise."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.transforms.test_masking_reference import random_text
from transforms import masking
from transforms.masking import core, dates
from transforms.masking import mask, masked, volatile_spans, without_distant_dates

RECORDED = datetime(2026, 11, 27, 3, 4, 1, tzinfo=timezone.utc).timestamp()  # timings.action_start


def kept(text, recorded_at_s=RECORDED, **options):
    spans = volatile_spans(text)
    return masked(text, without_distant_dates(text, spans, recorded_at_s, **options))


def test_fixed_dates_from_files_fixtures_and_commits_are_content():
    # ls -l --time-style=long-iso of a copy that kept its mtime: the preserved timestamp is the point of the task.
    text = ("-rw-r--r-- 1 root root 19 2024-01-02 03:04 config.ini\n"
            "-rw-r--r-- 1 root root 19 2024-01-02 03:04 config.ini.bak")
    assert mask(text)[1].count("<timestamp>") == 2
    assert kept(text) == text
    # A log fixture's lines (the first one's seconds are a single digit: only its date and minute were matched).
    text = ("2024-05-01T10:01:7 ERROR timeout on shard 7\n2024-05-01T10:01:19 ERROR timeout on shard 19\n"
            "2024-05-01T10:01:33 ERROR timeout on shard 33\n")
    assert kept(text) == text
    # git log of the pinned base commit; the sha stays volatile.
    text = "commit 3064fc3e9a1b\nAuthor: A U Thor <a@example.com>\nDate:   Mon Jan 1 00:00:00 2024 +0000\n"
    assert kept(text) == "commit <hex_id>\nAuthor: A U Thor <a@example.com>\nDate:   Mon Jan 1 00:00:00 2024 +0000\n"
    # Other full-date forms: JavaScript's, "5 Nov 2024", ISO with an offset, a date alone.
    for text in ("created: Fri Nov 27 2020 00:35:13 GMT+0000", "Released 5 Nov 2024.", "at 2024-05-01T10:01:19.5+02:00",
                 "since 2019-03-04", "Wed Nov 25 21:58:00 UTC 2020"):
        assert masked(text, volatile_spans(text)) != text
        assert kept(text) == text, text


def test_clock_readings_near_the_recording_stay_volatile():
    # Real: mcp time and git servers, the filesystem server's Date.toString, ls -l, top, the everything server.
    # (A converted time, "2026-11-28T10:15:00+11:00" 20 hours off, keeps only its date masked: test_masking_clock_window.)
    text = ('"datetime": "2026-11-27T04:04:36+01:00" "2026-11-26T22:04:36-05:00" "2026-11-27T14:04:36+11:00"\n'
            "modified: Fri Nov 27 2026 03:04:34 GMT+0000\ncommitted 2026-11-27 03:03:56+00:00\n"
            "-rw-r--r-- 1 root root 0 Nov 27 03:02 a.txt\ntop - 03:02:25 up 3:48\nresource created at 3:04:35 AM\n"
            "Date: Fri, 27 Nov 2026 03:04:02 GMT\ntoday 2026-11-27, yesterday 2026-11-26, 26 Nov 2026")
    spans = volatile_spans(text)
    assert len(spans) == 14  # with the day of the week of "Fri, 27 Nov 2026"
    assert without_distant_dates(text, spans, RECORDED) is spans


def test_spans_with_no_year_are_kept_however_far_the_recording():
    text = "at 21:58:00, Nov 25 21:58 and Thu, Dec 3, 08:01:09; 3:04:35 PM"
    spans = volatile_spans(text)
    assert len(spans) == 4
    for recorded in (RECORDED, 0.0, RECORDED + 400 * 86400):
        assert without_distant_dates(text, spans, recorded) is spans


def test_impossible_dates_unix_times_and_other_kinds_are_kept():
    text = "on 2024-13-45 at 1500000000 pid 4312 took 12ms in /tmp/tmpab12cd34 id 3f9a2b1c0d"
    spans = volatile_spans(text)
    assert [span["kind"] for span in spans] == ["date", "timestamp", "pid", "duration", "temp_path", "hex_id"]
    assert without_distant_dates(text, spans, RECORDED) is spans


def test_a_time_that_belongs_to_a_dropped_date_goes_with_it():
    # date -R, HTTP headers (Last-Modified of a fixture next to the response's own Date), a 12-hour clock after an
    # ISO date: the rules find the date and the time as two spans.
    # The day of the week before the date goes with it too.
    text = "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\nDate: Fri, 27 Nov 2026 03:04:02 GMT\n"
    assert mask(text)[1] == "Last-Modified: <date>, <date> <timestamp> GMT\nDate: <date>, <date> <timestamp> GMT\n"
    assert kept(text) == "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\nDate: <date>, <date> <timestamp> GMT\n"
    assert kept("created 2015-10-21 7:28:00 AM") == "created 2015-10-21 7:28:00 AM"
    assert kept("created 2015-10-21, 07:28:00") == "created 2015-10-21, 07:28:00"
    # Not when words come between, nor after a date that is kept.
    assert kept("built 2015-10-21 at 07:28:00") == "built 2015-10-21 at <timestamp>"
    assert kept("built 2026-11-27, 07:28:00") == "built <date>, <timestamp>"


def test_the_window_is_measured_from_the_instant_or_from_the_whole_day():
    def dropped(text, **options):
        return kept(text, **options) == text

    # Exactly 2 days before the recording is kept, a second more is not; an offset moves the instant.
    assert not dropped("2026-11-25T03:04:01Z") and dropped("2026-11-25T03:04:00Z")
    assert not dropped("2026-11-29T03:04:01Z") and dropped("2026-11-29T03:04:02Z")
    assert dropped("2026-11-25T13:04:00+10:00") and not dropped("2026-11-25T03:04:00-0001")
    # A date alone is its whole UTC day: 25 Nov ends 1 day 3 hours before the recording, 24 Nov 2 days 3 hours.
    assert not dropped("2026-11-25") and dropped("2026-11-24")
    assert not dropped("29 Nov 2026") and dropped("30 Nov 2026")
    # A narrower window.
    assert dropped("2026-11-25", window_days=1.0) and not dropped("2026-11-25", window_days=1.2)
    assert dropped("2026-11-27T00:00:00Z", window_days=0.1) and not dropped("2026-11-27", window_days=0.0)


def test_without_a_recording_time_or_dated_spans_nothing_is_parsed(monkeypatch):
    def no_parsing(_text):
        raise AssertionError("parsed")

    monkeypatch.setattr(dates, "_date_range", no_parsing)
    text = "2024-01-02 03:04 pid 7"
    spans = volatile_spans(text)
    assert without_distant_dates(text, spans, None) is spans
    others = [span for span in spans if span["kind"] == "pid"]
    assert others and without_distant_dates(text, others, RECORDED) is others
    assert without_distant_dates("", [], RECORDED) == []
    with pytest.raises(AssertionError, match="parsed"):
        without_distant_dates(text, spans, RECORDED)


def test_the_kept_spans_are_the_same_dicts_in_order_and_only_dated_ones_go():
    rng = random.Random(17)
    dropped_any = False
    for _ in range(1500):
        text = random_text(rng)
        spans = volatile_spans(text)
        recorded = rng.choice([RECORDED, 0.0, datetime(2024, 1, 2, tzinfo=timezone.utc).timestamp()])
        result = without_distant_dates(text, spans, recorded)
        # A zoned timestamp far from the recording on a near date is cut to its date: a new dict in its place.
        starts = {span["start"]: span for span in spans}
        whole = [span if any(span is original for original in spans) else starts[span["start"]] for span in result]
        for span, original in zip(result, whole):
            if span is not original:
                assert original["kind"] == "timestamp", (text, span)
                assert span == {"start": original["start"], "end": original["start"] + 10, "kind": "date"}
        kept_ids = {id(span) for span in whole}
        assert [span for span in spans if id(span) in kept_ids] == whole  # a subsequence, same objects
        for span in spans:
            if id(span) not in kept_ids:
                dropped_any = True
                assert span["kind"] in ("timestamp", "date")
        assert masked(text, result) == core._replaced(text, [(s["start"], s["end"], s["kind"]) for s in result])
    assert dropped_any


def test_masked_gives_the_masked_text_of_mask_for_the_same_spans():
    rng = random.Random(23)
    for text in [random_text(rng) for _ in range(800)] + ["", "no spans here", "at /tmp/жж😀-12345 pid 42"]:
        spans, masked_text = mask(text)
        assert masked(text, spans) == masked_text, repr(text)
    assert masked(None, []) == ""


def test_iso_dates_are_dropped_exactly_when_farther_than_the_window():
    # Against datetime's reading of the same texts, around the recording and the window's edges, with offsets from
    # UTC-12 to UTC+14 and windows from none to 40 days (a day wholly within the window is kept unparsed).
    rng = random.Random(29)
    for _ in range(4000):
        window_days = rng.choice([0.0, 0.3, 1.0, 2.0, 2.0, 2.0, 3.5, 40.0])
        recorded = RECORDED + rng.uniform(-2, 2) * 86400
        if rng.random() < 0.5:  # near an edge of the window
            instant = recorded + rng.choice([-1, 1]) * (window_days * 86400 + rng.uniform(-50000, 50000))
        else:  # a clock reading
            instant = recorded + rng.uniform(-100, 100)
        offset_minutes = rng.randrange(-12 * 60, 14 * 60 + 1, 15)
        local = datetime.fromtimestamp(int(instant), timezone.utc) + timedelta(minutes=offset_minutes)
        sign, minutes = "+-"[offset_minutes < 0], abs(offset_minutes)
        form = rng.choice(["instant", "utc", "day"])
        if form == "instant":
            text = local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
            first = last = datetime.fromisoformat(text).timestamp()
        elif form == "utc":
            text = local.strftime("%Y-%m-%d %H:%M:%S")
            first = last = datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
        else:
            text = local.strftime("%Y-%m-%d")
            first = datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
            last = first + 86400
        far = recorded < first - window_days * 86400 or recorded > last + window_days * 86400
        spans = volatile_spans(text)
        assert len(spans) == 1
        assert (without_distant_dates(text, spans, recorded, window_days) == []) == far, (text, recorded, window_days)


def test_a_recording_time_that_is_not_finite_keeps_every_span():
    text = "2024-01-02 03:04"
    spans = volatile_spans(text)
    for recorded in (float("nan"), float("inf"), -float("inf")):
        assert without_distant_dates(text, spans, recorded) is spans
