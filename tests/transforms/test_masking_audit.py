"""What an audit of curated output found the masking rules got wrong (transforms/masking/): an elapsed time taken
for a clock reading, a configured timeout masked as a measured duration, the day of the week of a masked date left
as content, and the pid and usage columns of ps rows printed without their header left unmasked."""

from datetime import datetime, timezone

import pytest

from transforms import masking
from transforms.masking import core
from transforms.masking import mask, mask_many, masked, volatile_spans, without_distant_dates


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


# ---- 1. elapsed times are durations, clock readings timestamps ------------------------------------------------

@pytest.mark.parametrize("text, elapsed", [
    ("0.00user 0.00system 0:03.45elapsed 99%CPU (0avgtext+0avgdata 1792maxresident)k", "0:03.45"),  # GNU time
    ("1.20user 0.31system 1:02:03elapsed 0%CPU", "1:02:03"),
    ("Total time: 1:02:03.456789", "1:02:03.456789"),  # Python's timedelta
    ("   " + "━" * 40 + " 12.0/12.0 MB 3.4 MB/s eta 0:00:00", "0:00:00"),  # pip
    ("ETA: 00:12", "00:12"),
    ("Elapsed: 00:01", "00:01"),
    ("elapsed 1:02:03", "1:02:03"),
    ("root        17  0.0  0.1  12345  6789 pts/0    S+   06:01   0:00 grep foo\nCPU time 0:00:07", "0:00:07"),
])
def test_elapsed_times_are_durations(text, elapsed):
    assert (elapsed, "duration") in kinds(text)
    assert not any(kind == "timestamp" for _, kind in kinds(text))


def test_tqdm_elapsed_and_remaining_times_are_durations():
    text = "100%|██████████| 3/3 [00:01<00:02,  2.95it/s]\n  0%|          | 0/3 [00:00<?, ?it/s]"
    assert kinds(text) == [("00:01", "duration"), ("00:02", "duration"), ("00:00", "duration")]


def test_clock_readings_stay_timestamps():
    # A 12-hour clock's suffix, a padded hour, a date right before a one-digit hour.
    text = ("resource created at 3:04:35 AM\ntop - 21:58:00 up 3:04\ncreated 2026-11-25 3:04:35\n"
            "27 Nov 2026, 3:04:35\n2026/11/27 3:04:35\nETA 09:30:00 PM")
    assert kinds(text) == [("3:04:35 AM", "timestamp"), ("21:58:00", "timestamp"), ("2026-11-25", "date"),
                           ("3:04:35", "timestamp"), ("27 Nov 2026", "date"), ("3:04:35", "timestamp"),
                           ("3:04:35", "timestamp"), ("09:30:00 PM", "timestamp")]
    # MM:SS alone says nothing: a score, a line and column, a ratio.
    assert kinds("won 3:04, see main.c:12:30 and 10:30") == []


def test_a_time_after_a_far_date_is_still_dropped_with_it():
    recorded = datetime(2026, 11, 27, 3, 4, 1, tzinfo=timezone.utc).timestamp()
    text = "created 2015-10-21 7:28:00"
    spans = volatile_spans(text)
    assert [span["kind"] for span in spans] == ["date", "timestamp"]
    assert without_distant_dates(text, spans, recorded) == []


# ---- 2. configured durations are content, measured ones volatile ------------------------------------------------

@pytest.mark.parametrize("text", [
    # SWE-agent's timeout notice (collectors/swe.py), after the command's partial output.
    "partial\nThe command was cancelled because it took more than 30 seconds.\n",
    "The command was cancelled because it took more than 2.5 seconds.\n",
    # The mcp client's timeout, as the mcp-json renderer shows the error.
    "[error -32001] Request 'tools/call' timed out after 30 s",
    # Settings in config text and command lines.
    "timeout=5000ms", "interval: 60 s", "--timeout 30s", "$ timeout 5s make test", "read_timeout: 5s",
    '{"timeout": "30s", "interval":"60 s"}', "TIMEOUT = 1m30s", "Interval=2s", "sleep 0.5s", "$ sleep 10.25s; date +%F",
])
def test_durations_that_are_settings_are_content(text):
    assert not any(kind == "duration" for _, kind in kinds(text)), kinds(text)


def test_the_timeout_notice_hashes_as_written():
    text = "building...\nThe command was cancelled because it took more than 30 seconds.\n"
    assert mask(text) == ([], text)
    assert mask(text.replace("30", "60"))[1] != mask(text)[1]  # a different limit is a different observation


@pytest.mark.parametrize("text, duration", [
    ("built in 0.52s", "0.52s"), ("it took 3.1 seconds", "3.1 seconds"), ("elapsed 00:01", "00:01"),
    ("real\t0m1.204s", "0m1.204s"), ("connect timed out after 30.2s", "30.2s"), ("Ran 5 tests in 0.012s", "0.012s"),
    ("===== 3 passed in 0.52s =====", "0.52s"), ("timeout after 5s", "5s"), ("took more than expected: 12ms", "12ms"),
    ("Sleeping 3s before retry", "3s"),
])
def test_measured_durations_stay_volatile(text, duration):
    assert (duration, "duration") in kinds(text)


# ---- 3. the day of the week of a masked date ------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Friday, 2026-11-27", [("Friday", "date"), ("2026-11-27", "date")]),
    ("Date: Fri, 27 Nov 2026 03:04:02 GMT", [("Fri", "date"), ("27 Nov 2026", "date"), ("03:04:02", "timestamp")]),
    ("2026-11-27 (Friday)", [("2026-11-27", "date"), ("Friday", "date")]),
    ("today is 2026-11-27, Fri", [("2026-11-27", "date"), ("Fri", "date")]),
    ("Wed 2026-11-25T21:58:00Z", [("Wed", "date"), ("2026-11-25T21:58:00Z", "timestamp")]),
    ("root     pts/0        10.0.0.1         Fri Nov 27 03:04   still logged in",  # last
     [("Fri", "date"), ("Nov 27 03:04", "timestamp")]),
    ("Wed Nov 25 21:58:00 UTC 2026", [("Wed Nov 25 21:58:00 UTC 2026", "timestamp")]),  # date(1): one span
])
def test_a_day_of_the_week_next_to_a_masked_date_is_masked(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "closed on Sunday", "Friday, as agreed", "Friday 13:00", "see you Mon 3 Nov", "Fridays 2026-11-27",
    "2026-11-27 Sundays", "xFri, 27 Nov 2026 and v2026-11-27 Fri",
])
def test_a_day_of_the_week_without_a_masked_date_next_to_it_is_content(text):
    assert not any(text[s["start"]].isalpha() for s in volatile_spans(text) if s["kind"] == "date"), kinds(text)


# Real answers of the mcp time server (mcp-server-time), as the mcp-json renderer shows them: structuredContent with
# sorted keys, or the text content's own JSON.
GET_CURRENT_TIME = ('{\n  "datetime": "2026-11-27T06:08:29+00:00",\n  "day_of_week": "Friday",\n  "is_dst": false,\n'
                    '  "timezone": "UTC"\n}')
CONVERT_TIME = ('{\n  "source": {\n    "datetime": "2026-11-27T09:30:00+00:00",\n    "day_of_week": "Friday",\n'
                '    "is_dst": false,\n    "timezone": "Europe/London"\n  },\n  "target": {\n'
                '    "datetime": "2026-11-27T04:30:00-05:00",\n    "day_of_week": "Friday",\n    "is_dst": false,\n'
                '    "timezone": "America/New_York"\n  },\n  "time_difference": "-5.0h"\n}')
TEXT_CONTENT = ('{\n  "timezone": "UTC",\n  "datetime": "2026-11-27T06:08:29+00:00",\n  "day_of_week": "Friday",\n'
                '  "is_dst": false\n}')


def test_the_day_of_week_of_the_mcp_time_servers_answers_is_masked():
    assert mask(GET_CURRENT_TIME)[1] == ('{\n  "datetime": "<timestamp>",\n  "day_of_week": "<date>",\n'
                                         '  "is_dst": false,\n  "timezone": "UTC"\n}')
    assert mask(TEXT_CONTENT)[1] == ('{\n  "timezone": "UTC",\n  "datetime": "<timestamp>",\n'
                                     '  "day_of_week": "<date>",\n  "is_dst": false\n}')
    assert [kind for _, kind in kinds(CONVERT_TIME)] == ["timestamp", "date", "timestamp", "date"]
    # The same answers on another day hash the same.
    later = GET_CURRENT_TIME.replace("2026-11-27T06", "2026-11-28T07").replace("Friday", "Saturday")
    assert mask(later)[1] == mask(GET_CURRENT_TIME)[1]
    # Escaped, as JSON inside a JSON string, and compact.
    escaped = '"text": "{\\n  \\"datetime\\": \\"2026-11-27T06:08:29+00:00\\",\\n  \\"day_of_week\\": \\"Friday\\"}"'
    assert kinds(escaped) == [("2026-11-27T06:08:29+00:00", "timestamp"), ("Friday", "date")]
    assert kinds('{"weekday":"Fri","date":"2026-11-27"}') == [("Fri", "date"), ("2026-11-27", "date")]


def test_a_day_of_week_key_with_no_date_in_its_object_is_content():
    text = '{"backup": {"weekday": "Sunday", "at": "03:00"}, "created": "2026-11-27"}'
    assert kinds(text) == [("2026-11-27", "date")]
    assert kinds('{"dayOfWeek": "Monday", "shift": "early"}') == []
    assert kinds('{"day_of_week": "Funday", "date": "2026-11-27"}') == [("2026-11-27", "date")]


def test_a_day_of_the_week_goes_with_its_far_date():
    recorded = datetime(2026, 11, 27, 6, 8, 29, tzinfo=timezone.utc).timestamp()  # GET_CURRENT_TIME's instant

    def kept(text):
        return masked(text, without_distant_dates(text, volatile_spans(text), recorded))

    assert kept("Wed, 21 Oct 2015 07:28:00 GMT") == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert kept("2015-10-21 (Wednesday) and 2026-11-27 (Friday)") == "2015-10-21 (Wednesday) and <date> (<date>)"
    far = '{"datetime": "2015-10-21T07:28:00+00:00", "day_of_week": "Wednesday"}\n'
    assert kept(far + GET_CURRENT_TIME) == far + mask(GET_CURRENT_TIME)[1]
    # A converted time keeps its date and weekday masked, its time of day and offset exact (test_masking_clock_window).
    assert kept(CONVERT_TIME) == mask(CONVERT_TIME)[1].replace(
        "<timestamp>", "<date>T09:30:00+00:00", 1).replace("<timestamp>", "<date>T04:30:00-05:00", 1)


# ---- 4. ps rows without their header ---------------------------------------------------------------------------

def test_a_headerless_ps_aux_row_has_its_pid_and_usage_masked():
    text = "root        17  0.0  0.1  12345  6789 pts/0    S+   06:01   0:00 grep foo"
    # Each value's span holds the padding before it but for one space (the columns are right-aligned).
    assert kinds(text) == [("       17", "pid")] + [(value, "usage") for value in (
        " 0.0", " 0.1", " 12345", " 6789", "  06:01", "  0:00")]
    assert mask(text)[1] == "root <pid> <usage> <usage> <usage> <usage> pts/0    S+ <usage> <usage> grep foo"


def test_ps_aux_and_ps_ef_piped_to_grep_are_read_as_rows():
    # As the terminal shows them: the prompt and command, then the rows (one of them grep itself), then the prompt.
    text = ("root@1caff30c61a4:/work# ps aux | grep python\n"
            "root          20  0.9  0.0  25676 18784 pts/0    S    01:30   0:00 python3 -m http.server 8000\n"
            "systemd+    4312 12.5  1.2 812340 98765 ?        Ssl  Nov26  61:02 python3 worker.py --port 8000\n"
            "1001        4400  0.0  0.0   6480  2200 pts/0    S+   2025     0:00 grep --color=auto python\n"
            "root@1caff30c61a4:/work# ps -ef | grep sleep\n"
            "root          18      11  0 01:30 pts/0    00:00:00 sleep 1000\n"
            "www-data   12345       1 12 Nov26 ?        1-02:03:04 sleep 99\n"
            "root@1caff30c61a4:/work#\n")
    assert mask(text)[1] == (
        "root@<hex_id>:/work# ps aux | grep python\n"
        "root <pid> <usage> <usage> <usage> <usage> pts/0    S <usage> <usage> python3 -m http.server 8000\n"
        "systemd+ <pid> <usage> <usage> <usage> <usage> ?        Ssl <usage> <usage> python3 worker.py --port 8000\n"
        "1001 <pid> <usage> <usage> <usage> <usage> pts/0    S+ <usage> <usage> grep --color=auto python\n"
        "root@<hex_id>:/work# ps -ef | grep sleep\n"
        "root <pid> <pid> <usage> <usage> pts/0 <usage> sleep 1000\n"  # TIME is CPU time, not a clock's
        "www-data <pid> <pid> <usage> <usage> ? <usage> sleep 99\n"
        "root@<hex_id>:/work#\n")


@pytest.mark.parametrize("text", [
    "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN",  # netstat
    "drwxr-xr-x 2 root root 4096 Nov 27 03:04 dir", "total 48", "user 12 apples 3 pears",
    "root 17 0.0 0.1 12345 6789",  # no tty, state, start or time
    "root        17  0.0  0.1  12345  6789 pts/0    S+   06:01   0:00",  # no command
    "root        17  0.0  0.1  12345  6789 pts/0    Q    06:01   0:00 x",  # no such state
    "  17 pts/0    00:00:00 bash", "tests/test_x.py 12 3 75%",
    "Root        17  0.0  0.1  12345  6789 pts/0  S  06:01  0:00 x",  # not a user name
    "x 1 2 3:04:05 ? 00:00:00 y",
])
def test_lines_shaped_otherwise_are_not_ps_rows(text):
    assert not any(kind in ("pid", "usage") for _, kind in kinds(text)), kinds(text)


def test_rows_under_a_header_are_masked_once():
    text = ("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
            "root          18  0.0  0.0   2920  1744 pts/0    S    01:30   0:00 sleep 1000\n")
    spans = volatile_spans(text)
    assert [kind for _, kind in kinds(text)] == ["pid"] + ["usage"] * 6
    assert all(before["end"] <= after["start"] for before, after in zip(spans, spans[1:]))


def test_mask_many_reads_each_texts_rows_alone(monkeypatch):
    row = "root        17  0.0  0.1  12345  6789 pts/0    S+   06:01   0:00 grep foo"
    texts = ["no rows here", row, "pid 7", row + "\n" + row, "", GET_CURRENT_TIME, "42 1 2", CONVERT_TIME, row]
    alone = [core._spans_and_masked(text) for text in texts]
    for group_chars in (1, 40, 1 << 16):
        monkeypatch.setattr(core, "_GROUP_CHARS", group_chars)
        assert mask_many(texts) == alone
    assert [len(spans) for spans, _ in alone] == [0, 7, 1, 14, 0, 2, 0, 4, 7]
