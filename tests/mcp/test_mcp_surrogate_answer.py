"""A real stdio server whose answer escapes a lone UTF-16 surrogate (`{"text": "emoji \\ud83d"}`: what JavaScript's
String.slice by UTF-16 units, then JSON.stringify, make). The SDK's parser refuses such a line and only logs it, so
the call waited out the whole call timeout and was recorded as `timeout: ...; server restarted`, though the server
had answered at once (unusual-content audit U2). It is now delivered, the surrogate as U+FFFD, and the meta says so.
"""

import json
import logging

from collectors.mcp import observation_for
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import result_of

# A line-JSON-RPC server, as a JavaScript one writes it: Python's json.dumps escapes a lone surrogate as
# JSON.stringify does (`\ud83d`). "bad" answers a line that is not JSON to anyone, which must still time out.
SERVER = r"""
import json, sys
TEXT = "emoji \U0001F469\u200d\U0001F4BB end"
def send(value):
    sys.stdout.write(json.dumps(value) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    if m["method"] == "initialize":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"protocolVersion": m["params"]["protocolVersion"],
              "capabilities": {"tools": {}}, "serverInfo": {"name": "surr", "version": "1"}}})
    elif m["method"] == "tools/list":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"tools": [
            {"name": "cut", "description": "first n UTF-16 units", "inputSchema": {"type": "object"}},
            {"name": "bad", "description": "not JSON", "inputSchema": {"type": "object"}}]}})
    elif m["params"]["name"] == "bad":
        sys.stdout.write('{"jsonrpc": "2.0", "id": %d, "result": {"content": [' % m["id"] + "\n"); sys.stdout.flush()
    else:
        units = TEXT.encode("utf-16-le")[:2 * m["params"]["arguments"]["n"]].decode("utf-16-le", "surrogatepass")
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"content": [{"type": "text", "text": units}],
              "structuredContent": {"cut": units}}})
"""


def _connection(call_timeout_s=20):
    script = SERVER.replace("{", "{{").replace("}", "}}")  # args are str.format templates ({python}, {workdir})
    spec = server_from_dict("surr", {"command": "{python}", "args": ["-c", script]}, "test")
    return ServerConnection(spec, call_timeout_s=call_timeout_s)


def test_an_answer_with_a_lone_surrogate_is_delivered_at_once_as_u_fffd_and_said_so(caplog):
    with _connection() as conn:
        with caplog.at_level(logging.ERROR, logger="mcp.client.stdio"):
            exchange, error = conn.request("tools/call", {"name": "cut", "arguments": {"n": 7}})
        assert error is None and exchange.delivered is not None, error  # was a CallTimeout, nothing delivered
        assert result_of(exchange) == {"content": [{"type": "text", "text": "emoji \ufffd"}],
                                       "structuredContent": {"cut": "emoji \ufffd"}}
        observation = observation_for(exchange, error, "surr")
        assert observation.text == "emoji \ufffd" and observation.raw.decode("utf-8")
        assert observation.meta["repaired"] == ("the server's JSON escaped a lone UTF-16 surrogate (U+D83D), which "
                                                "the MCP SDK's parser refuses; shown as U+FFFD")
        assert not observation.meta["jsonrpc_error"] and "client_error" not in observation.meta
        # Handled, so the SDK's "Failed to parse" traceback is not shown.
        assert not [r for r in caplog.records if "Failed to parse" in r.getMessage()]
        # The session goes on: a whole pair is no repair, and the same server answers the next call as before.
        exchange, error = conn.request("tools/call", {"name": "cut", "arguments": {"n": 8}})
        assert error is None and exchange.repaired is None
        assert result_of(exchange)["content"][0]["text"] == "emoji \U0001F469"
        assert "repaired" not in observation_for(exchange, error, "surr").meta


def test_a_line_that_is_not_json_still_times_out_and_is_still_logged(caplog):
    with _connection(call_timeout_s=2) as conn:
        with caplog.at_level(logging.ERROR, logger="mcp.client.stdio"):
            exchange, error = conn.request("tools/call", {"name": "bad", "arguments": {}})
        assert exchange.delivered is None and "timed out" in str(error)
        assert [r for r in caplog.records if "Failed to parse" in r.getMessage()]
        assert json.loads(observation_for(exchange, error, "surr").raw)["error"]["code"] == -32001
