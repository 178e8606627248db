"""A real stdio MCP server (tests/mcp/broken_bytes_stdio_server.py, in its sandbox) whose line holds bytes that are
not UTF-8 (a text cut by bytes). The SDK's stdio reader decoded the server's stdout strictly: the UnicodeDecodeError
ended its reader task, and with it the session (the call failed, every later call too). Such a line now reaches the
recording repaired, each bad byte sequence as U+FFFD, with meta `repaired` naming the bytes, as over http
(tests/mcp/test_mcp_http_repair.py)."""

import json
import logging

import pytest

from collectors.mcp import observation_for
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

SERVER = ROOT / "tests" / "mcp" / "broken_bytes_stdio_server.py"
NOT_UTF8 = "the server's JSON was not valid UTF-8 ({} at byte {} of the message); shown as U+FFFD"


@pytest.fixture(scope="module")
def conn():
    spec = server_from_dict("broken-bytes", {"command": "{python}", "args": [str(SERVER)]}, "test")
    with ServerConnection(spec, call_timeout_s=5) as connection:
        yield connection


def test_a_stdio_answer_with_bytes_that_are_not_utf8_is_recorded_repaired_and_the_session_goes_on(conn, caplog):
    with caplog.at_level(logging.ERROR, logger="mcp.client.stdio"):
        exchange, error = conn.request("tools/call", {"name": "cut", "arguments": {"n": 8}})
    assert error is None, error  # was the session's end: the SDK's reader raised UnicodeDecodeError
    assert result_of(exchange) == {"content": [{"type": "text", "text": "emoji \ufffd"}],
                                   "structuredContent": {"cut": "emoji \ufffd"}}
    observation = observation_for(exchange, error, "broken-bytes")
    assert observation.text == "emoji \ufffd"
    assert observation.meta["repaired"] == NOT_UTF8.format("bytes F0 9F", 83)
    assert observation.meta["jsonrpc_error"] is False and "client_error" not in observation.meta
    # Handled, so the SDK's "Failed to parse" traceback is not shown.
    assert not [r for r in caplog.records if "Failed to parse" in r.getMessage()]
    # The same process answers the next call, and a whole emoji is no repair.
    exchange, error = conn.request("tools/call", {"name": "cut", "arguments": {"n": 10}})
    assert error is None and exchange.repaired is None and conn.restarts == 0
    assert result_of(exchange)["content"][0]["text"] == "emoji \U0001F469"
    assert "repaired" not in observation_for(exchange, error, "broken-bytes").meta


def test_every_bad_sequence_of_a_line_is_replaced_and_the_note_names_the_first(conn):
    exchange, error = conn.request("tools/call", {"name": "mixed", "arguments": {}})
    assert error is None, error
    text = "a \ufffd b \U0001F4BB c \ufffd"
    assert result_of(exchange) == {"content": [{"type": "text", "text": text}], "structuredContent": {"cut": text}}
    assert observation_for(exchange, error, "broken-bytes").meta["repaired"] == NOT_UTF8.format("bytes F0 9F 91", 79)


def test_a_notification_with_bad_bytes_does_not_end_the_session(conn):
    exchange, error = conn.request("tools/call", {"name": "notify_cut", "arguments": {}})
    assert error is None and exchange.repaired is None, (error, exchange.repaired)
    assert result_of(exchange)["content"][0]["text"] == "ok"


def test_a_line_that_is_neither_utf8_nor_json_still_times_out_and_is_still_logged(conn, caplog):
    with caplog.at_level(logging.ERROR, logger="mcp.client.stdio"):
        exchange, error = conn.request("tools/call", {"name": "bad", "arguments": {}})
    assert exchange.delivered is None and "timed out" in str(error)
    assert [r for r in caplog.records if "Failed to parse" in r.getMessage()]
    assert json.loads(observation_for(exchange, error, "broken-bytes").raw)["error"]["code"] == -32001
