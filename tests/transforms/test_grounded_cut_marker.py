"""The trace's own cut (`…`) and the MCP proxy's (`…[truncated]`) read cleanly together: a quote or a snippet cut
inside the proxy's marker stops before it, never "……" or "…[trunc…" (audit5 F4, mcp-perturbed-filesystem)."""

from __future__ import annotations

import json

import pytest

from sandboxes.mcp_proxy import _truncate
from transforms.reasoning._linediff import quote
from transforms.reasoning.grounded import grounded_trace

MARKER = "…[truncated]"


def proxy_cut(text: str, max_chars: int) -> str:
    """The text as the proxy's truncate fault hands it to the client."""
    return _truncate({"content": [{"type": "text", "text": text}]}, max_chars)["content"][0]["text"]


def mcp_row(next_text: str) -> dict:
    return {"domain": "mcp", "collector": "mcp", "state_text": "{}", "next_text": next_text,
            "next_meta_json": '{"method": "tools/call", "server": "everything"}',
            "perturbations": ["truncate:echo"]}


def quoted_lines(trace: str) -> str:
    return trace.split(": ", 1)[1].split(". The answer is cut short", 1)[0]


@pytest.mark.parametrize("kept", range(55, 75))
def test_a_line_the_proxy_cut_is_quoted_without_a_broken_marker(kept):
    # Every place the trace's 72-character cut can fall: before, inside and after the proxy's marker.
    line = proxy_cut("Echo: " + "a" * 200, kept)
    trace = grounded_trace(mcp_row(line))
    shown = quoted_lines(trace)
    assert "……" not in shown and "[trunc" not in shown.replace(MARKER, ""), trace
    if len(line) <= 72:
        assert shown == repr(line)  # short enough: the marker shows whole
    else:
        assert shown == repr(line[:min(71, kept)] + "…")  # cut before the marker, one ellipsis for the rest


def test_a_cut_inside_the_marker_also_drops_the_spaces_before_it():
    line = "word " * 12 + " " + MARKER  # the marker starts at 61; the cut at 71 falls inside it
    assert quote(line) == repr("word " * 11 + "word…")


def test_only_the_whole_marker_moves_the_cut():
    # Not the marker: text that only starts like it is cut as any other.
    line = "a" * 60 + "…[trunc" + "c" * 20
    assert quote(line) == repr(line[:71] + "…")


def test_a_long_string_in_a_json_answer_is_snipped_before_the_marker():
    # _snippet (40 characters, at a word) over a value holding a text the proxy cut at 30: a memory server's note
    # that stored a truncated answer, with more words after it.
    value = proxy_cut("x" * 100, 30) + " noted after the cut answer"
    trace = grounded_trace(mcp_row(json.dumps({"content": value, "path": "/tmp/a"}, ensure_ascii=False)))
    assert f"content is {len(value)} characters starting {repr('x' * 30 + '…')}" in trace, trace
    assert "[trunc" not in trace.removesuffix(f" The answer is cut short, as its {MARKER!r} shows.")
