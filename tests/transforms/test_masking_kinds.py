"""Which kind transforms/masking gives a value the rules read one way and its context says is another: the TIME
column of a process table is CPU time (`usage`), not a clock reading, though the digits rule reads `00:00:01` as one;
uptime's days, hours and minutes are figures of their own, their units labels (content), as the figures of the load
averages are. The ps screens are the real ones of tests/transforms/data (see test_masking_columns.py)."""

from pathlib import Path

import pytest

from transforms.masking import mask, mask_many, volatile_spans

DATA = Path(__file__).parent / "data"
PROMPT = "root@1caff30c61a4:/work# "


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


# ---- ps's TIME column: CPU time -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, times", [("ps.txt", 5), ("ps_ef.txt", 8)])
def test_the_time_column_under_a_ps_header_is_usage(name, times):
    text = (DATA / name).read_text()
    in_time_column = [kind for value, kind in kinds(text) if value.strip() == "00:00:00"]
    assert in_time_column == ["usage"] * times


def test_an_elapsed_column_under_its_header_is_usage_without_the_command_line():
    # ps -o pid,etime,comm scrolled off the screen: only the header names the column.
    text = "    PID     ELAPSED COMMAND\n   4242    01:02:03 sleep\n     18 1-00:00:07 sleep\n"
    assert mask(text)[1] == "    PID     ELAPSED COMMAND\n<pid> <usage> sleep\n<pid> <usage> sleep\n"


def test_plain_ps_masks_its_time_column_as_ps_aux_does_and_no_further():
    text = (DATA / "ps.txt").read_text()
    assert mask(text)[1].splitlines()[2] == "<pid> pts/0 <usage> bash"
    aux = (DATA / "ps_aux.txt").read_text()
    assert mask(aux)[1].splitlines()[5].endswith(" S <usage> <usage> sleep 1000")  # START, TIME
    # A clock reading after the table (the prompt ends it) stays one, as does a time no header or row shape claims.
    text += PROMPT + "date +%T\n12:03:04\n" + PROMPT
    assert kinds(text)[-3:] == [("1caff30c61a4", "hex_id"), ("12:03:04", "timestamp"), ("1caff30c61a4", "hex_id")]
    assert kinds(text)[-5][1] == "usage"  # the last row's TIME
    assert kinds("the PID column\n  12 pts/0 00:00:01 x\n") == [("00:00:01", "timestamp")]


@pytest.mark.parametrize("command, output, expected", [
    # A header the table pass reads, and the same columns without it (read under the command line).
    ("ps -o pid,time,comm", "    PID     TIME COMMAND\n   4242 00:00:03 sleep\n",
     "    PID     TIME COMMAND\n<pid> <usage> sleep\n"),
    ("ps -o pid,time,comm --no-headers", "   4242 00:00:03 sleep\n", "<pid> <usage> sleep\n"),
    # ps's "[DD-]hh:mm:ss": a process that has run for a day.
    ("ps -eo pid,etime,comm --no-headers", "   4242 1-02:03:04 sleep\n", "<pid> <usage> sleep\n"),
    ("ps -ef | grep sleep", "root          18      11  0 01:30 pts/0    00:00:01 sleep 1000\n",
     "root <pid> <pid> <usage> <usage> pts/0 <usage> sleep 1000\n"),
    # STIME "Nov26" (started before today) is usage as in a row without the header (the ps_row pass).
    ("ps -ef", "UID          PID    PPID  C STIME TTY          TIME CMD\n"
               "www-data   12345       1 12 Nov26 ?        1-02:03:04 sleep 99\n",
     "UID          PID    PPID  C STIME TTY          TIME CMD\n"
     "www-data <pid> <pid> <usage> <usage> ? <usage> sleep 99\n"),
])
def test_cpu_and_elapsed_time_columns_are_usage_in_every_layout(command, output, expected):
    text = PROMPT + command + "\n" + output + PROMPT
    assert mask(text)[1] == "root@<hex_id>:/work# " + command + "\n" + expected + "root@<hex_id>:/work# "
    assert mask_many([text, "x"])[0] == mask(text)


# ---- uptime's figures -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("up, figures", [
    ("up 1 day, 10:59,", [("1", "usage"), (" 10:59", "usage")]),
    ("up 3 days,  2:01,", [("3", "usage"), ("  2:01", "usage")]),  # "%2d:%02d": the padding moves with the hours
    ("up 5 min,", [("5", "usage")]),
    ("up 2 days, 45 min,", [("2", "usage"), (" 45", "usage")]),
])
def test_uptimes_figures_are_spans_and_its_units_content(up, figures):
    text = f" 10:59:01 {up}  1 user,  load average: 0.00, 0.01, 0.05"
    assert kinds(text) == [("10:59:01", "timestamp"), *figures, ("  1", "usage"), (" 0.00", "usage"),
                           (" 0.01", "usage"), (" 0.05", "usage")]


def test_uptimes_of_another_width_mask_alike():
    line = "top - 10:59:01 up {},  1 user,  load average: 0.00, 0.01, 0.05"
    assert mask(line.format("3 days,  2:01"))[1] == mask(line.format("12 days, 14:01"))[1] == (
        "top - <timestamp> up <usage> days,<usage>,<usage> user,  load average:<usage>,<usage>,<usage>")
    assert mask(line.format("2 days, 45 min"))[1] == mask(line.format("21 days,  5 min"))[1]


# ---- delays and times to live: settings ----------------------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("worker --delay 2s --jobs 4\nstarted in 0.52s", "worker --delay 2s --jobs 4\nstarted in <duration>"),
    ("Retry policy: retry_delay=5s; Retrying in 2.5s", "Retry policy: retry_delay=5s; Retrying in <duration>"),
    ('{"ttl": "300s", "elapsed": "0.42s"}', '{"ttl": "300s", "elapsed": "<duration>"}'),
    ("cache: TTL = 60s, age 12.5s", "cache: TTL = 60s, age <duration>"),
])
def test_a_delay_or_a_time_to_live_is_a_setting_and_a_measurement_beside_it_is_not(text, masked):
    assert mask(text)[1] == masked
