"""Three fixes from the audit of the ci-check run (8cb7665): uptime's, top's and free's summary figures are a span
each with their labels as content; a rate limit's `per 60 s` window is a setting; a diff's `index a..b` blob ids are
content. The texts are real next observations of that run's shards (ids below)."""

import pytest

from transforms.masking import mask, mask_many, volatile_spans

# terminal-proc-ps-top-s0-a1885a0e:1
TOP = ("root@sandbox:/work# top -b -n 1 | head -5\n"
       "top - 09:26:53 up 10:13,  0 user,  load average: 4.82, 2.40, 2.10\n"
       "Tasks:   8 total,   2 running,   6 sleeping,   0 stopped,   0 zombie\n"
       "%Cpu(s):  0.0 us, 50.0 sy,  0.0 ni,  0.0 id, 50.0 wa,  0.0 hi,  0.0 si,  0.0 st\n"
       "MiB Mem :  24105.6 total,  19127.6 free,    735.5 used,   4577.5 buff/cache\n"
       "MiB Swap:      0.0 total,      0.0 free,      0.0 used.  23370.0 avail Mem\n"
       "root@sandbox:/work#")
# The same screen with every figure but the memory and swap totals (settings: content) of another width, as top
# pads them (%2d:%02d, %3u, %5.1f, %9.1f).
TOP_WIDER = ("root@sandbox:/work# top -b -n 1 | head -5\n"
             "top - 09:26:53 up  2:16, 12 users,  load average: 14.82, 0.40, 12.10\n"
             "Tasks: 118 total,  12 running, 106 sleeping,   0 stopped,   0 zombie\n"
             "%Cpu(s):100.0 us,  5.0 sy,  0.0 ni,100.0 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st\n"
             "MiB Mem :  24105.6 total,   1127.6 free,  12735.5 used,    577.5 buff/cache\n"
             "MiB Swap:      0.0 total,   2048.0 free,      0.0 used.   3370.0 avail Mem\n"
             "root@sandbox:/work#")


def values(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


def usage_values(text):
    return [value for value, kind in values(text) if kind == "usage"]


def test_each_figure_of_tops_summary_is_a_span_with_its_padding():
    assert usage_values(TOP) == [
        "10:13", "  0", " 4.82", " 2.40", " 2.10",
        "   8", "   2", "   6", "   0", "   0",
        "  0.0", " 50.0", "  0.0", "  0.0", " 50.0", "  0.0", "  0.0", "  0.0",
        "  19127.6", "    735.5", "   4577.5",  # not the totals: settings
        "      0.0", "      0.0", "  23370.0"]


def test_the_labels_of_tops_summary_are_content():
    lines = mask(TOP)[1].splitlines()
    assert lines[1:6] == [
        "top - <timestamp> up <usage>,<usage> user,  load average:<usage>,<usage>,<usage>",
        "Tasks:<usage> total,<usage> running,<usage> sleeping,<usage> stopped,<usage> zombie",
        "%Cpu(s):<usage> us,<usage> sy,<usage> ni,<usage> id,<usage> wa,<usage> hi,<usage> si,<usage> st",
        "MiB Mem :  24105.6 total,<usage> free,<usage> used,<usage> buff/cache",
        "MiB Swap:      0.0 total,<usage> free,<usage> used.<usage> avail Mem"]


def test_figures_of_another_width_mask_alike():
    # Only the plural of "user" differs: a label, content.
    assert mask(TOP_WIDER)[1] == mask(TOP)[1].replace("<usage> user,", "<usage> users,")
    assert mask_many([TOP, TOP_WIDER]) == [mask(TOP), mask(TOP_WIDER)]


@pytest.mark.parametrize("text, masked", [
    # uptime, procps: "up %d days, %2d:%02d", "%2d user"; with minutes only
    (" 10:00:01 up 3 days,  2:01,  1 user,  load average: 0.52, 0.58, 0.59",
     " <timestamp> up <usage> days,<usage>,<usage> user,  load average:<usage>,<usage>,<usage>"),
    (" 10:00:01 up 5 min,  0 users,  load average: 0,52, 0,58, 0,59",  # a comma as the decimal mark
     " <timestamp> up <usage> min,<usage> users,  load average:<usage>,<usage>,<usage>"),
    # free -m and free -h: one space separates the columns, the rest is padding; the total column is a setting
    ("Mem:           7953        2760         354          60        4838        4830\n"
     "Swap:          2047           0        2047\n",
     "Mem:           7953 <usage> <usage> <usage> <usage> <usage>\nSwap:          2047 <usage> <usage>\n"),
    ("Mem:           7.8Gi       2.7Gi       354Mi        60Mi       4.7Gi       4.7Gi\nSwap:             0B          0B          0B",
     "Mem:           7.8Gi <usage> <usage> <usage> <usage> <usage>\nSwap:             0B <usage> <usage>"),
])
def test_uptime_and_free_figures_are_spans_of_their_own(text, masked):
    assert mask(text)[1] == masked


def test_free_columns_mask_alike_whatever_their_width():
    narrow = "Mem:         127953        2760         354          60        4838        4830"
    wide = "Mem:         127953      122760       10354        1060      104838      104830"
    assert mask(narrow)[1] == mask(wide)[1]
    assert usage_values(narrow)[:2] == ["       2760", "        354"]  # one space kept out after a figure


# mcp-perturbed-everything-s0-01efc43e:3
RATE_LIMIT = ('[error -32029] Rate limit exceeded: at most 2 calls per 60 s; retry after 60 s\n'
              '{\n  "retryAfterSeconds": 60\n}')


@pytest.mark.parametrize("text", [RATE_LIMIT, "limit: 100 requests per 60 seconds", "at most 1 call Per 0.5s"])
def test_a_rate_limits_window_is_a_setting(text):
    assert mask(text) == ([], text)


@pytest.mark.parametrize("text, value, kind", [
    ("downloaded at 12.3 MB/s", "12.3 MB", "byte_size"),  # a measured rate puts its unit after the figure
    ("5 loops, best of 5: 45.2 ms per loop", "45.2 ms", "duration"),
    ("took 3.1 seconds per file", "3.1 seconds", "duration"),
    ("upper 5s", "5s", "duration"),  # "per" must be a word
])
def test_measured_rates_and_durations_stay_volatile(text, value, kind):
    assert (value, kind) in values(text)


# The diff index lines of terminal-git-diff-stash-s0-8c5dfa62:0, swe-toolz-frequencies-counter-s0-bff48da3:6,
# mcp-git-commit-change-s0-f288f222:1 and swe-inflection-add-titleize-test-s0-a03b081c:9 (whose old id is zeros).
DIFF = ("root@sandbox:/work# cd repo && git --no-pager diff\n"
        "diff --git a/f.txt b/f.txt\n"
        "index 814f4a4..ddc897f 100644\n"
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,3 @@\n one\n-two\n+TWO\n+three\n"
        "root@sandbox:/work/repo#")


@pytest.mark.parametrize("text", [
    DIFF,
    "diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py\nindex 05c36cc..d26db21 100644\n--- a/toolz/itertoolz.py\n",
    "Unstaged changes:\ndiff --git a/calc.py b/calc.py\nindex 4693ad3..08b1076 100644\n--- a/calc.py\n",
    "new file mode 100644\nindex 0000000..261e0be\n--- /dev/null\n",
    "diff --cc f.txt\nindex 1234567,89abcde..fedcba9\n",  # a merge's combined diff
])
def test_a_diffs_blob_ids_are_content(text):
    assert mask(text) == ([], text)


@pytest.mark.parametrize("text, value", [
    ("index 814f4a4..ddc897f 100644 and more\n", "814f4a4"),  # not git's line
    ("  index 814f4a4..ddc897f\n", "814f4a4"),
    ("see index 814f4a4..ddc897f\n", "814f4a4"),
    ("commit 8cb7665a1\nindex 814f4a4..ddc897f 100644\n", "8cb7665a1"),  # a commit id stays volatile
])
def test_hex_ids_outside_a_diffs_index_line_stay_volatile(text, value):
    assert (value, "hex_id") in values(text)
