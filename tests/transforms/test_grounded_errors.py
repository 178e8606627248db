"""A failed action's error is stated once in its grounded trace (transforms/reasoning/grounded.py). The rows are
those of the run of 2026-11-27 (scratch/s16) whose `error` is set, their screens cut to the lines that matter."""

from transforms.reasoning._linediff import quote
from transforms.reasoning.grounded import grounded_trace

# web-explore-tracker-s0-26e81b6f:17: select_option("22", "ana") on a combobox whose options hold no "ana" label.
WEB_ERROR = "Locator.select_option: Timeout 5000ms exceeded."
HEADER = ("URL: http://127.0.0.1:36179/project/WEB/new\nTitle: New issue in WEB - Trackline\n"
          "Tabs: [0] New issue in WEB - Trackline (active)\n")
TREE = ("RootWebArea 'New issue in WEB - Trackline', focused\n\t[1] banner ''\n\t\t[2] link 'Trackline'\n"
        "\t\t\t[22] combobox 'Priority', value='Choose...'\n\t\t\t\tMenuListPopup ''\n"
        "\t\t\t\t\t[23] option 'Choose...', selected=true\n\t\t\t\t\t[24] option 'low'\n")


SELECTING = "Selecting 'ana' in \"[22] combobox 'Priority', value='Choose...'\""


def web_row(state_text, next_text):
    return {"domain": "web", "state_text": state_text, "next_text": next_text, "error": WEB_ERROR,
            "action_text": 'select_option("22", "ana")',
            "next_volatile_spans": [{"start": 22, "end": 27, "kind": "port"}], "done": False}


def test_a_web_error_is_stated_once_whether_the_header_tells_it_or_not():
    trace = grounded_trace(web_row(HEADER + TREE, HEADER + f"Error: {WEB_ERROR}\n" + TREE))
    # The opening ties the action to its target; the tree is unchanged, so only the header's error is told.
    assert trace == (f"{SELECTING} leaves the page's elements as they were. "
                     f"The action error is now {quote(WEB_ERROR)}.")
    # The same failure twice: the Error line does not change, so only the environment's report tells it.
    screen = HEADER + f"Error: {WEB_ERROR}\n" + TREE
    assert grounded_trace(web_row(screen, screen)) == (
        f"{SELECTING} changes nothing on the page. The environment reports an error: {quote(WEB_ERROR)}.")
    # An error the header does not hold (the browser was restarted) is reported beside it.
    restarted = grounded_trace({**web_row(HEADER + TREE, HEADER + f"Error: {WEB_ERROR}\n" + TREE),
                                "error": "browser restarted: Target closed"})
    assert restarted == (f"{SELECTING} leaves the page's elements as they were. "
                         f"The action error is now {quote(WEB_ERROR)}. "
                         "The environment reports an error: 'browser restarted: Target closed'.")
    # An output that only quotes the same text does not say it is an error.
    assert grounded_trace({"domain": "swe", "state_text": "", "next_text": "disk full", "error": "disk full"}) == (
        "The output is one line: 'disk full'. The environment reports an error: 'disk full'.")


def test_an_mcp_call_the_client_gave_up_on_states_its_timeout_once():
    # mcp-perturbed-everything-s0-01efc43e:8: the proxy held the answer back; the client made the error itself.
    trace = grounded_trace({
        "domain": "mcp", "state_text": "[error -32029] Rate limit exceeded: at most 2 calls per 60 s; retry after 60 s",
        "next_text": "[error -32001] Request 'tools/call' timed out after 30 s",
        "next_meta_json": '{"is_error": false, "jsonrpc_error": true, "method": "tools/call", "server": "everything", '
                          '"source": "client"}',
        "perturbations": ["timeout:get-tiny-image"], "error": "timeout: no response within 30 s"})
    assert trace == (
        "The result is one line: \"[error -32001] Request 'tools/call' timed out after 30 s\". The environment "
        "reports an error, 'timeout: no response within 30 s': no answer arrives, so the client gives up waiting and "
        "reports the error itself.")
    assert trace.count("no response within") == 1 and trace.count("gives up") == 1
