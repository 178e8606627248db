"""The perturbing proxy against real servers: each kind changes what the client sees, keeps the server's own answer
as the reference where there is one, and leaves the server untouched where the call 'failed'."""

import json
import time

import pytest

from tests.mcp.mcp_helpers import result_of
from sandboxes.mcp_proxy import PerturbationSpecError, parse_spec
from sandboxes.mcp_servers import ServerConnection


def connect(servers, name, rules, **kwargs):
    return ServerConnection(servers[name], parse_spec(rules), **kwargs)


def test_perturbations_on_the_reference_server(servers):
    rules = [
        {"kind": "truncate", "max_chars": 5, "match": {"tool": "echo"}},
        {"kind": "partial", "keep": 1, "match": {"tool": "get-resource-links"}},
        {"kind": "partial", "keep": 3, "match": {"method": "tools/list"}},
        {"kind": "jsonrpc_error", "code": -32000, "message": "backend down", "calls": [1], "match": {"tool": "get-sum"}},
        {"kind": "latency", "ms": 300, "match": {"tool": "get-env"}},
        {"kind": "timeout", "match": {"tool": "get-tiny-image"}},
    ]
    with connect(servers, "everything", rules, call_timeout_s=1.5) as conn:
        exchange, error = conn.request("tools/list")
        page = result_of(exchange)
        assert len(page["tools"]) == 3 and page["nextCursor"] and error is None
        assert len(exchange.original.result["tools"]) > 3  # the server's full list is the reference
        follow_up, _ = conn.request("tools/list", {"cursor": page["nextCursor"]})
        assert follow_up.answered_by_proxy
        names = [t["name"] for t in page["tools"] + result_of(follow_up)["tools"]]
        assert names == [t["name"] for t in exchange.original.result["tools"]]

        echo, _ = conn.request("tools/call", {"name": "echo", "arguments": {"message": "hello world"}})
        assert result_of(echo)["content"][0]["text"] == "Echo:…[truncated]"
        assert echo.original.result["content"][0]["text"] == "Echo: hello world"
        assert echo.labels == ["truncate:echo"]

        links, _ = conn.request("tools/call", {"name": "get-resource-links", "arguments": {"count": 3}})
        shown = result_of(links)["content"]
        assert len(shown) == 2 and "repeat the same call" in shown[-1]["text"]
        rest, _ = conn.request("tools/call", {"name": "get-resource-links", "arguments": {"count": 3}})
        assert shown[:1] + result_of(rest)["content"] == links.original.result["content"]

        failed, error = conn.request("tools/call", {"name": "get-sum", "arguments": {"a": 1, "b": 2}})
        assert failed.original is None and failed.answered_by_proxy  # the server never saw it
        assert json.loads(failed.raw(failed.delivered))["error"] == {"code": -32000, "message": "backend down"}
        assert error is not None
        second, error = conn.request("tools/call", {"name": "get-sum", "arguments": {"a": 1, "b": 2}})
        assert error is None and "3" in result_of(second)["content"][0]["text"] and second.labels == []

        started = time.perf_counter()
        slow, _ = conn.request("tools/call", {"name": "get-env", "arguments": {}})
        assert time.perf_counter() - started >= 0.3 and slow.labels == ["latency:get-env"]

        lost, error = conn.request("tools/call", {"name": "get-tiny-image", "arguments": {}})
        assert lost.delivered is None and isinstance(error, TimeoutError)
        assert lost.original.result["content"][1]["type"] == "image"  # the answer the client never got


def test_errors_and_rate_limits_leave_the_server_untouched(servers):
    rules = [{"kind": "tool_error", "calls": [1], "match": {"tool": "create_entities"}},
             {"kind": "rate_limit", "max_calls": 1, "per_s": 30, "match": {"tool": "read_graph"}}]
    entity = {"entities": [{"name": "Ada", "entityType": "person", "observations": ["x"]}]}
    with connect(servers, "memory", rules) as conn:
        refused, _ = conn.request("tools/call", {"name": "create_entities", "arguments": entity})
        assert result_of(refused)["isError"] is True and refused.labels == ["tool_error:create_entities"]
        graph, _ = conn.request("tools/call", {"name": "read_graph", "arguments": {}})
        assert "Ada" not in json.dumps(result_of(graph))
        limited, error = conn.request("tools/call", {"name": "read_graph", "arguments": {}})
        assert limited.labels == ["rate_limit:read_graph"] and limited.original is None
        assert json.loads(limited.raw(limited.delivered))["error"]["code"] == -32029 and error is not None
        created, _ = conn.request("tools/call", {"name": "create_entities", "arguments": entity})
        assert not result_of(created).get("isError") and created.labels == []


def test_stale_result_serves_the_first_answer(servers):
    rules = [{"kind": "stale", "match": {"tool": "read_text_file"}}]
    path = "/tmp/workspace/notes/todo.txt"
    with connect(servers, "filesystem", rules) as conn:
        first, _ = conn.request("tools/call", {"name": "read_text_file", "arguments": {"path": path}})
        assert first.labels == [] and "Buy milk" in result_of(first)["content"][0]["text"]
        conn.request("tools/call", {"name": "write_file", "arguments": {"path": path, "content": "changed\n"}})
        again, _ = conn.request("tools/call", {"name": "read_text_file", "arguments": {"path": path}})
        assert again.labels == ["stale:read_text_file"]
        assert "Buy milk" in result_of(again)["content"][0]["text"]
        assert again.original.result["content"][0]["text"] == "changed\n"


@pytest.mark.parametrize("spec, message", [
    ([{"kind": "explode"}], "kind 'explode' is not one of"),
    ([{"kind": "latency", "msec": 3}], "unknown keys ['msec']"),
    ([{"kind": "latency", "match": {"server": "x"}}], "match takes only"),
    ({"kind": "latency"}, "expected a list"),
])
def test_bad_spec_is_named(spec, message):
    with pytest.raises(PerturbationSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(spec, "perturb.yaml")
