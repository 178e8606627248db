"""Grounded-trace wording left over from the session-23 data reviews (scratch/s23/h189/REPORT.md D2, R1; D8), fixed in
session 24. The screens are cut from the rows they name (the `make run` output of /work/ci-check, 2026-11-28).

D2: a fault was still told in rows whose next observation shows nothing of it (a delay, a stylesheet that failed to
load under the same tree), a cause the model cannot see for nothing it has to predict; and faults that change the
answer were told by a hidden cause ("a fault between the client and the server ...") rather than by what the answer
shows. R1: "17 lines (2 blank): 'a', 'b', 'c' and 12 more" did not add up (3 + 12 is 15). D8: swe traces said "The
command exits with status N" where the swe prompt says the exit status is not shown.
"""

from __future__ import annotations

import re

from transforms.prompts import system_prompt
from transforms.reasoning._linediff import line_diff
from transforms.reasoning.grounded import grounded_trace

# ---- D2: web -----------------------------------------------------------------------------------------------------

_STATUS = ("URL: http://127.0.0.1:46167/status\nTitle: Application status - City Permits\n"
           "Tabs: [0] Application status - City Permits (active)\nRootWebArea 'Application status - City Permits', "
           "focused\n\t\t\t[12] textbox 'Reference', value='PRM-1001', focused\n\t\t\t[13] button 'Look up'")
_LOOKED_UP = ("URL: http://127.0.0.1:46167/status?ref=PRM-1001\nTitle: Application status - City Permits\n"
              "Tabs: [0] Application status - City Permits (active)\nRootWebArea 'Application status - City "
              "Permits', focused\n\t\t\t[12] textbox 'Reference', value='PRM-1001'\n\t\t\t[13] button 'Look up'\n"
              "\t\t[14] status ''")
_CART = ("URL: http://127.0.0.1:40013/cart\nTitle: Cart - Northwind Shop\nTabs: [0] Cart - Northwind Shop (active)\n"
         "RootWebArea 'Cart - Northwind Shop', focused\n\t\t[42] link 'Proceed to checkout'")
_ERROR_500 = ("URL: http://127.0.0.1:40013/checkout\nTitle: 500\nTabs: [0] 500 (active)\nRootWebArea '500', focused\n"
              "\t[1] heading '500', level=1")
_BOARD = ("URL: http://127.0.0.1:36589/board/1\nTitle: General - Commons Forum\n"
          "Tabs: [0] General - Commons Forum (active)\nRootWebArea 'General - Commons Forum', focused\n"
          "\t\t\t[6] search ''\n\t\t[25] link 'Meetup in the spring'")
_THREAD_CUT = ("URL: http://127.0.0.1:36589/thread/9\nTitle: Meetup in the spring - Commons Forum\n"
               "Tabs: [0] Meetup in the spring - Commons Forum (active)\nRootWebArea 'Meetup in the spring - Commons "
               "Forum', focused\n\t\t[4] navigation 'Main'\n\t\t\t[5] link 'Boards'")


def _web(state: str, after: str, *labels: str) -> str:
    return grounded_trace({"domain": "web", "collector": "web", "state_text": state, "next_text": after,
                           "perturbations": list(labels)})


def test_a_web_fault_the_page_does_not_show_is_not_told():
    # web-form-status-lookup-asset-failure-s0-437aec86:1: the stylesheet failed, the lookup's answer is the app's.
    plain = _web(_STATUS, _LOOKED_UP)
    assert _web(_STATUS, _LOOKED_UP, "asset_fail:/static/site.css") == plain
    # web-forum-slow-search-s0-5f7cff74:1: the search page came late, as it would have come.
    assert _web(_STATUS, _LOOKED_UP, "slow:/status*:800") == plain
    # A fault on another address than the page shown (a 500 or a cut body of a request the page made aside).
    assert _web(_STATUS, _LOOKED_UP, "http_500:/checkout", "truncate:/thread/*:0.4") == plain
    assert "fault" not in plain


def test_a_web_fault_that_made_the_page_is_told_by_what_the_page_shows():
    # web-shop-checkout-server-error-s0-485e83b7:2: /checkout answered with the fault's bare 500 page.
    errored = _web(_CART, _ERROR_500, "http_500:/checkout")
    # The page's root is one line whatever the titles (tests/transforms/test_linediff_pairing.py).
    assert errored.endswith("\"[42] link 'Proceed to checkout'\". 1 element changes: \"RootWebArea 'Cart - Northwind "
                            "Shop', focused\" becomes \"RootWebArea '500', focused\". The page is the bare HTTP 500 "
                            "error page that answered the request.")
    # The glob matches the address but the page is not the fault's (the title is the app's own): not told.
    assert "HTTP 500" not in _web(_CART, _LOOKED_UP.replace("/status?ref=PRM-1001", "/checkout"), "http_500:/check*")
    # web-forum-truncated-thread-s0-9a4d69d8:1: the thread's page is cut after its navigation.
    cut = _web(_BOARD, _THREAD_CUT, "truncate:/thread/*:0.4")
    assert cut.endswith("The page arrives cut short, so only the start of its content is shown.")
    for trace in (errored, cut):
        assert not any(setting in trace for setting in ("/checkout*", "/thread/*", "0.4", "http_500", "truncate",
                                                        "A fault", "in the server's place"))


# ---- D2: MCP -----------------------------------------------------------------------------------------------------

def _mcp(state: str, after: str, label: str, meta: str = "{}") -> str:
    return grounded_trace({"domain": "mcp", "collector": "mcp", "state_text": state, "next_text": after,
                           "next_meta_json": meta, "perturbations": [label]})


def test_an_mcp_fault_is_told_by_what_the_answer_shows_or_not_at_all():
    # mcp-perturbed-filesystem-s0-5ec1c517:0: a delayed listing reads as an undelayed one.
    assert _mcp("{}", "[FILE] todo.txt", "latency:list_directory") == "The result is one line: '[FILE] todo.txt'."
    # mcp-perturbed-filesystem-s0-5ec1c517:4: the read after a successful write returns the first read's lines.
    stale = _mcp("Successfully wrote to /tmp/workspace/notes/todo.txt", "Buy milk\nCall Ada\n",
                 "stale:read_text_file")
    assert stale == ("The result has 2 lines: 'Buy milk', 'Call Ada'. The answer repeats the first answer the same "
                     "call got, not a current one.")
    # mcp-perturbed-everything-s0-01efc43e:7: the error is the answer, told as any tool error is.
    failed = _mcp("The sum of 1 and 1 is 2.",
                  "[tool error]\nError: the tool 'get-sum' is temporarily unavailable (upstream service error)",
                  "tool_error:get-sum", '{"is_error": true, "jsonrpc_error": false}')
    assert failed.endswith("The tool result is marked as an error.") and "fault" not in failed
    refused = _mcp("{}", "[error -32603] Internal error: backend unavailable", "jsonrpc_error:write_file",
                   '{"jsonrpc_error": true, "answered_by": "proxy"}')
    assert refused.endswith("The client receives a protocol error instead of a result.")
    # mcp-perturbed-everything-s0-01efc43e:4: the proxy's note says what it held back.
    partial = _mcp("{}", "Here are 3 resource links to resources available in this server:\n[partial result: 1 of 4 "
                   "content blocks shown; repeat the same call to fetch the remaining 3]", "partial:get-resource-links")
    assert partial.endswith("Only part of the answer arrives, and the rest is held back for a later call.")
    # A truncate whose marker the answer does not hold shows no cut.
    assert _mcp("{}", "Echo: hi", "truncate:echo") == "The result is one line: 'Echo: hi'."
    assert _mcp("{}", "Echo: " + "a" * 20 + "…[truncated]", "truncate:echo").endswith(
        "The answer is cut short, as its '…[truncated]' shows.")


# ---- D2: terminal ------------------------------------------------------------------------------------------------

def test_a_terminal_step_slowed_down_tells_no_fault():
    # terminal-pert-slow-commands-s0-d3d12375:0: the wait shows nowhere on the screen.
    prompt = "root@sandbox:/work#"
    row = {"domain": "terminal", "collector": "terminal", "state_text": prompt,
           "next_text": f"{prompt} date +%Y > year.txt\n{prompt}", "next_meta_json": '{"exit_status": 0}'}
    assert grounded_trace({**row, "perturbations": ["slow_commands"]}) == grounded_trace(row) == (
        "1 line appears: 'root@sandbox:/work# date +%Y > year.txt'. The exit status, recorded but not printed, is 0.")
    # A condition the output shows is still told.
    full = grounded_trace({**row, "next_text": f"{prompt} head -c 9 /dev/zero > f\nhead: error writing 'f': No space "
                           f"left on device\n{prompt}", "perturbations": ["disk_full", "slow_commands"]})
    assert full.endswith("is 0. The new output shows that the disk is full.")


# ---- R1 ----------------------------------------------------------------------------------------------------------

_PYTEST_FAILED = (  # swe-inflection-add-titleize-test-s0-a03b081c:2
    ".F                                                                       [100%]\n"
    "=================================== FAILURES ===================================\n"
    "____________________________ test_wrong_expectation ____________________________\n\n"
    "    def test_wrong_expectation():\n"
    ">       assert inflection.titleize(\"raiders_of_the_lost_ark\") == \"Raiders of the Lost Ark\"\n"
    "E       AssertionError: assert 'Raiders Of The Lost Ark' == 'Raiders of the Lost Ark'\nE         \n"
    "E         - Raiders of the Lost Ark\nE         ?         ^  ^\nE         + Raiders Of The Lost Ark\n"
    "E         ?         ^  ^\n\ntest_titleize_extra.py:9: AssertionError\n"
    "=========================== short test summary info ============================\n"
    "FAILED test_titleize_extra.py::test_wrong_expectation - AssertionError: asser...\n1 failed, 1 passed in 0.02s\n")
_COUNTED = re.compile(r"(\d+) lines?(?: appears?)? \((\d+) blank\): ((?:'[^']*'(?:, )?)+)(?: and (\d+) more non-blank)?")


def _adds_up(sentence: str) -> bool:
    total, blank, quoted, more = _COUNTED.search(sentence).groups()
    return int(total) == int(blank) + quoted.count("', '") + 1 + int(more or 0)


def test_a_count_with_blank_lines_adds_up():
    trace = grounded_trace({"domain": "swe", "state_text": "", "next_text": _PYTEST_FAILED})
    assert "The output has 17 lines (2 blank): " in trace and "' and 12 more non-blank. " in trace
    assert _adds_up(trace)
    # The same in a screen's line diff (terminal-files-tree-view-s0-1d79c8e1:0, cut).
    appeared = line_diff("$", "$\n$ ls -R\n.:\nlogs  notes.txt\n\n./logs:\napp.log", "line")[0][0]
    assert appeared == "6 lines appear (1 blank): '$ ls -R', '.:', 'logs  notes.txt' and 2 more non-blank."
    assert _adds_up(appeared)
    # Without blank lines "more" needs no word: the count is of the lines shown and the rest.
    assert grounded_trace({"domain": "swe", "state_text": "", "next_text": "a\nb\nc\nd\ne"}).endswith(
        "'a', 'b', 'c' and 2 more.")


# ---- D8: the exit status ------------------------------------------------------------------------------------------

def test_an_exit_status_is_told_as_the_records_not_as_printed_output():
    # swe-six-explore-history-and-tests-s0-78634799:3: the editor's error; its 1 is the tool's, shown nowhere.
    assert "the exit status is not shown" in system_prompt("swe")
    row = {"domain": "swe", "collector": "swe", "state_text": "",
           "next_text": "Invalid `view_range`: [0, 10]. Its first element `0` should be within the range of lines of "
                        "the file: [1, 1004]", "next_meta_json": '{"exit_code": 1, "oom_kills": 0}'}
    trace = grounded_trace(row)
    assert trace.endswith("The exit status, recorded but not printed, is 1.") and "exits with status" not in trace
    # A terminal's screen shows no status either (its prompt says nothing of one).
    assert "exit status" not in system_prompt("terminal")
    terminal = grounded_trace({"domain": "terminal", "state_text": "$", "next_text": "$ false\n$",
                               "next_meta_json": '{"exit_status": 1}'})
    assert terminal.endswith("The exit status, recorded but not printed, is 1.")
    # A killed command still has none.
    assert grounded_trace({**row, "next_text": "", "next_meta_json": '{"exit_code": null, "timed_out": true}'}) == (
        "The output is empty. The command times out and is killed, so it has no exit status.")
