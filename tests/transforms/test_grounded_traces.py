"""The grounded trace on real observations, for two defects an audit of real output found.

A terminal pager (less, man) that scrolls shows other lines of the file in the same screen rows: the rows were
paired as one line changed ("'line 2 of the report' becomes 'line 251 of the report'"), because lines of one file
look alike. They are lines gone and lines new. The screens below are what `less` and `man` show in an 80x24 pty (or
the 40-row pane of the real task), as pyte, the emulator the terminal renderer replays captures with, displays them.

"Values that vary between runs: 1 (port)" closed nearly every web trace: the local site's port in the URL line,
which the state showed too. A value the state already shows can be copied from it; only new ones are counted.
"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest

from schemas.render import render
from tests.formats.test_reasoning import _WINDOW, _reference_line_diff
from transforms.masking import volatile_spans
from transforms.reasoning import ReasoningError, make_synthesizer
from transforms.reasoning._linediff import changed_regions, line_diff, new_spans
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.headers import HEADERS

DATA = Path(__file__).parent / "data"
# A real browser-sandbox bundle: the forum's search page, recorded by the web collector.
WEB_BUNDLE = Path(__file__).parents[1] / "formats" / "data" / "web_forum_search.json"


def _terminal(state: str, next_text: str, spans: list[dict] | None = None) -> str:
    return grounded_trace({"domain": "terminal", "state_text": state, "next_text": next_text,
                           "next_volatile_spans": spans})


# ---- a pager that scrolls ---------------------------------------------------------------------------------------

def _less_screen(first: int, rows: int, prompt: str, marked: int | None = None) -> str:
    """What `less report.txt` shows with its first row at the file's line `first`, on a terminal of rows + 1 rows:
    the report's lines, then less's prompt (the file's name at the start, ':' after a move)."""
    lines = [f"line {n} {'has the ANSWER' if n == marked else 'of the report'}" for n in range(first, first + rows)]
    return "\n".join(lines + [prompt])


def test_a_pager_that_jumps_to_other_lines_of_the_file_shows_lines_gone_and_new():
    """The audit's row (terminal-files-less-pager, a 40-row pane): `/ANSWER` moved less from line 1 to line 250. No
    row of the new screen is a row of the old one changed."""
    before = _less_screen(1, 39, "report.txt")
    after = _less_screen(250, 39, ":", marked=250)
    assert _terminal(before, after) == (
        "40 lines appear: 'line 250 has the ANSWER', 'line 251 of the report', 'line 252 of the report' and 37 more. "
        "40 lines disappear: 'line 1 of the report', 'line 2 of the report', 'line 3 of the report' and 37 more.")


def test_a_pager_page_forward_and_half_a_page_show_the_lines_that_scrolled_in_and_out():
    # 80x24: `250g`, then space (a page: no line in common), then `d` (half a page: 11 lines in common).
    jumped = _less_screen(1, 23, "report.txt"), _less_screen(250, 23, ":")
    assert _terminal(*jumped) == (
        "24 lines appear: 'line 250 of the report', 'line 251 of the report', 'line 252 of the report' and 21 more. "
        "24 lines disappear: 'line 1 of the report', 'line 2 of the report', 'line 3 of the report' and 21 more.")
    paged = _less_screen(250, 23, ":"), _less_screen(273, 23, ":")
    assert _terminal(*paged) == (
        "23 lines appear: 'line 273 of the report', 'line 274 of the report', 'line 275 of the report' and 20 more. "
        "23 lines disappear: 'line 250 of the report', 'line 251 of the report', 'line 252 of the report' and 20 "
        "more.")
    half = _less_screen(273, 23, ":"), _less_screen(285, 23, ":")
    assert _terminal(*half) == (
        "12 lines appear: 'line 296 of the report', 'line 297 of the report', 'line 298 of the report' and 9 more. "
        "12 lines disappear: 'line 273 of the report', 'line 274 of the report', 'line 275 of the report' and 9 more.")


# `man tar` in an 80x24 pty, then space. The blank lines between the synopsis lines stay where they were, so the diff
# cuts the screen into one-line replaces: "tar -d [-f ARCHIVE] [OPTIONS] [FILE...]" was paired with "tar --append
# [-f ARCHIVE] [OPTIONS] [FILE...]", two lines of the synopsis that look alike.
MAN_TAR = ("TAR(1)                          GNU TAR Manual                          TAR(1)\n\nNAME\n"
           "       tar - an archiving utility\n\nSYNOPSIS\n   Traditional usage\n"
           "       tar {A|c|d|r|t|u|x}[GnSkUWOmpsMBiajJzZhPlRvwo] [ARG...]\n\n   UNIX-style usage\n"
           "       tar -A [OPTIONS] ARCHIVE ARCHIVE\n\n       tar -c [-f ARCHIVE] [OPTIONS] [FILE...]\n\n"
           "       tar -d [-f ARCHIVE] [OPTIONS] [FILE...]\n\n       tar -t [-f ARCHIVE] [OPTIONS] [MEMBER...]\n\n"
           "       tar -r [-f ARCHIVE] [OPTIONS] [FILE...]\n\n       tar -u [-f ARCHIVE] [OPTIONS] [FILE...]\n\n"
           "       tar -x [-f ARCHIVE] [OPTIONS] [MEMBER...]\n"
           " Manual page tar(1) line 1 (press h for help or q to quit)")
MAN_TAR_PAGE_2 = ("\n   GNU-style usage\n       tar {--catenate|--concatenate} [OPTIONS] ARCHIVE ARCHIVE\n\n"
                  "       tar --create [--file ARCHIVE] [OPTIONS] [FILE...]\n\n"
                  "       tar {--diff|--compare} [--file ARCHIVE] [OPTIONS] [FILE...]\n\n"
                  "       tar --delete [--file ARCHIVE] [OPTIONS] [MEMBER...]\n\n"
                  "       tar --append [-f ARCHIVE] [OPTIONS] [FILE...]\n\n"
                  "       tar --list [-f ARCHIVE] [OPTIONS] [MEMBER...]\n\n"
                  "       tar --test-label [--file ARCHIVE] [OPTIONS] [LABEL...]\n\n"
                  "       tar --update [--file ARCHIVE] [OPTIONS] [FILE...]\n\n"
                  "       tar --update [-f ARCHIVE] [OPTIONS] [FILE...]\n\n"
                  "       tar {--extract|--get} [-f ARCHIVE] [OPTIONS] [MEMBER...]\n\nNOTE\n"
                  " Manual page tar(1) line 24 (press h for help or q to quit)")


def test_a_man_page_scrolled_past_its_synopsis_pairs_none_of_its_lines():
    """Only man's status line, the last row of both screens, is one line changed."""
    trace = _terminal(MAN_TAR, MAN_TAR_PAGE_2)
    assert trace == (
        "14 lines appear (2 blank): '   GNU-style usage', '       tar {--catenate|--concatenate} [OPTIONS] ARCHIVE "
        "ARCHIVE', '       tar --create [--file ARCHIVE] [OPTIONS] [FILE...]' and 9 more non-blank. 14 lines disappear: "
        "'TAR(1)                          GNU TAR Manual                         …', 'NAME', '       tar - an "
        "archiving utility' and 11 more. 1 line changes: ' Manual page tar(1) line 1 (press h for help or q to quit)' "
        "becomes ' Manual page tar(1) line 24 (press h for help or q to quit)'.")


def test_log_lines_under_one_label_scrolled_in_a_pager_are_not_one_line_changed():
    """uvicorn's access log in less: every line has the head "INFO:", as a web page's "URL:" line has, but here the
    label names a kind of line, not one line."""
    def log_screen(first):
        return "\n".join([f'INFO:     127.0.0.1:{40000 + n} - "GET /items/{n} HTTP/1.1" 200 OK'
                          for n in range(first, first + 23)] + [":"])

    trace = _terminal(log_screen(0), log_screen(23))
    assert trace.startswith("23 lines appear: ") and "23 lines disappear: " in trace and "change" not in trace


def test_rows_that_are_one_line_changed_still_pair():
    """What pairing is for: a prompt that got its command (beside the new prompt after `cd`, which only looks like
    it: the real first step of terminal-git-branch-merge), rows of a screen refreshed in place, a web page's URL,
    Focused line and element."""
    state = "root@sandbox:/work#"
    after = ("root@sandbox:/work# cd repo && git switch -c feature\nSwitched to a new branch 'feature'\n"
             "root@sandbox:/work/repo#")
    assert line_diff(state, after, "line")[0] == [
        "2 lines appear: \"Switched to a new branch 'feature'\", 'root@sandbox:/work/repo#'.",
        "1 line changes: 'root@sandbox:/work#' becomes 'root@sandbox:/work# cd repo && git switch -c feature'."]
    # top refreshed in place (a real `top -b -n 1` screen, 3 s later): its clock, CPU line and one process's row.
    screen = "\n".join((DATA / "top_b_n_1.txt").read_text().splitlines()[1:-1])
    refreshed = screen.replace("01:30:39", "01:30:42").replace(" 0.0 us,  0.0 sy", " 0.3 us,  0.2 sy").replace(
        "100.0 id", " 99.5 id").replace("S   0.0   0.1   0:00.04 python3", "S   0.3   0.1   0:00.05 python3")
    assert line_diff(screen, refreshed, "line")[0] == [
        "3 lines change: 'top - 01:30:39 up  2:16,  0 user,  load average: 0.75, 1.66, 1.72' becomes 'top - 01:30:42 "
        "up  2:16,  0 user,  load average: 0.75, 1.66, 1.72'; '%Cpu(s):  0.0 us,  0.0 sy,  0.0 ni,100.0 id,  0.0 wa,  0.0 hi,  0.0 si,…' becomes "
        "'%Cpu(s):  0.3 us,  0.2 sy,  0.0 ni, 99.5 id,  0.0 wa,  0.0 hi,  0.0 si,…'; '     20 root      20   0   25676  "
        "18784   9536 S   0.0   0.1   0:00.04 …' becomes '     20 root      20   0   25676  18784   9536 S   0.3   "
        "0.1   0:00.05 …'."]
    # The search submitted: the URL, the Focused line and the box itself change (its focus gone).
    page = render("web-json", WEB_BUNDLE.read_bytes())
    submitted = page.replace("search?q=", "search?q=tomato").replace("value='tomato', focused", "value='tomato'")
    assert line_diff(page, submitted, "element")[0] == [
        "3 elements change: 'URL: http://127.0.0.1:34107/search?q=' becomes 'URL: http://127.0.0.1:34107/search?q="
        "tomato'; \"Focused: [7] searchbox 'Search posts', value='tomato', focused\" becomes \"Focused: [7] searchbox "
        "'Search posts', value='tomato'\"; \"\\t\\t\\t\\t[7] searchbox 'Search posts', value='tomato', focused\" "
        "becomes \"\\t\\t\\t\\t[7] searchbox 'Search posts', value='tomato'\"."]


def _file_screens(rng: random.Random) -> tuple[str, str]:
    """Two screens of one file a pager scrolled: alike lines (numbered, labelled, a man page's synopsis, prompts,
    blanks), a window moved by a random distance, and a status row that may change."""
    kinds = [lambda n: f"line {n} of the report", lambda n: f"INFO:     GET /items/{n % 7} 200",
             lambda n: f"       tar -{'cdtrux'[n % 6]} [-f ARCHIVE] [OPTIONS] [FILE...]", lambda n: "",
             lambda n: f"root@box:/w{n % 3}#" + (" ls" if n % 2 else ""), lambda n: f"Count: {n % 5}",
             lambda n: f"[{n % 9}] button 'Item {n % 4}'"]
    chosen = rng.sample(kinds, rng.randint(1, 4))
    lines = [rng.choice(chosen)(n) for n in range(300)]
    rows, first = rng.randint(1, 12), rng.randrange(250)
    second = max(0, first + rng.choice([0, 1, 2, rng.randint(-12, 12), rng.randint(12, 40)]))
    def screen(top):
        status = rng.choice([":", f" Manual page x(1) line {top + 1} (press h for help or q to quit)", "(END)"])
        return "\n".join(lines[top:top + rows] + [status])
    return screen(first), screen(second)


def test_scrolled_screens_pair_as_the_reference_pairs_them():
    """The compiled pairing (tests/formats/test_reasoning.py's reference states the rule) on screens whose lines look
    alike across the diff's regions, where the nearest changed lines decide."""
    rng = random.Random(12)
    for _ in range(3000):
        state, next_text = _file_screens(rng)
        unit = rng.choice(["line", "element"])
        assert line_diff(state, next_text, unit) == _reference_line_diff(state, next_text, unit), (state, next_text)


# ---- volatile values -------------------------------------------------------------------------------------------

def _web_rows() -> tuple[dict, str]:
    page = render("web-json", WEB_BUNDLE.read_bytes())
    searched = page.replace("search?q=", "search?q=tomato").replace(
        "[12] heading 'Search results for \"\"', level=1\n\t\tStaticText 'No posts match.'",
        "[12] heading 'Search results for \"tomato\"', level=1\n\t\t[13] link 'Tomato blight in July'")
    return {"domain": "web", "state_text": page, "next_text": searched,
            "next_volatile_spans": volatile_spans(searched)}, searched


def test_a_port_the_state_already_showed_is_not_counted_as_varying():
    row, searched = _web_rows()
    assert [(searched[s["start"]:s["end"]], s["kind"]) for s in row["next_volatile_spans"]] == [("34107", "port")]
    trace = grounded_trace(row)
    assert "vary between runs" not in trace
    assert trace.startswith("The URL becomes 'http://127.0.0.1:34107/search?q=tomato'. 2 elements appear: ")
    # A new tab's first page, from about:blank: the port is new.
    blank = "URL: about:blank\nTitle: \nTabs: [0] about:blank (active)\nRootWebArea '', focused"
    assert grounded_trace({**row, "state_text": blank}).endswith("New values that vary between runs: 1 (port).")
    assert grounded_trace({**row, "state_text": ""}).endswith("New values that vary between runs: 1 (port).")


def test_a_process_table_counts_only_the_values_the_state_does_not_show():
    """A real `top -b -n 1` in tmux: its host name (a hex id) is in the prompt the state showed; run again, only the
    clock, one process's CPU time and the short values on their lines are new."""
    top = (DATA / "top_b_n_1.txt").read_text()
    prompt = top.split("\n", 1)[0].split("# ", 1)[0] + "#"
    kinds = [span["kind"] for span in volatile_spans(top)]
    # Each figure of the summary lines its own span, but the memory and swap totals (settings).
    assert len(kinds) == 83 and kinds.count("hex_id") == 2
    assert _terminal(prompt, top, volatile_spans(top)).endswith(
        "New values that vary between runs: 81 (pid, timestamp, usage).")
    # The same command at the next prompt: the first run stays on screen above the second.
    second = top.replace("01:30:39", "01:30:44").replace("0:00.04 python3", "0:00.05 python3")
    again = top.rstrip("\n").rsplit("\n", 1)[0] + "\n" + second
    assert len(volatile_spans(again)) == 165
    # New: the clock, the CPU time, and two 1-2 character values on the lines those changed, the user count `0` and
    # python3's pid `20`: so short a value counts as shown only on a line the state shows whole.
    assert _terminal(top, again, volatile_spans(again)).endswith(
        "New values that vary between runs: 4 (pid, timestamp, usage).")


def test_a_value_counts_as_shown_only_whole():
    """pid 42 is new though the state shows 1420; pid 1420 is not."""
    state = "$ sleep 1000 &\n[1] 1420\n$"
    after = "$ sleep 1000 &\n[1] 1420\n$ sleep 2000 &\n[2] 42\n$"
    spans = volatile_spans(after)
    assert [after[s["start"]:s["end"]] for s in spans] == ["1420", "42"]
    assert _terminal(state, after, spans) == (
        "2 lines appear: '$ sleep 2000 &', '[2] 42'. New values that vary between runs: 1 (pid).")
    assert "New values that vary between runs: 2 (pid)." in _terminal(state.replace("1420", "14200"), after, spans)


def test_spans_are_read_as_slices_and_bad_ones_are_reported():
    # Offsets past the text are cut to it, as a slice cuts them (curation dead-letters such a row at its stage rows,
    # not here); an empty value is nothing new.
    after = "$ sleep 5 &\n[1] 4312"
    assert _terminal("$", after, [{"start": 16, "end": 999, "kind": "pid"}]).endswith(
        "New values that vary between runs: 1 (pid).")
    assert "vary" not in _terminal("$", after, [{"start": 3, "end": 3, "kind": "pid"}])
    assert "vary" not in _terminal("$ sleep 5 &", after, [{"start": 2, "end": 7, "kind": None}])
    bad = [{"id": "e:1", "state_text": "$", "next_text": after, "next_volatile_spans": [{"start": "16", "end": 20}]},
           {"id": "e:2", "state_text": "$", "next_text": after, "next_volatile_spans": [{"start": 16}]}]
    first, second = make_synthesizer().traces(bad)
    assert isinstance(first, ReasoningError) and "TypeError" in str(first)
    assert isinstance(second, ReasoningError) and "KeyError" in str(second)


def _reference_new_spans(state: str, text: str, spans: list[dict]) -> list[dict]:
    """The spans whose value the state does not show whole (no letter or digit right before or after it there)."""
    def shown(value):
        at = state.find(value)
        while at >= 0:
            end = at + len(value)
            if not (at and state[at - 1].isalnum()) and not (end < len(state) and state[end].isalnum()):
                return True
            at = state.find(value, at + 1)
        return False

    return [span for span in spans if (value := text[span["start"]:span["end"]]) and not shown(value)]


def test_new_spans_match_the_reference_on_random_texts():
    """Widths (Latin-1, two- and four-byte characters), values inside longer runs, repeated values at other places,
    and offsets as slices take them (None, negative, past the end, reversed)."""
    rng = random.Random(21)
    pieces = ["42", "1420", "0.0", "10.0", " ", "\n", ":", "é", "€", "😀", "a1", "x", "2026-11-27", "4312", "-", "ab"]
    offsets = [None, -3, -1, 0, 1, 2, 5, 9, 40, 999]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        state = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) if rng.random() < 0.5 else \
            text[rng.randint(0, 6):] + rng.choice(pieces)
        spans = []
        for _ in range(rng.randint(0, 6)):
            if text and rng.random() < 0.7:
                start = rng.randrange(len(text))
                spans.append({"start": start, "end": start + rng.randint(0, 6), "kind": "pid"})
            else:
                spans.append({"start": rng.choice(offsets), "end": rng.choice(offsets), "kind": None})
        assert new_spans(state, text, spans) == _reference_new_spans(state, text, spans), (state, text, spans)


def test_new_spans_hold_no_memory():
    top = (DATA / "top_b_n_1.txt").read_text()
    spans = volatile_spans(top)
    for _ in range(100):
        new_spans("root@1caff30c61a4:/work#", top, spans)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            new_spans("root@1caff30c61a4:/work#", top, spans)
            new_spans(top, top, spans)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 10_000  # a leaked value per span would be megabytes


def test_a_replay_span_is_named_as_text_that_differed_on_replay():
    from transforms.reasoning.grounded import grounded_trace
    text = "$ jobs\n[1]+  Terminated              sleep 300\n$ "
    start = text.index("Terminated")
    row = {"domain": "terminal", "state_text": "$ ", "next_text": text, "action_text": "jobs",
           "next_volatile_spans": [{"start": start, "end": start + len("Terminated"), "kind": "replay"}]}
    assert grounded_trace(row).endswith("New values that vary between runs: 1 (text that differed on replay).")


def test_an_id_the_action_names_is_not_counted_as_varying_as_stage_3_asks_for_it_exactly():
    """mcp-explore-git:13 (make run, 2026-11-27): git_show of the sha the action passes; the answer repeats it."""
    answer = "commit 4693ad3b1c0e\nAuthor: worldline <w@example.org>\n\n    Add subtraction\n"
    spans = [{"start": 7, "end": 19, "kind": "hex_id"}]
    row = {"domain": "mcp", "state_text": "[]", "next_text": answer, "next_volatile_spans": spans}
    named = grounded_trace({**row, "action_text": '{"name": "git_show", "arguments": {"target": "4693ad3b1c0e"}}'})
    assert "vary between runs" not in named
    other = grounded_trace({**row, "action_text": '{"name": "git_show", "arguments": {"target": "HEAD"}}'})
    assert other.endswith("New values that vary between runs: 1 (hex_id).")
    # A measurement the action states is read afresh: still counted, as stage 3 keeps it a format span.
    clock = {"domain": "mcp", "state_text": "", "next_text": "took 1500 ms", "action_text": "wait 1500 ms",
             "next_volatile_spans": [{"start": 5, "end": 12, "kind": "duration"}]}
    assert grounded_trace(clock).endswith("New values that vary between runs: 1 (duration).")


def test_a_short_value_is_shown_only_on_a_line_the_state_shows_whole():
    """terminal-proc-ps-top:1 (make run, 2026-11-27): top's `Tasks:   8 total` was taken as shown because the
    state's ps row is pid `8` (sleep); a 1-2 character value coincides with any small number. The ps rows, still on
    screen whole, are shown."""
    ps = "$ ps -eo pid,comm | grep sleep\n      8 sleep\n     50 sleep\n$ "
    top = ("top - 07:10:22 up  7:56,  0 user,  load average: 4.14, 2.52, 1.79\n"
           "Tasks:   8 total,   1 running,   7 sleeping,   0 stopped,   0 zombie\n$ ")
    after = ps + "top -b -n 1 | head -2\n" + top
    spans = volatile_spans(after)
    in_top = [span for span in spans if span["start"] >= len(ps)]
    assert len(spans) - len(in_top) == 2 and ("usage", "   8") in [
        (span["kind"], after[span["start"]:span["end"]]) for span in in_top]
    assert _terminal(ps, after, spans).endswith(
        f"New values that vary between runs: {len(in_top)} (timestamp, usage).")
    # The same lines still on screen: nothing is new.
    assert "vary between runs" not in _terminal(after, after, spans)


def _reference_new_spans_min(state: str, text: str, spans: list[dict], min_chars: int) -> list[dict]:
    """_reference_new_spans, but for a value shorter than min_chars once stripped: it is new unless its line,
    stripped, is more than the value and a line of the state, stripped."""
    state_lines = {line.strip() for line in state.split("\n")}
    new = []
    for span in spans:
        start, end, _ = slice(span["start"], span["end"]).indices(len(text))
        raw = text[start:end] if end > start else ""
        value = raw.strip()
        if not 0 < len(value) < min_chars:
            new += _reference_new_spans(state, text, [span])
            continue
        first = start + len(raw) - len(raw.lstrip())
        line_end = text.find("\n", first)
        line = text[text.rfind("\n", 0, first) + 1:len(text) if line_end < 0 else line_end].strip()
        if line == value or line not in state_lines:
            new.append(span)
    return new


def test_new_spans_with_min_chars_match_the_reference_on_random_texts():
    """Short values on lines the state has whole (moved, indented, padded), inside other lines, alone on a line."""
    rng = random.Random(34)
    pieces = ["8", "42", "1420", " ", "  ", "\n", "\n", "[1] ", "sleep", "é", "€", "😀", "\t", "0.0", "x"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        lines = text.split("\n")
        rng.shuffle(lines)
        state = "\n".join(rng.choice(["", " ", "  "]) + line for line in lines) if rng.random() < 0.6 else \
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        spans = []
        for _ in range(rng.randint(0, 6)):
            start = rng.randrange(len(text) + 1)
            spans.append({"start": rng.choice([start, None, -2]), "end": start + rng.randint(0, 6), "kind": "pid"})
        assert new_spans(state, text, spans, 3) == _reference_new_spans_min(state, text, spans, 3), (
            state, text, spans)
    # Without min_chars, as before: a short value shown anywhere whole.
    assert new_spans("$ ps\n      8 sleep\n", "Tasks:   8 total", [{"start": 6, "end": 10}]) == []
    assert new_spans("$ ps\n      8 sleep\n", "Tasks:   8 total", [{"start": 6, "end": 10}], 3) == [
        {"start": 6, "end": 10}]


# ---- a replace of unequal sides ---------------------------------------------------------------------------------
# A region the diff replaced may have more lines on one side (a line scrolled in, a row inserted above one that
# changed). Its lines were paired from the top, so man's status line, one row lower than the line that scrolled in,
# was paired with that line: one line gone and two new instead of one line changed.

MAN_LS = [
    "LS(1)                            User Commands                           LS(1)", "", "NAME",
    "       ls - list directory contents", "", "SYNOPSIS", "       ls [OPTION]... [FILE]...", "", "DESCRIPTION",
    "       List  information  about  the FILEs (the current directory by default).",
    "       Sort entries alphabetically if none of -cftuvSUX nor --sort  is  speci‐", "       fied.", "",
    "       Mandatory  arguments  to  long  options are mandatory for short options", "       too.", "",
    "       -a, --all", "              do not ignore entries starting with .", "", "       -A, --almost-all",
    "              do not list implied . and ..", "", "       --author",
    "              with -l, print the author of each file", "", "       -b, --escape"]


def _man_ls(first: int) -> str:
    """`man ls` in an 80x24 pty with its first row at the page's line `first` + 1."""
    status = f" Manual page ls(1) line {first + 1} (press h for help or q to quit)"
    return "\n".join(MAN_LS[first:first + 23] + [status])


def test_man_scrolled_by_one_line_changes_its_status_line():
    assert _terminal(_man_ls(0), _man_ls(1)) == (
        "1 line appears: '              with -l, print the author of each file'. 1 line disappears: 'LS(1)          "
        "                  User Commands                         …'. 1 line changes: ' Manual page ls(1) line 1 (press "
        "h for help or q to quit)' becomes ' Manual page ls(1) line 2 (press h for help or q to quit)'.")


def test_less_with_its_position_in_the_prompt_scrolled_by_one_line():
    """`less -M report.txt`, then j: the prompt names the lines shown."""
    def screen(first):
        return "\n".join([f"line {n} of the report" for n in range(first, first + 23)]
                         + [f"report.txt lines {first}-{first + 22}/300 {(first + 22) * 100 // 300}%"])

    assert _terminal(screen(1), screen(2)) == (
        "1 line appears: 'line 24 of the report'. 1 line disappears: 'line 1 of the report'. 1 line changes: "
        "'report.txt lines 1-23/300 7%' becomes 'report.txt lines 2-24/300 8%'.")


def test_top_with_a_new_process_above_a_row_that_changed():
    """The real `top -b -n 1` screen, 3 s later: a `sleep` (pid 19) started, sorted above python3 (pid 20), whose row
    changed."""
    screen = "\n".join((DATA / "top_b_n_1.txt").read_text().splitlines()[1:-1])
    python3 = "     20 root      20   0   25676  18784   9536 S   0.0   0.1   0:00.04 python3"
    refreshed = screen.replace("01:30:39", "01:30:42").replace("8 total,   1 running,   7 sleeping", (
        "9 total,   1 running,   8 sleeping")).replace(python3, (
            "     19 root      20   0    2920   1744   1644 S   0.0   0.0   0:00.00 sleep\n"
            + python3.replace("S   0.0   0.1   0:00.04", "S   0.3   0.1   0:00.05")))
    assert _terminal(screen, refreshed) == (
        "1 line appears: '     19 root      20   0    2920   1744   1644 S   0.0   0.0   0:00.00 …'. 3 lines change: "
        "'top - 01:30:39 up  2:16,  0 user,  load average: 0.75, 1.66, 1.72' becomes 'top - 01:30:42 up  2:16,  0 "
        "user,  load average: 0.75, 1.66, 1.72'; 'Tasks:   8 total,   1 running,   7 sleeping,   0 stopped,   0 "
        "zombie' becomes 'Tasks:   9 total,   1 running,   8 sleeping,   0 stopped,   0 zombie'; '     20 root      20   0"
        "   25676  18784   9536 S   0.0   0.1   0:00.04 …' becomes '     20 root      20   0   25676  18784   9536 S"
        "   0.3   0.1   0:00.05 …'.")


def test_a_file_after_an_edit_that_inserts_two_lines_and_changes_one():
    """`cat app.py` before and after an edit that adds two lines above the one it changes."""
    source = ["import os", "", "", "def port(env):", "    value = env.get('PORT', '8000')", "    return int(value)",
              "", "", "def host(env):", "    return env.get('HOST', '127.0.0.1')"]
    edited = source[:4] + ["    if 'APP_PORT' in env:", "        return int(env['APP_PORT'])",
                           "    value = env.get('PORT', '8080')"] + source[5:]
    assert _terminal("\n".join(source), "\n".join(edited)) == (
        "2 lines appear: \"    if 'APP_PORT' in env:\", \"        return int(env['APP_PORT'])\". 1 line changes: "
        "\"    value = env.get('PORT', '8000')\" becomes \"    value = env.get('PORT', '8080')\".")


# A real record (os-explore-editor-save-as-dialog, step 2): click(element=55) opens Mousepad's View menu; the Search
# menu's items close. [55] stood 8 rows down the old replaced region and stands 1 row down the new one.
_MENUS_BEFORE = ["[45]\tmenu\tSearch\t\"\"\t\tSearch menu\t(400, 167)\t(60, 25)\tselected"] + [
    f"[{n}]\tmenu-item\t{name}      \t\"\"\t\t{about}\t(400, {y})\t(272, 25)\t" for n, name, about, y in [
        (46, "Find", "Search for text", 192), (47, "Find Next", "Search forwards for the same text", 217),
        (48, "Find Previous", "Search backwards for the same text", 242),
        (49, "Find and Replace...", "Search for and replace text", 267),
        (51, "Incremental Search", "Automatically select the search result and scroll the view", 293),
        (52, "Highlight All", "Highlight the search occurrences", 318),
        (54, "Go to...", "Go to a specific location in the document", 344)]] + [
    "[55]\tmenu\tView\t\"\"\t\tView menu\t(460, 167)\t(48, 25)\t",
    "[66]\tmenu\tDocument\t\"\"\t\tDocument menu\t(508, 167)\t(83, 25)\t",
    "[79]\tmenu\tHelp\t\"\"\t\tHelp menu\t(591, 167)\t(46, 25)\t"]
_MENUS_AFTER = ["[45]\tmenu\tSearch\t\"\"\t\tSearch menu\t(400, 167)\t(60, 25)\t",
                "[55]\tmenu\tView\t\"\"\t\tView menu\t(460, 167)\t(48, 25)\tselected"] + [
    f"[{n}]\t{tag}\t{name}      \t\"\"\t\t{about}\t(460, {y})\t(223, 25)\t" for n, tag, name, about, y in [
        (56, "menu-item", "Select Font...", "Change the editor font", 192),
        (58, "menu", "Color Scheme", "Color scheme to use for the text view", 218),
        (68, "menu-item", "Line Numbers", "Show line numbers", 243),
        (70, "menu-item", "Menubar", "Change the visibility of the main menubar", 269),
        (71, "menu-item", "Toolbar", "Change the visibility of the toolbar", 294),
        (72, "menu-item", "Statusbar", "Change the visibility of the statusbar", 319),
        (74, "menu-item", "Fullscreen", "Make the window fullscreen", 345)]] + [
    "[75]\tmenu\tDocument\t\"\"\t\tDocument menu\t(508, 167)\t(83, 25)\t",
    "[88]\tmenu\tHelp\t\"\"\t\tHelp menu\t(591, 167)\t(46, 25)\t"]


def test_an_element_several_rows_from_where_it_stood_still_pairs():
    head = ["focused window: [1] frame 'Untitled 1 - Mousepad' (mousepad)", "focused element: none",
            "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate",
            "[5]\tmenu\tFile\t\"\"\t\tFile menu\t(320, 167)\t(39, 25)\t"]
    sentences = line_diff("\n".join(head + _MENUS_BEFORE), "\n".join(head + _MENUS_AFTER), "element")[0]
    # The menus after View stand 9 ids further ([66] Document is [75]): each its own element renumbered, paired as
    # one line changed, not one gone and one new.
    assert sentences[2] == (
        "4 elements change: '[45]\\tmenu\\tSearch\\t\"\"\\t\\tSearch menu\\t(400, 167)\\t(60, 25)\\tselected' becomes "
        "'[45]\\tmenu\\tSearch\\t\"\"\\t\\tSearch menu\\t(400, 167)\\t(60, 25)\\t'; '[55]\\tmenu\\tView\\t\"\"\\t\\tView "
        "menu\\t(460, 167)\\t(48, 25)\\t' becomes '[55]\\tmenu\\tView\\t\"\"\\t\\tView menu\\t(460, 167)\\t(48, 25)\\t"
        "selected'; '[66]\\tmenu\\tDocument\\t\"\"\\t\\tDocument menu\\t(508, 167)\\t(83, 25)\\t' becomes '[75]\\tmenu"
        "\\tDocument\\t\"\"\\t\\tDocument menu\\t(508, 167)\\t(83, 25)\\t' and 1 more.")
    assert sentences[:2] == ["7 elements appear: " + sentences[0].split(": ", 1)[1],
                             "7 elements disappear: " + sentences[1].split(": ", 1)[1]]
    # The os trace tells those two as renumbered, so its change count is of real changes.
    trace = grounded_trace({"domain": "os", "state_text": "\n".join(head + _MENUS_BEFORE),
                            "next_text": "\n".join(head + _MENUS_AFTER)})
    assert "2 elements change: " in trace and trace.endswith("2 elements are renumbered (ids +9).")


def test_pairs_keep_the_order_of_the_lines():
    """Two labelled rows that swapped places and changed: the diff may tell one of them as changed, not both, as a
    change is told where its line stands in both texts."""
    sentences = line_diff("Alpha: 1\nBeta: 1", "Beta: 2\nAlpha: 2", "line")[0]
    assert sentences == ["1 line appears: 'Alpha: 2'.", "1 line disappears: 'Alpha: 1'.",
                         "1 line changes: 'Beta: 1' becomes 'Beta: 2'."]


def _edited_screen(rng: random.Random) -> tuple[str, str]:
    """A long screen of lines that pair (labels, elements, numbered rows, prompts) and a copy with blocks removed,
    inserted and changed, so replaced regions run past the band pairs are looked for in."""
    kinds = [lambda n: f"Count: {n % 5}", lambda n: f"[{n % 40}] button 'Item {n % 4}'", lambda n: f"line {n} of x",
             lambda n: f"root@box:/w{n % 3}#" + (" ls" if n % 2 else ""), lambda n: f"{n:7d} root  S  0.{n % 9}"]
    chosen = rng.sample(kinds, rng.randint(1, 3))
    before = [rng.choice(chosen)(rng.randrange(200)) for _ in range(rng.randint(20, 60))]
    def fresh(count):
        return [rng.choice(chosen)(rng.randrange(200)) for _ in range(count)]

    def changed(lines):
        return [line[:-1] + "7" for line in lines]

    after = list(before)
    for _ in range(rng.randint(1, 4)):
        at, size = rng.randrange(len(after) + 1), rng.randint(1, 25)
        edit = rng.randrange(4)
        if edit == 0:
            del after[at:at + size]
        elif edit == 1:
            after[at:at] = fresh(size)
        elif edit == 2:
            after[at:at + size] = changed(after[at:at + size])
        else:  # new lines pushed the changed ones down as far as the last ones went: no alignment holds them
            shift = rng.randint(1, size)
            after[at:at + size] = fresh(shift) + changed(after[at:at + size - shift])
    return "\n".join(before), "\n".join(after)


def test_long_replaced_regions_pair_as_the_reference_pairs_them():
    """Regions longer than the band (WINDOW lines either side of the region aligned at its top or its bottom):
    the compiled pairing looks no further than the reference does, and finds what it finds."""
    rng = random.Random(74)
    longest = 0
    for _ in range(400):
        state, next_text = _edited_screen(rng)
        longest = max([longest] + [min(i2 - i1, j2 - j1) for i1, i2, j1, j2 in changed_regions(state, next_text)])
        assert line_diff(state, next_text, "line") == _reference_line_diff(state, next_text, "line"), (state, next_text)
    assert longest > 2 * _WINDOW + 1


def test_a_client_side_timeout_is_not_called_a_server_answer_and_injected_faults_are_told_by_their_effect():
    # mcp-perturbed-everything:8 of a real run: nothing came from the server; the client made the error itself.
    timed_out = grounded_trace({
        "domain": "mcp", "state_text": "{}", "next_text": "[error -32001] Request 'tools/call' timed out after 30 s",
        "next_meta_json": '{"jsonrpc_error": true, "source": "client", "method": "tools/call"}',
        "perturbations": ["timeout:get-tiny-image"], "error": "timeout: no response within 30 s"})
    assert "server answers" not in timed_out and "the client gives up waiting" in timed_out
    assert "fault" not in timed_out  # the client's own error tells what happened
    assert "timeout:" not in timed_out.replace("'timeout: no response", "")
    answered = grounded_trace({"domain": "mcp", "state_text": "{}", "next_text": "[error -32029] Rate limit",
                               "next_meta_json": '{"jsonrpc_error": true, "answered_by": "proxy"}',
                               "perturbations": ["rate_limit:echo"]})
    assert answered.endswith("The client receives a protocol error instead of a result.")
    # mcp-perturbed-filesystem:4: the read after a successful write shows the old lines because the proxy
    # replayed the first answer; the trace must say so, by that effect, rather than only quote them.
    stale = grounded_trace({"domain": "mcp", "state_text": "Successfully wrote to todo.txt",
                            "next_text": "Buy milk\nCall Ada", "next_meta_json": "{}",
                            "perturbations": ["stale:read_text_file", "partial:tools/list:follow-up"]})
    assert "The answer repeats the first answer the same call got, not a current one." in stale
    assert "The answer is the part that an earlier answer held back." in stale
    assert "read_text_file" not in stale and "tools/list" not in stale
    plain = grounded_trace({"domain": "mcp", "state_text": "{}", "next_text": "ok", "next_meta_json": "{}"})
    assert "fault" not in plain


# ---- a screen's header ------------------------------------------------------------------------------------------
# A web page starts with URL, Title, Tabs (and Focused, Error) lines, a desktop with its focused window and element
# and the table's columns: none is an element, yet every one was counted and quoted as one ("3 elements change:
# 'URL: http://…/' becomes 'URL: http://…/status'; 'Title: Home…").

def _web(state: str, next_text: str) -> str:
    return grounded_trace({"domain": "web", "state_text": state, "next_text": next_text})


def test_a_page_load_tells_the_url_title_and_tabs_by_name_and_counts_only_elements():
    page = render("web-json", WEB_BUNDLE.read_bytes())
    header, tree = page.split("\nRootWebArea", 1)
    login = ("URL: http://127.0.0.1:34107/login\nTitle: Log in - Commons Forum\n"
             "Tabs: [0] Log in - Commons Forum (active)\nRootWebArea"
             + tree.replace("Search - Commons", "Log in - Commons"))
    assert _web(page, login) == (
        "The URL becomes 'http://127.0.0.1:34107/login'; the title becomes 'Log in - Commons Forum'; the tabs become "
        "'[0] Log in - Commons Forum (active)'; the header no longer shows the focused element. 1 element changes: "
        "\"RootWebArea 'Search - Commons Forum', focused\" becomes \"RootWebArea 'Log in - Commons Forum', focused\".")
    # The first observation counts the tree's 15 lines, not the header's 4.
    assert _web("", page) == "There is no earlier observation; the environment shows 15 elements."


def test_focus_moved_is_told_once_and_the_element_that_lost_it_still_changes():
    page = render("web-json", WEB_BUNDLE.read_bytes())
    # The tree's lines first: the Focused line quotes the searchbox's line whole.
    moved = page.replace("[8] button 'Search'", "[8] button 'Search', focused").replace(
        "\t[7] searchbox 'Search posts', value='tomato', focused", "\t[7] searchbox 'Search posts', value='tomato'"
    ).replace("Focused: [7] searchbox 'Search posts', value='tomato', focused", "Focused: [8] button 'Search', focused")
    assert _web(page, moved) == (
        "The focused element becomes \"[8] button 'Search', focused\". 2 elements change: \"[7] searchbox "
        "'Search posts', value='tomato', focused\" becomes \"[7] searchbox 'Search posts', value='tomato'\"; "
        "\"[8] button 'Search'\" becomes \"[8] button 'Search', focused\".")


def test_a_header_that_alone_changed_is_not_called_no_change_nor_an_element():
    """The real web-explore-tracker step 17 (select_option timed out): only the Error line is new; the next step's
    state still shows it, so the step after tells it gone. A multi-line error (Playwright lists what a locator
    matched, indented) is one field."""
    page = render("web-json", WEB_BUNDLE.read_bytes())
    header, tree = page.split("\nRootWebArea", 1)
    failed = f"{header}\nError: Locator.select_option: Timeout 5000ms exceeded.\nRootWebArea{tree}"
    assert _web(page, failed) == "The action error is now 'Locator.select_option: Timeout 5000ms exceeded.'."
    assert _web(failed, page) == "The header no longer shows the action error."
    strict = f"{header}\nError: strict mode violation: 2 elements:\n    1) <a>x</a>\n    2) <a>y</a>\nRootWebArea{tree}"
    assert _web(page, strict) == ("The action error is now 'strict mode violation: 2 elements:\\n    1) <a>x</a>\\n"
                                  "    2) <a>y</a>'.")
    assert _web(page, page) == "The observation does not change."


def test_a_page_that_had_no_elements_is_not_taken_for_no_page():
    bare = "URL: about:blank\nTitle: \nTabs: [0] about:blank (active)"
    loaded = ("URL: http://127.0.0.1:5000/\nTitle: Home\nTabs: [0] Home (active)\nRootWebArea 'Home', focused\n"
              "\t[1] link 'Apply'")
    assert _web(bare, loaded) == (
        "The URL becomes 'http://127.0.0.1:5000/'; the title becomes 'Home'; the tabs become '[0] Home (active)'. "
        "2 elements appear: \"RootWebArea 'Home', focused\", \"[1] link 'Apply'\".")


def test_a_desktop_tells_its_focused_window_and_element_and_counts_only_rows():
    """The real os-calc-multiply step 0: pressing 7 moves focus from the display to the button."""
    columns = "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate"
    before = "\n".join(["focused window: [1] frame 'galculator' (galculator)", "focused element: [31] text ''", columns,
                        "[31]\ttext\t\t0\t\t\t(481, 268)\t(317, 52)\tfocused",
                        "[65]\ttoggle-button\t7\t\"\"\t\tSeven    7\t(480, 419)\t(59, 34)\t"])
    after = "\n".join(["focused window: [1] frame 'galculator' (galculator)",
                       "focused element: [65] toggle-button '7'", columns,
                       "[31]\ttext\t\t7\t\t\t(481, 268)\t(317, 52)\t",
                       "[65]\ttoggle-button\t7\t\"\"\t\tSeven    7\t(480, 419)\t(59, 34)\tfocused"])
    trace = grounded_trace({"domain": "os", "state_text": before, "next_text": after})
    assert trace == ("The focused element becomes \"[65] toggle-button '7'\". 2 elements change: [31] text shows '7' "
                     "instead of '0' and is no longer focused; [65] toggle-button '7' is now focused.")
    assert grounded_trace({"domain": "os", "state_text": "", "next_text": after}) == (
        "There is no earlier observation; the environment shows 2 elements.")
    # Other domains have no header: a terminal's "URL:" line is a line.
    assert _terminal("URL: a\nx", "URL: b\nx") == "1 line changes: 'URL: a' becomes 'URL: b'."


def _headed_screen(rng: random.Random) -> str:
    """A web page: each header field present or not (a multi-line error, values that may be empty), then a tree."""
    lines = [f"URL: http://h/{rng.choice(['', 'a', 'b'])}"] if rng.random() < 0.9 else []
    lines += [f"{label}:{rng.choice(['', ' ', ' x', ' y'])}" for label in ("Title", "Tabs", "Focused")
              if rng.random() < 0.7]
    if rng.random() < 0.3:
        lines += ["Error: failed"] + ["    1) <a>"] * rng.randint(0, 2)
    tree = [rng.choice(["RootWebArea 'A', focused", "\t[1] link 'x'", "\t[2] button 'y'", "", "URL: in tree"])
            for _ in range(rng.randint(0, 5))]
    return rng.choice(["\n", "\r\n"]).join(lines + tree)


def test_headers_match_the_reference_on_generated_pages():
    """The compiled header split against tests/formats/test_reasoning.py's reference, on pages with fields missing,
    empty, multi-line, only a header, and a tree line that looks like one."""
    rng = random.Random(81)
    header = HEADERS["web"]
    for _ in range(3000):
        state, next_text = _headed_screen(rng), _headed_screen(rng)
        assert line_diff(state, next_text, "element", header) == \
            _reference_line_diff(state, next_text, "element", header), (state, next_text)


def test_a_bad_header_is_refused():
    with pytest.raises(TypeError, match="header field 0 must be"):
        line_diff("a", "b", "element", (("URL:", "the URL becomes "),))
    with pytest.raises(TypeError, match="header must be a tuple"):
        line_diff("a", "b", "element", ["URL:"])
