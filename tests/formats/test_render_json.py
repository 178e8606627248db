"""Canonical JSON and MCP result rendering. The MCP cases use results produced by a real MCP server (the `mcp`
SDK's MCPServer, called through its in-memory client) as well as hand-written JSON-RPC envelopes."""

from __future__ import annotations

import json

import anyio
import pytest
from pydantic import BaseModel

from schemas.render import RenderError, render
from schemas.render.json_text import render_json, render_mcp


def test_canonical_json_is_independent_of_key_order_and_spacing():
    a = render_json(b'{"b": 1.50, "a": [1, 2e3, "\xc3\xa9"], "c": {"z": null, "y": true}}', {})
    b = render_json(b'\xef\xbb\xbf{"c":{"y":true,"z":null},"a":[1,2000.0,"\\u00e9"],"b":1.5}', {})
    assert a == b
    assert a == '{\n  "a": [\n    1,\n    2000.0,\n    "é"\n  ],\n  "b": 1.5,\n  "c": {\n    "y": true,\n    "z": null\n  }\n}'


@pytest.mark.parametrize("raw, reason", [(b"", "empty"), (b"{", "invalid JSON"), (b'{"a": NaN}', "NaN"),
                                         (b"[-Infinity]", "-Infinity is not a JSON number"),
                                         (b"\xff\xfe", "invalid JSON"),
                                         # One byte-order mark is dropped, a second is named; positions count
                                         # from after the first.
                                         (b"\xef\xbb\xbf\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),
                                         (b"\xef\xbb\xbf\xff", "byte 0xff in position 0"),
                                         (b"\xef\xbb\xbf", "Expecting value")])
def test_bad_json_names_the_reason(raw, reason):
    with pytest.raises(RenderError, match=reason):
        render_json(raw, {})


@pytest.mark.parametrize("render_fn, raw", [
    (render_json, b"[1e400]"),
    (render_mcp, b'{"content": [], "structuredContent": {"speed": -1e999}}'),
])
def test_number_beyond_a_double_is_a_render_error(render_fn, raw):
    # Valid JSON that Python reads as infinity: a renderer error naming it, like NaN, not a bare ValueError.
    with pytest.raises(RenderError, match="number out of range"):
        render_fn(raw, {})


class Total(BaseModel):
    total: int
    note: str


def _real_server_results() -> dict[str, str]:
    from mcp.client.client import Client
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("formats-test")

    @server.tool()
    def add(a: int, b: int) -> Total:
        return Total(total=a + b, note="sum")

    @server.tool()
    def greet(name: str) -> str:
        return f"hello {name}"

    @server.tool()
    def refuse(path: str) -> str:
        raise ToolError(f"access denied: {path}")

    async def call_all():
        async with Client(server) as client:
            return {
                "add": await client.call_tool("add", {"a": 2, "b": 40}),
                "greet": await client.call_tool("greet", {"name": "ada"}),
                "refuse": await client.call_tool("refuse", {"path": "/etc/shadow"}),
                "list": await client.list_tools(),
            }

    return {name: result.model_dump_json(by_alias=True) for name, result in anyio.run(call_all).items()}


def test_real_mcp_server_results():
    results = _real_server_results()
    # Structured output is also sent as a JSON text block; it is shown once.
    # Shown in canonical form (keys sorted), not in the order the server wrote them.
    assert '"total": 42,\n  "note"' in json.loads(results["add"])["content"][0]["text"]
    assert render_mcp(results["add"].encode(), {}) == '{\n  "note": "sum",\n  "total": 42\n}'
    assert render_mcp(results["greet"].encode(), {}) == "hello ada"
    refused = render_mcp(results["refuse"].encode(), {})
    assert refused.startswith("[tool error]\n") and "access denied: /etc/shadow" in refused
    listing = json.loads(render("mcp-json", results["list"].encode(), {}))
    assert sorted(tool["name"] for tool in listing["tools"]) == ["add", "greet", "refuse"]
    assert "_meta" in json.loads(results["list"]) and "_meta" not in listing


def test_json_rpc_envelopes_and_content_blocks():
    envelope = {"jsonrpc": "2.0", "id": 7, "result": {"content": [
        {"type": "text", "text": "first"},
        {"type": "image", "data": "AAAAAAAA", "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "file body"}},
        {"type": "resource_link", "uri": "file:///b.bin", "name": "b.bin"},
    ], "structuredContent": {"count": 2}, "isError": False}}
    assert render_mcp(json.dumps(envelope).encode(), {}) == (
        "first\n[image: image/png, 6 bytes]\nfile body\n[resource link: b.bin file:///b.bin]\n{\n  \"count\": 2\n}")
    error = {"jsonrpc": "2.0", "id": 8, "error": {"code": -32602, "message": "Unknown tool: nope", "data": {"x": 1}}}
    assert render_mcp(json.dumps(error).encode(), {}) == '[error -32602] Unknown tool: nope\n{\n  "x": 1\n}'
    other = {"jsonrpc": "2.0", "id": 9, "result": {"contents": [{"uri": "u", "text": "t"}]}}
    assert render_mcp(json.dumps(other).encode(), {}) == render_json(json.dumps(other["result"]).encode(), {})


def test_unknown_content_block_is_an_error():
    with pytest.raises(RenderError, match="unknown content block type 'video'"):
        render_mcp(b'{"content": [{"type": "video"}], "isError": false}', {})
