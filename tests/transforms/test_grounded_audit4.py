"""Grounded-trace wording the fourth output audit (scratch/s17/audit4, B1, B5, B6) found false or unhelpful. The rows
are those of its run (scratch/s17/run, 2026-11-27), their screens cut to the lines that matter.

B1: every perturbation was told as an MCP proxy fault ("A fault injected between client and server (...) changes the
answer"), a terminal container's condition and a web request's delay included. B5: an element the tree nests one
level less was told as "X becomes X". B6: a desktop with nothing focused was told as "the focused element becomes
'none'", and an MCP result the client's SDK refused was never told.
"""

from __future__ import annotations

import random

from tests.formats.test_reasoning import _reference_line_diff
from transforms.reasoning._linediff import line_diff
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.headers import HEADERS

PROMPT = "root@sandbox:/work#"


def _terminal(state: str, next_text: str, labels: list[str], exit_status: int) -> str:
    return grounded_trace({"domain": "terminal", "collector": "terminal", "state_text": state, "next_text": next_text,
                           "next_meta_json": f'{{"exit_status": {exit_status}}}', "perturbations": labels})


def test_a_terminal_condition_is_told_as_what_the_output_shows_not_as_a_fault_between_client_and_server():
    # terminal-pert-no-network-s0-00b338fd:0: no network is every terminal container's default; the label says the
    # output shows it.
    trace = _terminal(f"{PROMPT}", f"{PROMPT} curl -sS https://pypi.org/simple/ | head -3\n"
                      f"curl: (6) Could not resolve host: pypi.org\n{PROMPT}", ["no_network"], 0)
    assert trace.endswith("The exit status, recorded but not printed, is 0. The new output shows that the container "
                          "has no network.")
    # terminal-pert-slow-commands-s0-d3d12375:1: `cat year.txt | wc -c` prints what it would print unslowed, so the
    # wait is not told (data review s23 D2, session 24).
    slow = _terminal(f"{PROMPT} date +%Y > year.txt\n{PROMPT}",
                     f"{PROMPT} date +%Y > year.txt\n{PROMPT} cat year.txt | wc -c\n5\n{PROMPT}", ["slow_commands"], 0)
    assert slow.endswith("The exit status, recorded but not printed, is 0.")
    for trace in (trace, slow):
        assert "between the client and the server" not in trace and "changes the answer" not in trace
        assert "no_network" not in trace and "slow_commands" not in trace


def _web(state: str, next_text: str, label: str) -> str:
    return grounded_trace({"domain": "web", "collector": "web", "state_text": state, "next_text": next_text,
                           "perturbations": [label]})


def test_a_web_fault_is_told_by_what_it_does_to_the_browsers_requests_without_its_label_or_settings():
    board = ("URL: http://127.0.0.1:44921/\nTitle: Boards - Commons Forum\nTabs: [0] Boards - Commons Forum (active)\n"
             "RootWebArea 'Boards - Commons Forum', focused\n\t[1] banner ''")
    search = ("URL: http://127.0.0.1:44921/search?q=laptop\nTitle: Search - Commons Forum\n"
              "Tabs: [0] Search - Commons Forum (active)\nRootWebArea 'Search - Commons Forum', focused\n"
              "\t[1] banner ''")
    # web-forum-slow-search-s0-5f7cff74:1: the search page came 800 ms late, as it would have come. The glob and
    # the 800 ms are the label's settings, which nothing in the prompt shows (data review s23 D2); the delay itself
    # shows nowhere in the page, so it is not told either (session 24).
    plain = grounded_trace({"domain": "web", "collector": "web", "state_text": board, "next_text": search})
    slow = _web(board, search, "slow:/search*:800")
    # web-form-status-lookup-asset-failure-s0-437aec86:3: the lookup's answer comes from the app, not the stylesheet
    # that failed. The other two hit pages that are not this one.
    failed = _web(board, search, "asset_fail:/static/site.css")
    errored = _web(board, search, "http_500:/checkout")
    cut = _web(board, search, "truncate:/thread/*:0.4")
    assert slow == failed == errored == cut == plain
    for trace in (slow, failed, errored, cut):
        assert not any(setting in trace for setting in ("/search*", "800", "site.css", "/checkout", "/thread", "40%",
                                                        "0.4", "slow:", "asset_fail", "http_500", "truncate"))
    # Two faults of one kind read alike without their settings: told once.
    twice = grounded_trace({"domain": "web", "collector": "web", "state_text": board, "next_text": search,
                            "perturbations": ["slow:/search*:800", "slow:/static/*:300"]})
    assert twice == plain


def test_mcp_faults_are_told_without_their_label_and_a_label_nothing_knows_claims_no_effect():
    row = {"domain": "search", "collector": "mcp", "state_text": "{}", "next_text": "ok",
           "perturbations": ["latency:search"]}
    # A delay changes nothing the answer shows: not told (session 24).
    assert grounded_trace(row) == "The result is one line: 'ok'."
    for collector, label in (("mcp", "flaky:search"), ("web", "dns_fail:/x"), ("terminal", "cpu_cap"),
                             ("os", "slow")):
        trace = grounded_trace({**row, "collector": collector, "perturbations": [label]})
        assert trace.endswith("A fault is recorded for this step, with no record of what it does.")
        assert label not in trace


def test_a_line_only_indented_differently_is_told_as_moving():
    # web-explore-form-s0-b2849708:7: the list item left the alert the tree nested it in.
    state = ("RootWebArea 'Step 1 of 3', focused\n\t\t[10] alert ''\n\t\t\t[12] list ''\n"
             "\t\t\t\t[13] listitem '', level=1")
    after = "RootWebArea 'Step 1 of 3', focused\n\t\t\t[12] listitem '', level=1\n\t\t\t[13] listitem '', level=1"
    trace = grounded_trace({"domain": "web", "state_text": state, "next_text": after})
    assert "\"[13] listitem '', level=1\" moves from depth 4 to depth 3" in trace
    assert "becomes \"[13] listitem" not in trace
    # A terminal's lines are indented with spaces, counted as characters; whitespace alone after the text is told so.
    assert line_diff("a\n    x = 1\nb", "a\n  x = 1\nb", "line")[0] == [
        "1 line changes: '  x = 1' moves from indent 4 to indent 2."]
    assert line_diff("a\n},\nb", "a\n}, \nb", "line")[0] == ["1 line changes: '}, ' changes only in its whitespace."]


COLUMNS = "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate"


def test_a_desktop_with_nothing_focused_says_so():
    # os-explore-calc-scientific-mode-s0-47cacebb:3: click(element=25) opens the Help menu; the renderer writes
    # "none" when no element has focus.
    before = "\n".join(["focused window: [1] frame 'galculator' (galculator)",
                        "focused element: [65] toggle-button '7'", COLUMNS,
                        "[25]\tmenu\tHelp\t\"\"\t\t\t(684, 236)\t(46, 25)\t"])
    after = "\n".join(["focused window: [1] frame 'galculator' (galculator)", "focused element: none", COLUMNS,
                       "[25]\tmenu\tHelp\t\"\"\t\t\t(684, 236)\t(46, 25)\tselected"])
    trace = grounded_trace({"domain": "os", "state_text": before, "next_text": after})
    assert trace.startswith("No element has focus. 1 element changes:")
    assert "'none'" not in trace
    nothing = after.replace("focused window: [1] frame 'galculator' (galculator)", "focused window: none")
    assert grounded_trace({"domain": "os", "state_text": after, "next_text": nothing}) == "No window has focus."
    # Focus that comes back is quoted as before.
    assert grounded_trace({"domain": "os", "state_text": after, "next_text": before}).startswith(
        "The focused element becomes \"[65] toggle-button '7'\".")


def test_desktop_headers_match_the_reference():
    rng = random.Random(87)
    header = HEADERS["os"]
    values = ["none", "[1] frame 'a' (a)", "[2] text ''", "[3] none"]
    told = set()
    for _ in range(500):
        def screen():
            lines = [f"{prefix} {rng.choice(values)}" for prefix in ("focused window:", "focused element:")
                     if rng.random() < 0.8]
            rows = rng.sample(["[5]\tmenu\tFile", "\t[6]\tmenu\tEdit"], rng.randint(0, 2))
            return "\n".join(lines + [COLUMNS] + rows)
        state, next_text = screen(), screen()
        sentences, _ = line_diff(state, next_text, "element", header)
        assert (sentences, _) == _reference_line_diff(state, next_text, "element", header), (state, next_text)
        told.update(clause for sentence in sentences for clause in ("no element has focus", "no window has focus")
                    if clause in sentence.lower())
    assert told == {"no element has focus", "no window has focus"}


def test_a_result_the_client_refused_is_told():
    # mcp-perturbed-filesystem-s0-5ec1c517:5: the proxy cut directory_tree's answer; the SDK then refused it.
    refusal = "RuntimeError: Tool directory_tree has an output schema but did not return structured content"
    trace = grounded_trace({
        "domain": "mcp", "collector": "mcp", "state_text": "{}", "next_text": '[\n  {\n    "n…[truncated]',
        "next_meta_json": f'{{"client_error": "{refusal}", "is_error": false, "jsonrpc_error": false, '
                          '"method": "tools/call", "server": "filesystem"}',
        "perturbations": ["truncate:directory_tree"]})
    assert ("The client rejects the result it receives: 'RuntimeError: Tool directory_tree has an output schema "
            "but did not retu…'.") in trace
    assert trace.endswith("The answer is cut short, as its '…[truncated]' shows.")


def test_an_oom_kill_in_a_swe_container_is_told_as_the_memory_cap():
    # swe steps are labelled memory_cap from the container cgroup's OOM kill count (collectors/swe.py step).
    trace = grounded_trace({"domain": "swe", "collector": "swe", "state_text": "", "next_text": "Killed\n",
                            "next_meta_json": '{"exit_code": 137, "oom_kills": 1}', "perturbations": ["memory_cap"]})
    assert trace.endswith("A process runs out of the memory the container is allowed.")
