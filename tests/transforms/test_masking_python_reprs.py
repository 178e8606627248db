"""Python's reprs of a clock reading are timestamps: a REPL's `datetime.datetime.now()` answer (the h137 walkthrough's
pyrepl-volatile-s0-2dd791e6:3) has an hour and a minute that a replay a few seconds later reads the same, so only
a rule can tell stage 3 that they are a clock's, not content. A date far from the recording stays content."""

from __future__ import annotations

from datetime import datetime, time

from transforms import masking
from transforms.rewards import score
from transforms.stages import split_spans

RECORDED = "datetime.datetime(2026, 11, 28, 2, 25, 38, 558825)\n>>> "
RECORDED_AT_S = 1795832738.5  # 2026-11-28 02:25:38 UTC, the time.time() the same episode printed


def _spans(text: str) -> list[tuple[str, str]]:
    return [(span["kind"], text[span["start"]:span["end"]]) for span in masking.mask(text)[0]]


def test_datetime_date_time_and_struct_time_reprs_are_clock_readings():
    assert _spans(RECORDED) == [("timestamp", "2026, 11, 28, 2, 25, 38, 558825")]
    assert _spans("[datetime.datetime(2026, 11, 28, 0, 0, tzinfo=datetime.timezone.utc)]") == [
        ("timestamp", "2026, 11, 28, 0, 0")]
    assert _spans("d = datetime.date(2026, 11, 28)") == [("date", "2026, 11, 28")]
    assert _spans("datetime.time(2, 25, 38, 5825)") == [("timestamp", "2, 25, 38, 5825")]
    struct = ("time.struct_time(tm_year=2026, tm_mon=11, tm_mday=28, tm_hour=2, tm_min=25, tm_sec=38, tm_wday=5, "
              "tm_yday=332, tm_isdst=0)")
    assert _spans(struct) == [("timestamp", "2026, tm_mon=11, tm_mday=28, tm_hour=2, tm_min=25, tm_sec=38, "
                                            "tm_wday=5, tm_yday=332")]


def test_what_python_does_not_print_for_them_is_content():
    for text in ("mydatetime.date(2026, 1, 1)", "datetime.date(2026, 1, 1, 3)", "datetime.datetime(2026, 11, 28)",
                 "point(2026, 11, 28, 2, 25)", "time.struct_time(tm_year=2026)"):
        assert _spans(text) == [], text


def test_a_date_far_from_the_recording_is_content_and_a_near_one_is_not():
    text = "datetime.date(1999, 1, 1) datetime.datetime(2026, 11, 28, 2, 25)"
    kept = masking.without_distant_dates(text, masking.mask(text)[0], RECORDED_AT_S)
    assert [text[span["start"]:span["end"]] for span in kept] == ["2026, 11, 28, 2, 25"]
    struct = ("time.struct_time(tm_year=2015, tm_mon=10, tm_mday=21, tm_hour=7, tm_min=28, tm_sec=0, tm_wday=2, "
              "tm_yday=294, tm_isdst=0)")
    assert masking.without_distant_dates(struct, masking.mask(struct)[0], RECORDED_AT_S) == []


def test_stage_3_takes_another_hour_and_minute_but_not_another_form():
    exact, formats = split_spans(RECORDED, masking.mask(RECORDED)[0], "pyrepl-volatile-s0-2dd791e6:3")
    later = "datetime.datetime(2026, 11, 28, 3, 1, 12, 345678)\n>>> "
    assert score(later, RECORDED, exact, formats, "worldline/generic/v1").reward == 1.0
    # A second of 0 with no microsecond: Python's repr would leave it out (the forms it does print: below).
    assert score("datetime.datetime(2026, 11, 28, 3, 1, 0)\n>>> ", RECORDED, exact, formats,
                 "worldline/generic/v1").reward == 0.0


def test_their_fields_are_unpadded_so_any_field_may_change_length():
    exact, formats = split_spans(RECORDED, masking.mask(RECORDED)[0], "pyrepl-volatile-s0-2dd791e6:3")
    for later in ("datetime.datetime(2026, 11, 28, 13, 5, 9, 45678)\n>>> ",
                  "datetime.datetime(2026, 1, 8, 2, 25, 38, 7)\n>>> "):
        assert score(later, RECORDED, exact, formats, "worldline/generic/v1").reward == 1.0, later
    # Python never pads them: a zero-padded hour is not a form the REPL prints.
    padded = "datetime.datetime(2026, 11, 28, 02, 25, 38, 558825)\n>>> "
    assert score(padded, RECORDED, exact, formats, "worldline/generic/v1").reward == 0.0


def _scores(reference: str, *predictions: str) -> list[float]:
    exact, formats = split_spans(reference, masking.mask(reference)[0], "pyrepl-volatile-s0-2dd791e6:3")
    return [score(text, reference, exact, formats, "worldline/generic/v1").reward for text in predictions]


def test_a_repr_may_leave_out_the_zero_fields_python_leaves_out_and_only_those():
    # CPython's datetime and time reprs drop a microsecond of 0, then a second of 0: `now()` prints `..., 2, 57, 15)`
    # once in 10^6 readings, which scored 0 against a reference with a microsecond, while `..., 15, 0)`, never
    # printed, scored 1.
    printed = ["datetime.datetime(2026, 11, 28, 2, 57, 15)\n>>> ", "datetime.datetime(2026, 11, 28, 2, 57)\n>>> ",
               "datetime.datetime(2026, 11, 28, 2, 57, 0, 5)\n>>> ", "datetime.datetime(2026, 11, 28, 0, 0)\n>>> "]
    readings = (datetime(2026, 11, 28, 2, 57, 15), datetime(2026, 11, 28, 2, 57), datetime(2026, 11, 28, 2, 57, 0, 5),
                datetime(2026, 11, 28))
    assert [f"{value!r}\n>>> " for value in readings] == printed
    assert _scores(RECORDED, *printed) == [1.0] * 4
    never = [f"datetime.datetime(2026, 11, 28, 2, 57, {fields})\n>>> " for fields in ("15, 0", "0", "0, 0", "15, 05")]
    assert _scores(RECORDED, *never) == [0.0] * 4
    # A reference recorded on a whole minute takes a reading with a microsecond, not an explicit 0 second.
    assert _scores("datetime.datetime(2026, 11, 28, 2, 57)\n>>> ",
                   "datetime.datetime(2026, 11, 28, 3, 8, 1, 607792)\n>>> ",
                   "datetime.datetime(2026, 11, 28, 3, 8, 0)\n>>> ") == [1.0, 0.0]


def test_a_time_repr_follows_the_same_rule_and_a_struct_time_prints_every_field():
    reference = "datetime.time(2, 25, 38, 5825)\n"
    assert repr(time(2, 57)) == "datetime.time(2, 57)"
    assert _scores(reference, "datetime.time(2, 57)\n", "datetime.time(2, 57, 3)\n", "datetime.time(2, 57, 0, 9)\n",
                   "datetime.time(2, 57, 0)\n", "datetime.time(2, 57, 3, 0)\n") == [1.0, 1.0, 1.0, 0.0, 0.0]
    struct = ("time.struct_time(tm_year=2026, tm_mon=11, tm_mday=28, tm_hour=2, tm_min=25, tm_sec=38, tm_wday=5, "
              "tm_yday=332, tm_isdst=0)")
    assert _scores(struct, struct.replace("tm_sec=38", "tm_sec=0")) == [1.0]
