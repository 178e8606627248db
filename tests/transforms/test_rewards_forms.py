"""transforms.rewards' form rule on what tools really print, rows built as curation builds them (the masker's spans,
the text around them exact): zero padding is part of a timestamp's, date's or duration's form, and a weekday in the
same span as its full date must be that date's."""

from __future__ import annotations

import pytest

from transforms import masking
from transforms.rewards import Score, _weekday_contradiction, score
from transforms.stages import split_spans


def _row(reference: str) -> dict:
    exact, formats = split_spans(reference, masking.mask(reference)[0], "forms-row")
    return {"reference": reference, "exact_spans": exact, "format_spans": formats,
            "rubric_id": "worldline/terminal/v1"}


def _score(prediction: str, row: dict) -> Score:
    return score(prediction, row["reference"], row["exact_spans"], row["format_spans"], row["rubric_id"])


LS = "-rw-r--r-- 1 root root   10 Nov 27 03:04 notes.txt\ndrwxr-xr-x 2 root root 4096 Nov  7 23:13 build\n$ "
DATE = "Fri Nov  7 03:04:05 UTC 2026\n$ "  # date(1): the day space-padded, the clock zero-padded
GIT_LOG = "commit 4997019\nAuthor: A <a@example.com>\nDate:   Sat Nov 7 03:04:05 2026 +0000\n\n    msg\n"  # day bare
JS_DATE = "Fri Nov 07 2026 23:19:31 GMT+0000 (Coordinated Universal Time)\n"  # Date.toString: the day zero-padded
JS_TIME = "now: 9:04:01 AM\n"  # toLocaleTimeString: the hour bare
TQDM = "100%|####| 3/3 [00:01<00:02, 1.5it/s]\n"  # minutes zero-padded
GNU_TIME = "0.01user 0.00system 0:05.12elapsed 99%CPU\n"  # minutes bare, seconds zero-padded
PY_TIME = "at 09:30:00 PM\n"  # strftime's %I pads the hour
GO_TIME = "created 2026-11-27T03:04:05.05Z\n"  # RFC3339Nano trims the fraction's trailing zeros


@pytest.mark.parametrize(("reference", "old", "new"), [
    (LS, "Nov 27 03:04", "Dec  1 14:59"),  # ls pads the day with a space, the hour with a zero
    (LS, "Nov  7 23:13", "Jan 12 09:05"),  # `13` becomes `05`: a minute, padded as `13` is
    (DATE, "Fri Nov  7 03:04:05", "Sat Nov 28 13:00:00"),
    (GIT_LOG, "Sat Nov 7 03:04:05", "Fri Nov 27 13:00:00"),
    (JS_DATE, "Fri Nov 07 2026 23:19:31", "Fri Nov 27 2026 09:05:00"),
    (JS_TIME, "9:04:01 AM", "10:14:59 PM"),
    (TQDM, "[00:01<00:02", "[01:15<12:00"),
    (GNU_TIME, "0:05.12", "12:59.00"),
    (GO_TIME, "05.05Z", "05.5Z"),  # a fraction's leading zero is a digit: .05 and .5 (Go's .500) are both printed
])
def test_another_value_as_the_tool_prints_it_scores_1(reference, old, new):
    row = _row(reference)
    assert _score(reference.replace(old, new), row).matched, _score(reference.replace(old, new), row).reason


@pytest.mark.parametrize(("reference", "old", "new", "value", "form"), [
    (PY_TIME, "09:30:00", "9:30:00", "9:30:00 PM", "09:30:00 PM"),  # a padded hour drops its zero
    (LS, "Nov  7 23:13", "Nov 07 23:13", "Nov 07 23:13", "Nov  7 23:13"),  # a space-padded day gains one
    (DATE, "Nov  7", "Nov 07", "Fri Nov 07 03:04:05 UTC 2026", "Fri Nov  7 03:04:05 UTC 2026"),
    (GIT_LOG, "Sat Nov 7", "Sat Nov 07", "Sat Nov 07 03:04:05 2026", "Sat Nov 7 03:04:05 2026"),
    (JS_DATE, "Nov 07", "Nov 7", "Fri Nov 7 2026 23:19:31 GMT", "Fri Nov 07 2026 23:19:31 GMT"),
    (JS_TIME, "9:04:01", "09:04:01", "09:04:01 AM", "9:04:01 AM"),
    (TQDM, "[00:01<", "[0:01<", "0:01", "00:01"),  # a duration's padded minutes too
    (GNU_TIME, "0:05.12", "00:05.12", "00:05.12", "0:05.12"),  # bare minutes gain a zero
])
def test_zero_padding_gained_or_lost_scores_0(reference, old, new, value, form):
    row = _row(reference)
    result = _score(reference.replace(old, new, 1), row)
    assert not result.matched
    assert f"{value!r} is a " in result.reason and result.reason.endswith(f"not in the reference's form {form!r}"), \
        result.reason


@pytest.mark.parametrize(("reference", "old", "wrong", "right", "date"), [
    (DATE, "Fri Nov  7", "Mon Nov  7", "Sat Nov 28", "2026-11-07 is a Saturday"),  # date(1)
    (GIT_LOG, "Sat Nov 7", "Fri Nov 7", "Fri Nov 27", "2026-11-07 is a Saturday"),  # git log
    (JS_DATE, "Fri Nov 07 2026", "Fri Nov 08 2026", "Sun Nov 08 2026", "2026-11-08 is a Sunday"),  # JavaScript
])
def test_a_weekday_that_contradicts_its_date_in_the_same_span_scores_0(reference, old, wrong, right, date):
    row = _row(reference)
    # The references are themselves dates the fixtures made up, so what a right weekday is comes from the calendar.
    assert _score(reference.replace(old, right), row).matched
    result = _score(reference.replace(old, wrong), row)
    assert not result.matched
    assert result.reason.startswith("format span ") and result.reason.endswith(f"its weekday contradicts its date: "
                                                                               f"{date}"), result.reason


def test_weekdays_without_a_year_are_not_checked():
    last = "reboot   system boot  Fri Nov 27 03:04\n"  # last(1): no year, so no weekday follows from the date
    assert _score(last.replace("Fri", "Mon"), _row(last)).matched
    # A day's name in a span of its own is held to its date by a relation (test_rewards_relations.py).


def test_a_reference_whose_weekday_contradicts_its_date_still_scores_1():
    # A fixture's pinned date may be made up: the environment printed it, so it is the reference's to keep.
    made_up = "Mon Nov  7 03:04:05 UTC 2026\n$ "
    assert _score(made_up, _row(made_up)) == Score(1.0, True, "")


@pytest.mark.parametrize(("value", "why"), [
    ("Mon Nov 27 03:04:05 UTC 2026", "its weekday contradicts its date: 2026-11-27 is a Friday"),
    ("Friday, November 28, 2026", "its weekday contradicts its date: 2026-11-28 is a Saturday"),  # full names
    ("Sun 2026-11-07", "its weekday contradicts its date: 2026-11-07 is a Saturday"),  # ISO is year-month-day
    ("Sat 2026-11-07", None),
    ("Mon 11/06/2026", None),  # November 6th or June 11th: read neither way
    ("Mon 27/11/2026", "its weekday contradicts its date: 2026-11-27 is a Friday"),  # only day first reads
    ("Mon Nov 27 03:04:05", None),  # no year
    ("Mon Feb 30 2026 00:00:00 GMT", None),  # no such date: not read
    ("Mon Fri Nov 27 2026", None),  # two names
])
def test_which_weekdays_are_checked(value, why):
    assert _weekday_contradiction(value) == why
