"""A real http MCP server (tests/mcp/broken_text_http_server.py, in its sandbox) whose answer escapes a lone UTF-16
surrogate or holds bytes that are not UTF-8. The SDK's streamable-http client answered such a body with its own
-32700 "Failed to parse" error and dropped the body: the record showed a parse error as the server's answer. Now the
body is repaired before the SDK reads it, as a stdio line is (tests/mcp/test_mcp_surrogate_answer.py), and the
record's meta says `repaired`."""

import asyncio
import json
import logging

import pytest

from collectors.mcp import observation_for
from sandboxes.mcp_repair import MAX_HELD_EVENT_BYTES, _RepairedEvents
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

SERVER = ROOT / "tests" / "mcp" / "broken_text_http_server.py"
SURROGATE = ("the server's JSON escaped a lone UTF-16 surrogate (U+D83D), which the MCP SDK's parser refuses; "
             "shown as U+FFFD")
NOT_UTF8 = "the server's JSON was not valid UTF-8 (bytes F0 9F at byte {} of the message); shown as U+FFFD"


@pytest.fixture(scope="module")
def conn():
    spec = server_from_dict("broken-text", {"command": "{python}", "args": [str(SERVER), "--port", "{port}"],
                                            "transport": "http"}, "test")
    with ServerConnection(spec, call_timeout_s=20) as connection:
        yield connection


@pytest.mark.parametrize("body", ["json", "sse", "sse-split"])
@pytest.mark.parametrize("how,n,note", [("escape", 7, SURROGATE), ("bytes", 8, NOT_UTF8)])
def test_an_http_answer_the_sdk_would_refuse_is_recorded_repaired_not_as_a_parse_error(conn, caplog, body, how, n,
                                                                                       note):
    with caplog.at_level(logging.ERROR, logger="mcp.client.streamable_http"):
        exchange, error = conn.request("tools/call", {"name": "cut", "arguments": {"n": n, "how": how, "body": body}})
    # Was MCPError -32700 "Failed to parse JSON response" / "... SSE message", recorded as the server's error.
    assert error is None, error
    assert result_of(exchange) == {"content": [{"type": "text", "text": "emoji \ufffd"}],
                                   "structuredContent": {"cut": "emoji \ufffd"}}
    observation = observation_for(exchange, error, "broken-text")
    assert observation.text == "emoji \ufffd"
    # The message split over two data lines is one byte longer: SSE joins them with a line break.
    assert observation.meta["repaired"] == note.format(75 if body == "sse-split" else 74)
    assert observation.meta["jsonrpc_error"] is False and "client_error" not in observation.meta
    assert not [r for r in caplog.records if "parsing" in r.getMessage()]


def test_whole_answers_are_not_repaired_and_a_body_that_is_no_json_stays_the_sdks_parse_error(conn):
    for arguments in ({"n": 8, "how": "escape"}, {"n": 10, "how": "bytes", "body": "sse"}):
        exchange, error = conn.request("tools/call", {"name": "cut", "arguments": arguments})
        assert error is None and exchange.repaired is None
        assert result_of(exchange)["content"][0]["text"] == "emoji \U0001F469"
        assert "repaired" not in observation_for(exchange, error, "broken-text").meta
    exchange, error = conn.request("tools/call", {"name": "bad", "arguments": {}})
    observation = observation_for(exchange, error, "broken-text")
    assert json.loads(observation.raw)["error"]["code"] == -32700 and "repaired" not in observation.meta


async def _through_events(chunks: list[bytes]) -> tuple[bytes, list[str]]:
    async def stream():
        for chunk in chunks:
            yield chunk

    noted = []
    events = _RepairedEvents(stream(), lambda message, why: noted.append((message.id, why)))
    return b"".join([part async for part in events]), noted


def test_events_pass_byte_for_byte_unless_repaired_whatever_the_chunks():
    whole = b'data: {"jsonrpc":"2.0","id":3,"result":{"t":"\\ud83d\\udc69"}}\r\n\r\n'
    half = b': keep-alive\r\nevent: message\r\nid: 9\r\ndata: {"jsonrpc":"2.0","id":4,\r\ndata: "result":{"t":"\\ud83d"}}\r\n\r\n'
    stream = whole + half + b"data: cut short"
    # One byte at a time: a "\r\n" split between two chunks, lines and events over many.
    out, noted = asyncio.run(_through_events([stream[i:i + 1] for i in range(len(stream))]))
    assert out == whole + (b': keep-alive\r\nevent: message\r\nid: 9\r\ndata: {"jsonrpc": "2.0", "id": 4, '
                           b'"result": {"t": "\xef\xbf\xbd"}}\n\r\n') + b"data: cut short"
    assert noted == [(4, SURROGATE)]
    assert asyncio.run(_through_events([stream]))[0] == out


def test_an_event_longer_than_the_sdks_limit_passes_on_unheld():
    big = b"data: " + b"x" * MAX_HELD_EVENT_BYTES + b"\n" + b'data: "\\ud83d"\n\n'
    chunks = [big[i:i + 4096] for i in range(0, len(big), 4096)]
    out, noted = asyncio.run(_through_events(chunks))
    assert out == big and noted == []
