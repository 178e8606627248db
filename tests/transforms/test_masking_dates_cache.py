"""masking.without_distant_dates reads each distinct dated span's text once (curation's issue-3 throughput): a
screen's clock reading or a fixture's date recurs in the next observation of many steps. What is remembered is the
text's reading, never a decision, which depends on the recording time: the results with the caches cold, warm,
evicted and with the recording moved are the same."""

import random
from datetime import datetime, timedelta, timezone

from transforms.masking import dates, mask_many, without_distant_dates

RECORDED = datetime(2026, 11, 27, 3, 4, 1, tzinfo=timezone.utc).timestamp()


class _Counting:
    """A compiled pattern that counts the texts it is asked to match."""

    def __init__(self, pattern):
        self.pattern, self.texts = pattern, []

    def match(self, text, *args):
        self.texts.append(text)
        return self.pattern.match(text, *args)

    def fullmatch(self, text, *args):
        self.texts.append(text)
        return self.pattern.fullmatch(text, *args)


def test_a_repeated_clock_reading_and_a_repeated_far_date_are_each_read_once(monkeypatch):
    # Texts no other test reads (a year of its own), so that nothing is remembered from before.
    zoned, far = "2026-11-27T03:33:07+05:45", "Mon Jan  1 00:00:00 1979"
    zoned_time, full_date = _Counting(dates._ZONED_TIME), _Counting(dates._FULL_DATE)
    monkeypatch.setattr(dates, "_ZONED_TIME", zoned_time)
    monkeypatch.setattr(dates, "_FULL_DATE", full_date)
    screens = [f"step {step} at {zoned}\nDate:   {far}\n" for step in range(6)]
    for screen, (spans, _) in zip(screens, mask_many(screens)):
        assert [screen[span["start"]:span["end"]] for span in spans if span["kind"] == "timestamp"] == [zoned, far]
        kept = without_distant_dates(screen, spans, RECORDED)
        # The reading 5h45 ahead is 5h16 from the recording: its time of day and offset are content; 1979 is.
        assert [screen[span["start"]:span["end"]] for span in kept if span["kind"] in ("date", "timestamp")] == [
            zoned[:10]]
    assert zoned_time.texts.count(zoned) == 1
    assert full_date.texts.count(far) == 1


def _dated(rng: random.Random) -> str:
    moment = datetime.fromtimestamp(RECORDED, timezone.utc) + timedelta(seconds=rng.choice(
        [rng.randint(-7200, 7200), rng.randint(-4 * 86400, 4 * 86400), rng.randint(-10**9, 10**9)]))
    zone = rng.choice(["", "Z", "+00:00", "+11:00", "-05:00", "+0530", "+14:00"])
    return rng.choice([
        moment.strftime("%Y-%m-%dT%H:%M:%S") + zone, moment.strftime("%Y-%m-%d %H:%M") + zone,
        moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + zone, moment.strftime("%Y-%m-%d (%A)"),
        moment.strftime("%a, %d %b %Y %H:%M:%S GMT"), moment.strftime("%a %b %d %H:%M:%S %Y"),
        f'{{"datetime": "{moment.isoformat()}", "day_of_week": "{moment:%A}"}}', moment.strftime("%b %d %H:%M"),
        f"datetime.datetime({moment.year}, {moment.month}, {moment.day}, {moment.hour}, {moment.minute})"])


def test_results_with_the_caches_warm_and_evicted_equal_those_read_afresh(monkeypatch):
    rng = random.Random(41)
    # Few distinct readings, so that most are remembered, each under several recording times and windows.
    readings = [_dated(rng) for _ in range(60)]
    texts = [" pid 7 ".join(rng.choice(readings) for _ in range(rng.randint(1, 5))) for _ in range(300)]
    calls = [(text, spans, rng.choice([RECORDED, RECORDED + rng.uniform(-3, 3) * 86400, 0.0]),
              rng.choice([{}, {"window_days": 0.5}, {"clock_window_s": 60.0}]))
             for text, (spans, _) in zip(texts, mask_many(texts))]

    def afresh(text, spans, recorded, options):
        dates._ZONED_SECONDS.clear()
        dates._date_range.cache_clear()
        return without_distant_dates(text, spans, recorded, **options)

    expected = [afresh(*call) for call in calls]
    assert sum(result is not call[1] for result, call in zip(expected, calls)) > 100  # dropped or cut often
    monkeypatch.setattr(dates, "_ZONED_SECONDS_MOST", 16)  # emptied many times over
    for _ in range(2):
        for call, result in zip(calls, expected):
            text, spans, recorded, options = call
            again = without_distant_dates(text, spans, recorded, **options)
            assert again == result and (again is spans) == (result is spans), call
            assert len(dates._ZONED_SECONDS) <= 16
