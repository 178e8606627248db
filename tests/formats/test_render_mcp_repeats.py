"""Structured content that only wraps what the content blocks say is shown once (audit D9a). The raw results are
real: recorded from the filesystem and memory MCP servers in a curated run (/work/run-check, 2026-11-27)."""

import json

import pytest

from schemas.render import render
from schemas.render.json_text import render_mcp

REAL = {
    # filesystem read_text_file: {"content": <the text>}
    "mcp-perturbed-filesystem-s0-5ec1c517:4": (
        b'{"content":[{"type":"text","text":"Buy milk\\nCall Ada\\n"}],'
        b'"structuredContent":{"content":"Buy milk\\nCall Ada\\n"}}',
        "Buy milk\nCall Ada\n"),
    # filesystem directory_tree: a JSON text wrapped as a string; the text is shown as the server wrote it.
    "mcp-explore-filesystem-s0-46894b13:6": (
        b'{"content":[{"type":"text","text":"[\\n  {\\n    \\"name\\": \\"todo.txt\\",\\n    \\"type\\": \\"file\\"'
        b'\\n  }\\n]"}],"structuredContent":{"content":"[\\n  {\\n    \\"name\\": \\"todo.txt\\",\\n    \\"type\\": '
        b'\\"file\\"\\n  }\\n]"}}',
        '[\n  {\n    "name": "todo.txt",\n    "type": "file"\n  }\n]'),
    # filesystem read_media_file: structured content repeats the content blocks themselves (base64 and all).
    "mcp-explore-filesystem-s0-46894b13:9": (
        b'{"content":[{"type":"resource","resource":{"uri":"file:///tmp/workspace/notes/todo.txt","mimeType":'
        b'"application/octet-stream","blob":"QnV5IG1pbGsKQ2FsbCBBZGEK"}}],"structuredContent":{"content":[{"type":'
        b'"resource","resource":{"uri":"file:///tmp/workspace/notes/todo.txt","mimeType":"application/octet-stream",'
        b'"blob":"QnV5IG1pbGsKQ2FsbCBBZGEK"}}]}}',
        "[resource file:///tmp/workspace/notes/todo.txt: application/octet-stream, 18 bytes]"),
    # memory create_relations: the text is the JSON of the one value; shown once, in canonical form.
    "mcp-memory-graph-s0-34c82378:1": (
        b'{"content":[{"type":"text","text":"[\\n  {\\n    \\"from\\": \\"Ada\\",\\n    \\"to\\": \\"Analytical '
        b'Engine\\",\\n    \\"relationType\\": \\"programs\\"\\n  }\\n]"}],"structuredContent":{"relations":[{"from":'
        b'"Ada","to":"Analytical Engine","relationType":"programs"}]}}',
        '[\n  {\n    "from": "Ada",\n    "relationType": "programs",\n    "to": "Analytical Engine"\n  }\n]'),
    "mcp-explore-memory-s0-1b106fcc:9": (
        b'{"content":[{"type":"text","text":"[]"}],"structuredContent":{"entities":[]}}', "[]"),
    # memory delete_entities: `success` is said nowhere else, so the structured content stays.
    "mcp-memory-graph-s0-34c82378:4": (
        b'{"content":[{"type":"text","text":"Entities deleted successfully"}],'
        b'"structuredContent":{"success":true,"message":"Entities deleted successfully"}}',
        'Entities deleted successfully\n{\n  "message": "Entities deleted successfully",\n  "success": true\n}'),
}


@pytest.mark.parametrize("row", sorted(REAL))
def test_real_results_show_what_they_say_once(row):
    raw, shown = REAL[row]
    assert render("mcp-json", raw) == shown


def _result(texts, structured, **extra):
    return json.dumps({"content": [{"type": "text", "text": t} for t in texts], "structuredContent": structured,
                       **extra}).encode()


def test_the_canonical_json_rule_and_the_sdk_wrapper_still_hold():
    # A text block that parses to the structured content: shown once, as canonical JSON.
    assert render_mcp(_result(['{"b": 1, "a": [1, 2]}'], {"a": [1, 2], "b": 1}), {}) == \
        '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}'
    assert render_mcp(_result(["42"], {"result": 42}), {}) == "42"
    assert render_mcp(_result(["hello"], {"result": "hello"}, isError=True), {}) == "[tool error]\nhello"


def test_two_text_blocks_wrapped_as_one_string_are_shown_once():
    assert render_mcp(_result(["line one", "line two"], {"content": "line one\nline two"}), {}) == \
        "line one\nline two"


@pytest.mark.parametrize("texts, structured", [
    (["Buy milk"], {"content": "Buy milk", "size": 9}),  # says more than the text
    (["Buy milk"], {"content": "Buy bread"}),            # says something else
    (["1"], {"ok": True}),                               # JSON tells 1 from true
    (["1.0"], {"count": 1}),                             # ... and 1.0 from 1
    (["a", "b"], {"content": "a\n\nb"}),
    ([], {"content": ""}),                               # nothing said: the structured content is all there is
])
def test_structured_content_that_says_more_or_otherwise_is_kept(texts, structured):
    assert render_mcp(_result(texts, structured), {}) == \
        "".join(text + "\n" for text in texts) + json.dumps(structured, indent=2, sort_keys=True)
