"""A changed line whose quotes, cut at 72 characters, read the same ("'X…' becomes 'X…'": only text past the cut
changed) is quoted as a window that shows the difference: its start, `…`, then the text from a little before where
the two lines differ (audit6 F2, os-terminal-open-calculator-s0-c787f727:1, whose terminal lost its `focused` state
cell)."""

from __future__ import annotations

import ast
import json
import random
import re

import pytest

from schemas.render.os import render_atspi
from tests.formats.test_reasoning import _reference_line_diff
from transforms.reasoning._linediff import line_diff
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.headers import HEADERS

MARKER = "…[truncated]"
_QUOTE = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_BECOMES = re.compile(_QUOTE + " becomes " + _QUOTE)


def becomes(trace: str) -> list[tuple[str, str]]:
    """The (old, new) quotes of every "'a' becomes 'b'" of a trace, as the texts they quote."""
    return [(ast.literal_eval(old), ast.literal_eval(new)) for old, new in _BECOMES.findall(trace)]


def shows(quoted: str, line: str) -> bool:
    """Whether a quote's pieces (split at its ellipses) are the line's own text, in order, the first its start."""
    pieces = quoted.removesuffix("…").split("…")
    at = 0
    for n, piece in enumerate(pieces):
        found = line.find(piece, at)
        if found < 0 or (n == 0 and found != 0):
            return False
        at = found + len(piece)
    return True


def desktop(terminal_states: list[str]) -> str:
    """A desktop observation as the os collector renders it: a terminal whose text runs past the cut."""
    text = ("user@desktop:~$ galculator &\n[1] 105\nuser@desktop:~$ [galculator] configuration file: couldn't open "
            "configuration file for reading. Using defaults.")
    terminal = {"id": 39, "role": "terminal", "name": "Terminal", "text": text, "position": [312, 215],
                "size": [642, 410], "states": terminal_states}
    frame = {"id": 2, "role": "frame", "name": "LXTerminal", "position": [312, 189], "size": [642, 436],
             "states": ["showing", "visible", "enabled"], "children": [terminal]}
    dump = {"apps": [{"id": 1, "role": "application", "name": "lxterminal", "children": [frame]}],
            "active_window": {"id": 2, "role": "frame", "name": "LXTerminal", "app": "lxterminal"}, "focused_id": 39}
    return render_atspi(json.dumps(dump).encode(), {})


def test_an_element_that_lost_its_state_cell_past_the_cut_shows_it():
    before = desktop(["showing", "visible", "enabled", "focused"])
    after = desktop(["showing", "visible", "enabled"])
    trace = grounded_trace({"domain": "os", "state_text": before, "next_text": after})
    # A desktop's element is told by the cells that changed (elements.py), so the state cell past the cut is named,
    # not quoted in a window of its tab-separated row.
    assert "1 element changes: [39] terminal 'Terminal' is no longer focused." in trace, trace


def test_a_terminal_line_changed_past_the_cut_keeps_its_start_and_shows_the_change():
    line = "Downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (18.3 MB) "
    trace = grounded_trace({"domain": "terminal", "state_text": "$ pip download numpy\n" + line + "45%",
                            "next_text": "$ pip download numpy\n" + line + "46%"})
    # No head: the first 32 characters, then from the word 16 characters before the difference.
    assert ("1 line changes: 'Downloading numpy-1.26.4-cp311-c…(18.3 MB) 45%' becomes "
            "'Downloading numpy-1.26.4-cp311-c…(18.3 MB) 46%'.") in trace, trace


def test_a_url_changed_past_the_cut_is_quoted_where_it_changed():
    url = "http://localhost:8000/search?q=" + "+".join(["wireless", "noise", "cancelling", "headphones"] * 3)
    page = "\n".join(["URL: {}", "Title: Search", "[1] RootWebArea 'Search'"])
    trace = grounded_trace({"domain": "web", "state_text": page.format(url + "&page=1"),
                            "next_text": page.format(url + "&page=2")})
    # A header line is told by name with its new value: the value's start, then where it changed.
    assert trace.startswith("The URL becomes 'http://localhost:8000/search?q=w…headphones&page=2'."), trace


def test_a_line_ending_in_its_own_ellipsis_is_not_quoted_as_a_cut_line():
    # 72 characters ending in "…" are quoted whole; 71 of them and more text are cut there: the same quote.
    start = "Compiling the report for the quarter, with all of its tables and charts"[:71]
    trace = grounded_trace({"domain": "terminal", "state_text": start + "…", "next_text": start + "… done"})
    assert ("1 line changes: 'Compiling the report for the qua…and charts…' becomes "
            "'Compiling the report for the qua…and charts… done'.") in trace, trace


def test_a_window_cut_never_breaks_the_proxy_marker():
    # Every place the window's cut can fall around a "…[truncated]" the line holds (a tool's answer the MCP proxy cut,
    # shown again in a terminal): before it, never inside it.
    for tail in range(40, 70):
        line = "Echo: " + "a" * 80 + " " + "b" * tail + " " + MARKER
        trace = grounded_trace({"domain": "terminal", "state_text": line.replace("b", "c", 1), "next_text": line})
        (old, new), = becomes(trace)
        assert "……" not in trace and "[trunc" not in (old + new).replace(MARKER, ""), trace
        assert old != new


# Long lines that differ past the cut, or not: with a head or none, Latin-1, two- and four-byte characters, words.
_WORDS = ["[7]\tbutton\tSave\t", "[12] link 'Checkout'", "URL:", "é", "€uro", "😀", "\t", " ", "(312, 215)", "focused",
          "a", "bb", "ccc"]


def _long_line(rng: random.Random) -> str:
    return "".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 60)))


def test_random_changed_lines_are_quoted_as_the_reference_quotes_them_and_never_alike():
    rng = random.Random(11)
    windows = 0
    for _ in range(3000):
        old = _long_line(rng)
        cut = rng.randint(0, len(old))
        new = old[:cut] + _long_line(rng)[:rng.randint(0, 30)] + old[cut + rng.randint(0, 5):]
        if old.strip() == new.strip():
            continue
        header = HEADERS["web"] if rng.random() < 0.3 else None
        state, next_text = ("URL: " + old, "URL: " + new) if header else ("$ x\n" + old, "$ x\n" + new)
        got = line_diff(state, next_text, "line", header)
        assert got == _reference_line_diff(state, next_text, "line", header)
        for sentence in got[0]:
            for said_old, said_new in becomes(sentence):
                assert said_old != said_new, sentence
                windows += shows(said_old, old.strip()) and "…" in said_old.removesuffix("…")
    assert windows > 50  # the window rule was exercised, not only lines that differ before the cut


@pytest.mark.parametrize("width", ["a", "é", "€", "😀"])
def test_the_window_is_at_most_72_characters_of_the_line(width):
    line = "[5] textbox 'Notes' " + width * 100
    trace = grounded_trace({"domain": "web", "state_text": line + "x", "next_text": line + "y"})
    (old, new), = becomes(trace)
    assert len(old.replace("…", "")) <= 72 and len(new.replace("…", "")) <= 72
    assert old.startswith("[5] textbox 'Notes'…") and old.endswith("x") and new.endswith("y"), trace
