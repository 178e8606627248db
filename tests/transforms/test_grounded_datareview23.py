"""Grounded-trace wording the session-23 data review (scratch/s23/datareview/REPORT.md, D2, D3, D4, D7) found
misleading as training data. The screens are cut from the rows it names (run 20261128T065336-ab8d47).

D2: a fault was told by worldline's own label and its settings ("`slow:/search*:800`", "800 ms", "40%"), which no
prompt shows. D7: blank lines were left out of counts ("4 lines appear" where 5 did) and quotes dropped a line's
leading and trailing whitespace, which stage 3 scores exactly. D4: a desktop's ids are positions in the tree's walk,
so a menu that opened renumbered every later element, and each was counted as one element gone and one new. D3: a
JSON answer's short scalars were named by key only ("the other is total").
"""

from __future__ import annotations

import re

from transforms.prompts import system_prompt
from transforms.reasoning._linediff import line_diff, quote
from transforms.reasoning.grounded import grounded_trace

# ---- D2 ----------------------------------------------------------------------------------------------------------

_BOARD = ("URL: http://127.0.0.1:44921/\nTitle: Boards - Commons Forum\nTabs: [0] Boards - Commons Forum (active)\n"
          "RootWebArea 'Boards - Commons Forum', focused")
_SEARCH = ("URL: http://127.0.0.1:44921/search?q=laptop\nTitle: Search - Commons Forum\n"
           "Tabs: [0] Search - Commons Forum (active)\nRootWebArea 'Search - Commons Forum', focused")
# Every label kind each collector knows, with settings that must not be told.
_LABELS = {
    "web": ["slow:/search*:800", "truncate:/thread/*:0.4", "asset_fail:/static/site.css", "http_500:/checkout",
            "http_404:/missing", "page_crash", "browser_restart"],
    "mcp": ["truncate:directory_tree", "partial:read_text_file", "partial:tools/list:follow-up",
            "tool_error:get-sum", "jsonrpc_error:echo", "timeout:get-tiny-image", "latency:search",
            "rate_limit:echo", "stale:read_text_file"],
    "terminal": ["disk_full", "read_only_fs", "no_network", "memory_cap", "pids_cap", "slow_commands"],
}


def _faulted(collector: str, label: str) -> str:
    domain = collector
    state, after = (_BOARD, _SEARCH) if collector == "web" else ("$ ", "$ ls\nout\n$ ")
    return grounded_trace({"domain": domain, "collector": collector, "state_text": state, "next_text": after,
                           "perturbations": [label]})


def test_no_fault_sentence_names_its_label_or_its_settings():
    for collector, labels in _LABELS.items():
        for label in labels:
            trace = _faulted(collector, label)
            kind, _, settings = label.partition(":")
            assert label not in trace and f"'{kind}" not in trace and "(" not in trace.split(". ")[-1], trace
            for setting in filter(None, re.split(r"[:]", settings)):
                assert setting not in trace, (label, trace)
            assert "800 ms" not in trace and "40%" not in trace
    # web-forum-slow-search-s0-5f7cff74:1: nothing of the delay shows, so nothing is told (session 24; what is told
    # where the page shows a fault: test_grounded_visible_faults.py).
    assert _faulted("web", "slow:/search*:800") == _faulted("web", "page_crash").removesuffix(
        " A tab crashes and is opened again at its last address.")
    # The terminal conditions already say what the output shows: only the label quote went.
    assert _faulted("terminal", "read_only_fs").endswith(
        "The new output shows a write refused by a read-only file system.")
    unknown = _faulted("terminal", "cpu_cap:50%")
    assert unknown.endswith("A fault is recorded for this step, with no record of what it does.")
    assert "cpu_cap" not in unknown and "50%" not in unknown


# ---- D7 ----------------------------------------------------------------------------------------------------------

def test_blank_lines_are_counted_and_said_to_be_blank():
    # terminal-archive-corrupt-s0-a1ebb5b9:0: tar's output has a blank line; "4 lines appear" where 5 did.
    state = "root@sandbox:/work#"
    after = ("root@sandbox:/work# tar xzf broken.tgz\n\ngzip: stdin: unexpected end of file\n"
             "tar: Child returned status 1\ntar: Error is not recoverable: exiting now\nroot@sandbox:/work#")
    trace = grounded_trace({"domain": "terminal", "state_text": state, "next_text": after})
    assert trace.startswith("5 lines appear (1 blank): 'root@sandbox:/work# tar xzf broken.tgz', 'gzip: stdin: "
                            "unexpected end of file', 'tar: Child returned status 1' and 1 more non-blank.")
    assert line_diff("a", "a\n\n", "line")[0] == ["1 blank line appears."]
    assert line_diff("a\n\n\nb", "a\nb", "line")[0] == ["2 blank lines disappear."]
    # An answer counts its lines as a screen does (str.splitlines()).
    answer = grounded_trace({"domain": "swe", "state_text": "", "next_text": "collected 1 item\n\nt.py .\n"})
    assert answer.startswith("The output has 3 lines (1 blank): 'collected 1 item', 't.py .'.")
    assert grounded_trace({"domain": "mcp", "state_text": "", "next_text": "\n\n"}) == "The result is 2 blank lines."


def test_quoted_lines_keep_their_whitespace():
    # mcp-explore-filesystem-s0-46894b13:0: list_directory_with_sizes pads a name to a column.
    listing = "[DIR] notes                          \n\nTotal: 0 files, 1 directories\nCombined size: 0 B"
    trace = grounded_trace({"domain": "mcp", "state_text": "{}", "next_text": listing})
    assert trace == ("The result has 4 lines (1 blank): '[DIR] notes                          ', 'Total: 0 files, 1 "
                     "directories', 'Combined size: 0 B'.")
    # mcp-perturbed-filesystem-s0-5ec1c517:5: the cut JSON keeps its indentation.
    cut = grounded_trace({"domain": "mcp", "state_text": "{}", "next_text": '[\n  {\n    "n…[truncated]'})
    assert "'    \"n…[truncated]'" in cut
    # Every quote of a line diff is a line of the observation, whole or cut with an ellipsis, never stripped.
    before, after = "$ cat a.py\ndef f():\n    x = 10\n$ ", "$ cat a.py\ndef f():\n    x = 12  \n$ "
    assert line_diff(before, after, "line")[0] == ["1 line changes: '    x = 10' becomes '    x = 12  '."]
    assert quote("\t[12] link 'Home'") == repr("\t[12] link 'Home'")


# ---- D4 ----------------------------------------------------------------------------------------------------------

_OS_HEAD = ("focused window: [2] frame 'galculator' (galculator)\nfocused element: none\n"
            "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate")


def _row(i: int, role: str, name: str, at: int) -> str:
    return f"[{i}]\t{role}\t{name}\t\"\"\t\t\t({at}, 236)\t(48, 25)\t"


def test_a_menu_that_opens_renumbers_the_elements_after_it_and_they_are_not_counted_as_change():
    # os-calc-scientific-mode-s0-9b09b28b:0: click(name="View") inserts the menu's items after [13], and every later
    # id moves by the number of nodes the walk added. The trace said "34 elements appear … 29 disappear".
    keys = [_row(20 + n, "push-button", str(n), 500 + 10 * n) for n in range(8)]
    before = "\n".join([_OS_HEAD, _row(13, "menu", "View", 554), *keys])
    items = [_row(14 + n, "radio-menu-item", mode, 261 + 25 * n) for n, mode in enumerate(("Basic", "Scientific"))]
    after = "\n".join([_OS_HEAD, _row(13, "menu", "View", 554), *items,
                       *(_row(22 + n, "push-button", str(n), 500 + 10 * n) for n in range(8))])
    trace = grounded_trace({"domain": "os", "state_text": before, "next_text": after})
    assert trace == ("2 elements appear: [14] radio-menu-item 'Basic', [15] radio-menu-item 'Scientific'. "
                     "8 elements are renumbered (ids +2).")
    # Closed again: nothing but the ids changes, and the trace does not say the observation is unchanged.
    closed = grounded_trace({"domain": "os", "state_text": after, "next_text": before})
    assert closed == ("2 elements disappear: [14] radio-menu-item 'Basic', [15] radio-menu-item 'Scientific'. "
                      "8 elements are renumbered (ids -2).")
    shifted = "\n".join([_OS_HEAD, *(_row(21 + n, "push-button", str(n), 500 + 10 * n) for n in range(8))])
    alone = "\n".join([_OS_HEAD, *keys])
    assert grounded_trace({"domain": "os", "state_text": alone, "next_text": shifted}) == (
        "8 elements are renumbered (ids +1); nothing else changes.")


def test_an_element_renumbered_and_changed_is_one_element_changed():
    # os-calc-scientific-mode-s0-9b09b28b:0: the display lost its focus as the menu opened and moved from [31] to
    # [35]; told as one element that changed ("[35] text (was [31]) is no longer focused"), not one gone and one new.
    display = "[31]\ttext\t\t0\t\t\t(481, 268)\t(317, 52)\tfocused"
    before = "\n".join([_OS_HEAD, _row(13, "menu", "View", 554), display])
    after = "\n".join([_OS_HEAD, _row(13, "menu", "View", 554), _row(14, "radio-menu-item", "Basic", 261),
                        _row(15, "radio-menu-item", "Paper", 286), display.replace("[31]", "[33]")[:-len("focused")]])
    trace = grounded_trace({"domain": "os", "state_text": before, "next_text": after})
    assert trace.endswith("1 element changes: [33] text (was [31]) is no longer focused.")
    assert trace.startswith("2 elements appear: ")
    # An element that kept its id is its own partner before another of its role and name whose id moved.
    kept = line_diff("[3] listitem '', level=1\n[9] x", "[2] listitem '', level=2\n[3] listitem '', level=2\n[9] y",
                     "element")[0]
    assert kept[-1] == "1 element changes: \"[3] listitem '', level=1\" becomes \"[3] listitem '', level=2\"."


def test_renumbering_is_told_for_web_and_android_and_not_for_other_domains():
    # web-explore-tracker-s0-26e81b6f:2: a status line above the table gave every later bid one more.
    page = "URL: http://h/issues\nTitle: Issues\nTabs: [0] Issues (active)\nRootWebArea 'Issues', focused"
    rows = [f"\t\t[{11 + n}] row 'API-{n}'" for n in range(4)]
    after = "\n".join([page, "\t\t[10] status ''", *(f"\t\t[{12 + n}] row 'API-{n}'" for n in range(4))])
    trace = grounded_trace({"domain": "web", "state_text": "\n".join([page, "\t\t[10] table ''", *rows]),
                            "next_text": after})
    assert trace == ("1 element appears: \"[10] status ''\". 1 element disappears: \"[10] table ''\". "
                     "4 elements are renumbered (ids +1).")
    # android pads ids to two places: [ 9] and [10] are one element renumbered.
    phone = "[ 0] | FrameLayout | bounds=[0,0][1080,2400]\n[ 9] | Button | text=\"OK\" | bounds=[0,0][10,10]"
    moved = ("[ 0] | FrameLayout | bounds=[0,0][1080,2400]\n[ 1] | Toast | text=\"Saved\" | bounds=[0,0][10,10]\n"
             "[10] | Button | text=\"OK\" | bounds=[0,0][10,10]")
    assert grounded_trace({"domain": "android", "state_text": phone, "next_text": moved}) == (
        "1 element appears: [1] Toast 'Saved'. 1 element is renumbered (id +1).")
    # Several shifts are each told with how many took them.
    mixed = grounded_trace({"domain": "os", "state_text": "\n".join([_OS_HEAD, _row(5, "a", "x", 1), _row(6, "b", "y", 2),
                                                                      _row(7, "c", "z", 3)]),
                            "next_text": "\n".join([_OS_HEAD, _row(9, "a", "x", 1), _row(12, "b", "y", 2),
                                                    _row(11, "c", "z", 3)])})
    assert mixed == "3 elements are renumbered (ids +4 for 2, +6 for 1); nothing else changes."
    # A terminal line that starts with "[1]" (a shell job) is text, not an element id.
    jobs = grounded_trace({"domain": "terminal", "state_text": "[1] 105\n$ ", "next_text": "[2] 105\n$ "})
    assert "renumbered" not in jobs


def test_os_and_android_prompts_say_ids_are_positions_and_web_that_bids_change_on_load():
    assert "Ids number the elements in tree order, so an element that appears or disappears" in system_prompt("os")
    assert "renumbers every element after it" in system_prompt("os")
    assert "Ids number the elements in hierarchy order" in system_prompt("android")
    assert "may change when a page loads again" in system_prompt("web")


# ---- D3 ----------------------------------------------------------------------------------------------------------

def test_a_json_answers_short_scalars_are_told_with_their_values():
    # search-explore-search-world-s0-f785846f:0: "the other is total".
    text = '{\n  "offset": 0,\n  "query": "draft ada gamma",\n  "results": [],\n  "total": 3\n}'
    trace = grounded_trace({"domain": "search", "state_text": "", "next_text": text})
    assert trace == ("The result is a JSON object of 6 lines with 4 keys: query is 'draft ada gamma'; results has no "
                     "items; offset is 0; total is 3.")
