"""The process table pass of transforms/masking/tables.py: the pid and usage columns of ps and top output, read
under their header; and the line-local rules for top's, free's and uptime's summary lines.

The fixtures in data/ are real screens: `tmux capture-pane -p` of a 160-column tmux session in the terminal sandbox
image (worldline/base:bookworm, procps), with `sleep`, `python3 -m http.server` and a python3 with a command line
longer than the screen running in the background."""

import random
from pathlib import Path

import pytest

from tests.transforms.test_masking_reference import random_text
from transforms import _masking, masking
from transforms.masking import core, rules
from transforms.masking import mask, mask_many, volatile_spans

DATA = Path(__file__).parent / "data"

# The pid columns' values of each fixture, row by row (PID, then PPID or PGID and SID where the table has them).
EXPECTED = {
    "ps_aux.txt": ["1", "10", "11", "18", "20", "23", "34", "35"],
    "ps_ef.txt": ["1", "0", "10", "1", "11", "10", "18", "11", "20", "11", "23", "11", "45", "1", "46", "11"],
    "ps.txt": ["11", "18", "20", "23", "57"],
    "ps_ejH.txt": ["1", "1", "1", "10", "10", "10", "11", "11", "11", "18", "18", "11", "20", "20", "11",
                   "23", "23", "11", "90", "90", "11", "91", "1", "1"],
    "top_b_n_1.txt": ["1", "10", "11", "18", "20", "23", "67", "68"],
    # `ps aux | head -8`: not a tty, so the long command line is not cut but wrapped by the terminal; the row after
    # the wrapped one (pid 78) is still read.
    "ps_aux_head_wrapped.txt": ["1", "10", "11", "18", "20", "23", "78"],
}


def screen(name):
    return (DATA / name).read_text()


def rules_only(text):
    """The line-local rules' spans, without the table pass."""
    return _masking.mask_group([text], rules._COMPILED)[0][0]


def pids(text):
    """The pid spans' values, without the padding a right-aligned column puts in their spans."""
    return [text[s["start"]:s["end"]].lstrip(" ") for s in volatile_spans(text) if s["kind"] == "pid"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pid_columns_of_real_ps_and_top_screens_are_masked(name):
    text = screen(name)
    assert pids(text) == EXPECTED[name]
    assert not any(s["kind"] == "pid" for s in rules_only(text))  # no line-local rule could see them


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_table_spans_only_add_to_the_rules_spans(name):
    text = screen(name)
    spans, masked = mask(text)
    added = [s for s in spans if s not in rules_only(text)]
    assert [s["kind"] for s in added if s["kind"] == "pid"] == ["pid"] * len(EXPECTED[name])
    assert {s["kind"] for s in added} <= {"pid", "usage"}
    assert sorted(spans, key=lambda s: s["start"]) == spans
    assert all(before["end"] <= after["start"] for before, after in zip(spans, spans[1:]))
    assert masked == masking.masked(text, spans)


def test_the_pid_and_usage_columns_of_a_row_are_masked_and_the_rest_is_content():
    lines = mask(screen("ps_aux.txt"))[1].splitlines()
    assert lines[1] == "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"
    # Each value's span holds the padding before it but for one space: its width moves with the value's.
    assert lines[5] == "root <pid> <usage> <usage> <usage> <usage> pts/0    S <usage> <usage> sleep 1000"
    assert lines[-1] == "root@<hex_id>:/work#"  # the prompt ends the table
    ef = mask(screen("ps_ef.txt"))[1].splitlines()
    assert ef[5] == "root <pid> <pid> <usage> <usage> pts/0 <usage> sleep 1000"
    top = mask(screen("top_b_n_1.txt"))[1].splitlines()
    assert top[8] == ("<pid> root      20   0 <usage> <usage> <usage> S <usage> <usage> <usage> "
                      "bash")  # priority and nice are set by whoever started it: content


def test_top_summary_lines_are_usage_and_their_labels_content():
    top = mask(screen("top_b_n_1.txt"))[1].splitlines()
    assert top[1:6] == [
        "top - <timestamp> up <usage>,<usage> user,  load average:<usage>,<usage>,<usage>",
        "Tasks:<usage> total,<usage> running,<usage> sleeping,<usage> stopped,<usage> zombie",
        "%Cpu(s):<usage> us,<usage> sy,<usage> ni,<usage> id,<usage> wa,<usage> hi,<usage> si,<usage> st",
        "MiB Mem :  24105.6 total,<usage> free,<usage> used,<usage> buff/cache",  # the totals: settings
        "MiB Swap:      0.0 total,<usage> free,<usage> used.<usage> avail Mem"]
    assert not any(s["kind"] == "duration" for s in volatile_spans(screen("top_b_n_1.txt")))  # "0.0 us" is CPU


@pytest.mark.parametrize("text, masked", [
    (" 10:00:01 up 3 days,  2:01,  1 user,  load average: 0.52, 0.58, 0.59",
     " <timestamp> up <usage> days,<usage>,<usage> user,  load average:<usage>,<usage>,<usage>"),
    ("10:00  up 5 min, 2 users, load averages: 1.20 1.31 1.44",  # BSD, macOS
     "10:00  up <usage> min,<usage> users, load averages:<usage> <usage> <usage>"),
    ("               total        used        free      shared  buff/cache   available\n"
     "Mem:        7976        3456        1234          12        3285        4123\n"
     "Swap:          0           0           0\n",
     "               total        used        free      shared  buff/cache   available\n"
     "Mem:        7976 <usage> <usage> <usage> <usage> <usage>\nSwap:          0 <usage> <usage>\n"),  # total: content
    ("Mem:           23Gi       1.0Gi        18Gi", "Mem:           23Gi <usage> <usage>"),  # free -h
    ("Threads: 120 total,   1 running", "Threads:<usage> total,<usage> running"),
])
def test_uptime_and_free_figures_are_usage(text, masked):
    assert mask(text)[1] == masked


@pytest.mark.parametrize("text", [
    "Sign up 3 times to win", "set up 2:16, then left", "backed up 12 files",
    "Main PID: 4312 (python3)\n   Tasks: 1 (limit: 4915)\n",  # systemctl status: not top's line
    "the Tasks: 3 total, as said", "Memory: 512", "Swapped 3 items",
])
def test_words_like_the_summary_labels_are_not_usage(text):
    assert not any(s["kind"] == "usage" for s in volatile_spans(text)), text


def test_the_table_ends_where_the_next_command_starts():
    # ps cuts its rows to the screen's width on a tty: a row as long as the screen, then the prompt, then output
    # whose first field is a number. The prompt is not a wrapped row's rest unless the row after it lines up.
    text = screen("ps.txt").replace("     57 pts/0    00:00:00 ps", "     57 pts/0    00:00:00 ps " + "x" * 140)
    assert text.endswith("\nroot@1caff30c61a4:/work#\n")
    text += "root@1caff30c61a4:/work# seq 3\n1\n2\n3\nroot@1caff30c61a4:/work# wc -l notes\n  17 notes\n"
    assert pids(text) == EXPECTED["ps.txt"]
    # The prompt right under the screen-wide row: the "1" after it is not aligned with the pids either.
    cut = text.replace("root@1caff30c61a4:/work#\nroot@1caff30c61a4:/work# seq 3", "root@1caff30c61a4:/work# seq 3")
    assert pids(cut) == EXPECTED["ps.txt"]


def test_header_like_lines_that_are_no_tables_add_nothing():
    texts = ["Main PID: 4312 (python3)\n   Tasks: 1 (limit: 4915)\n", "PID USER\n", "the PID column\n  12 x\n",
             "PID: 77\n  12 apples\n", "USER PID CMD\nroot x 5 sh\n", "PID TTY TIME CMD\n\n   12 pts/0 00:00:00 sh\n"]
    for text in texts:
        assert volatile_spans(text) == rules_only(text), text


def test_a_value_a_rule_masked_already_is_masked_once():
    text = "JOB PID CMD\n[1] 12345 sleep 99\n[2] 12346 sleep 98\n"
    assert [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)] == [("12345", "pid"),
                                                                                      ("12346", "pid")]


def test_mask_mask_many_and_volatile_spans_agree(monkeypatch):
    rng = random.Random(7)
    texts = [screen(name) for name in sorted(EXPECTED)] + [random_text(rng) for _ in range(60)]
    texts += ["PID TTY TIME CMD", "    PID TTY          TIME CMD\n      1 ?        00:00:00 sh", ""]
    rng.shuffle(texts)
    alone = [(volatile_spans(text), core._spans_and_masked(text)) for text in texts]
    assert [spans for spans, _ in alone] == [result[0] for _, result in alone]
    for group_chars in (1, 300, 1 << 16):
        monkeypatch.setattr(core, "_GROUP_CHARS", group_chars)
        assert mask_many(texts) == [result for _, result in alone]
    assert [mask(text) for text in texts] == [result for _, result in alone]
