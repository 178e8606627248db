"""Each domain's system prompt describes the observations its renderer really writes and the actions its collector
really records, checked on real rendered observations where the repository has them (audit D3: the os prompt
described an indented tree while the observations are a tab-separated table)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest

from collectors.swe import ACTION_KINDS, EDITOR_COMMANDS
from schemas.render import render
from schemas.render.os import HEADER
from transforms.prompts import system_prompt

ROOT = Path(__file__).resolve().parents[2]
# A real AT-SPI dump (galculator at start-up, recorded by the os collector).
GALCULATOR = ROOT / "tests" / "os" / "data" / "galculator.json"
# A real browser-sandbox bundle: web-explore-forum-s0-7e034f6d:10 of a curated run (forum search, a focused box).
WEB_BUNDLE = Path(__file__).parent / "data" / "web_forum_search.json"
# A real uiautomator dump of the shared Android data (tests/android reads the same files).
ANDROID_DUMP = ROOT.parent / "shared" / "data" / "android" / "Untergang1__AppAgent" / "tasks" / \
    "task_system_2024-11-12_23-49-19" / "task_system_2024-11-12_23-49-19_2.xml"


def _described(prompt: str) -> list[str]:
    """The `code` spans of a prompt: the literal formats it promises."""
    return re.findall(r"`([^`]+)`", prompt)


def test_os_prompt_describes_the_tab_separated_table():
    prompt = system_prompt("os")
    lines = render("atspi-json", GALCULATOR.read_bytes()).split("\n")
    assert lines[0].startswith("focused window: [") and lines[1].startswith("focused element: [")
    assert lines[2] == HEADER
    # The prompt shows the header row exactly as it appears, and the two focus lines' prefixes.
    assert HEADER in _described(prompt)
    assert any(span.startswith("focused window: [id] ") for span in _described(prompt))
    assert any(span.startswith("focused element: [id] ") for span in _described(prompt))
    columns = HEADER.split("\t")
    for row in lines[3:]:
        cells = row.split("\t")
        assert len(cells) == len(columns) and re.fullmatch(r"\[\d+\]", cells[0])
        assert re.fullmatch(r"\(\d+, \d+\)", cells[6]) and re.fullmatch(r"\(\d+, \d+\)", cells[7])
    # Nothing in the table is indented, and the prompt no longer says it is.
    assert not any(line.startswith((" ", "\t")) for line in lines)
    assert "indent" not in prompt


def test_web_prompt_describes_the_header_and_the_tab_indented_tree():
    prompt = system_prompt("web")
    lines = render("web-json", WEB_BUNDLE.read_bytes()).split("\n")
    header = [line.split(": ", 1)[0] for line in lines[:4]]
    assert header == ["URL", "Title", "Tabs", "Focused"]
    for name in header + ["Error"]:
        assert any(span.startswith(f"{name}: ") for span in _described(prompt)), name
    tree = lines[4:]
    assert all(re.fullmatch(r"\t*(\[\d+\] )?\w+( '.*')?(, .+)?", line) for line in tree)
    assert any(line.startswith("\t\t") for line in tree) and "one tab per level" in prompt
    assert "[bid] role 'name'" in prompt and "StaticText '" in prompt
    assert any(re.match(r"\t+StaticText '", line) for line in tree)  # text without a bid, as the prompt says


def test_android_prompt_lists_the_fields_in_the_order_they_are_written():
    if not ANDROID_DUMP.is_file():
        pytest.fail(f"the real Android dumps are missing: {ANDROID_DUMP}")
    prompt = system_prompt("android")
    [layout] = [span for span in _described(prompt) if "bounds=" in span]
    fields = [part.split("=")[0] for part in layout.split(" | ")[2:-2]]
    assert fields == ["res", "text", "hint", "desc"]
    lines = render("uiautomator-xml", ANDROID_DUMP.read_bytes()).split("\n")
    assert len(lines) > 10
    for line in lines:
        index, _cls, *rest = line.split(" | ")
        assert re.fullmatch(r"\[ \d\]|\[\d{2,}\]", index)  # padded to two places
        bounds = next(i for i, part in enumerate(rest) if part.startswith("bounds=["))
        shown = [part.split("=", 1)[0] for part in rest[:bounds]]
        assert shown == [name for name in fields if name in shown]  # only these, in the prompt's order
        assert len(rest) - bounds <= 2  # then the flags, if any


def test_swe_prompt_names_every_action_the_collector_records():
    prompt = system_prompt("swe")
    for kind in ACTION_KINDS:
        name = "str_replace_editor" if kind in EDITOR_COMMANDS else kind
        assert f'"{name}"' in prompt and f'"{kind}"' in prompt, kind
    assert "the exit status is not shown" in prompt


def _search_results() -> dict[str, str]:
    """Real results of the search server (a generated world), through the MCP SDK's in-memory client."""
    from mcp.client.client import Client

    from sandboxes.search.index import SearchIndex
    from sandboxes.search.server import make_server
    from sandboxes.search.world import generate, pages

    index = SearchIndex.build(pages(generate(7)))
    server = make_server(index, "search-world")

    async def call_all():
        async with Client(server) as client:
            tools = await client.list_tools()
            hits = await client.call_tool("search", {"query": "company founded", "limit": 2})
            page_id = hits.structured_content["results"][0]["page_id"]
            return {"tools": tools, "search": hits,
                    "open_page": await client.call_tool("open_page", {"page_id": page_id}),
                    "refused": await client.call_tool("search", {"query": "x", "limit": 0})}

    return {name: result.model_dump_json(by_alias=True) for name, result in anyio.run(call_all).items()}


def test_search_prompt_names_both_tools_their_arguments_and_every_key_of_their_results():
    prompt = system_prompt("search")
    results = _search_results()
    for tool in json.loads(results["tools"])["tools"]:
        assert f'{{"name": "{tool["name"]}", "arguments": {{' in prompt
        for argument in tool["inputSchema"]["properties"]:
            assert f'"{argument}"' in prompt.split(f'"{tool["name"]}"')[1].split("}}")[0], argument
    described = set(_described(prompt))
    searched = json.loads(render("mcp-json", results["search"].encode()))
    opened = json.loads(render("mcp-json", results["open_page"].encode()))
    assert searched["results"] and set(searched) | set(searched["results"][0]) | set(opened) <= described
    refused = render("mcp-json", results["refused"].encode())
    assert refused.startswith("[tool error]\n") and "[tool error]" in described


def test_mcp_prompt_covers_tool_calls_other_methods_and_errors():
    prompt = system_prompt("mcp")
    # The action texts the mcp collector writes: a tool call, and any other method with its params.
    assert '{"name": tool, "arguments": {...}}' in prompt
    for method in ("resources/read", "prompts/get", "tools/list"):
        assert f'"{method}"' in prompt
    assert '"params"' in prompt
    error = json.dumps({"jsonrpc": "2.0", "id": 3, "error": {"code": -32001,
                                                             "message": "Request 'tools/call' timed out after 30 s"}})
    assert render("mcp-json", error.encode()).startswith("[error -32001] ")
    assert "[error code] message" in _described(prompt) and "[tool error]" in _described(prompt)


def test_terminal_prompt_matches_the_capture():
    prompt = system_prompt("terminal")
    # A capture with colors, a trailing blank row and trailing spaces: plain rows, nothing indented added.
    screen = render("tmux-ansi", b"\x1b[32mroot@box\x1b[0m:/work# ls   \nnotes.txt\n\n", {"cols": 80, "rows": 24})
    assert screen == "root@box:/work# ls\nnotes.txt"
    assert "trailing spaces and trailing blank rows removed" in prompt and "colors dropped" in prompt
