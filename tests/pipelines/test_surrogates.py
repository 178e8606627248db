"""Lone UTF-16 surrogates in raw observations (unusual-content audit U2). JSON may escape half a pair
(`"\\ud83d"`: a JavaScript server that cut a string by UTF-16 units), Python's parser keeps it, and the str it made
reached curation's first encode(): one such row ended the whole `worldline curate` (exit 1, no shards, no dead
letter). Each renderer now shows it as U+FFFD, as invalid UTF-8 bytes already are, and a meta_json escaping one is
read with U+FFFD too; every text column curation writes is valid UTF-8."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from schemas.render import render

HALF = "\\ud83d"  # the six characters of the escape, as the raw JSON text holds them

# raw_format, raw JSON text, meta, the text it renders as.
RENDERED = [
    ("json", '{"k": "\\udc00 lone", "%s": 1}' % HALF, {}, '{\n  "k": "\ufffd lone",\n  "\ufffd": 1\n}'),
    ("mcp-json", '{"content": [{"type": "text", "text": "cut emoji %s end"}]}' % HALF, {}, "cut emoji \ufffd end"),
    # The text block repeats structured content, so it is shown in canonical form, which printed the surrogate.
    ("mcp-json", json.dumps({"content": [{"type": "text", "text": '{"a": "%s"}' % HALF}]})[:-1]
     + ', "structuredContent": {"a": "%s"}}' % HALF, {}, '{\n  "a": "\ufffd"\n}'),
    ("mcp-json", '{"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "bad %s"}}' % HALF, {},
     "[error -1] bad \ufffd"),
    ("web-json", '{"url": "http://x/%s", "title": "t %s", "ax_tree": []}' % (HALF, HALF), {},
     "URL: http://x/\ufffd\nTitle: t \ufffd"),
    # A value from meta, not from raw: an element id the sandbox mapped.
    ("cdp-axtree-json", '{"nodes": [{"nodeId": "1", "role": {"value": "button"}, "name": {"value": "b"}, '
                        '"backendDOMNodeId": 5}]}', {"bids": {"5": "a\ud83d"}}, "[a\ufffd] button 'b'"),
]


@pytest.mark.parametrize("raw_format, raw, meta, text", RENDERED)
def test_a_lone_surrogate_renders_as_u_fffd(raw_format, raw, meta, text):
    rendered = render(raw_format, raw.encode(), meta)
    assert rendered == text
    rendered.encode("utf-8")


def test_a_whole_pair_and_a_text_that_only_shows_an_escape_are_kept():
    assert render("json", b'{"k": "\\ud83d\\udc69"}') == '{\n  "k": "\U0001F469"\n}'
    # Plain text is not JSON to its renderer: the six characters are what the screen shows.
    assert render("text", b'{"k": "\\ud83d"}') == '{"k": "\\ud83d"}'


def test_a_meta_json_escaping_a_lone_surrogate_is_read_with_u_fffd():
    from transforms.prepare import _valid_meta_json

    assert _valid_meta_json('{"exit_status": "%s", "b": 1}' % HALF) == '{"exit_status": "\ufffd", "b": 1}'
    for kept in ('{"a": 1}', '{"a": "\\ud83d\\udc69"}', '{"a": "\\\\ud83d"}', "not json \\ud800", None, ""):
        assert _valid_meta_json(kept) is kept


def _row(episode_id, raw, raw_format, meta="{}", domain="mcp"):
    return {"schema_version": "1.2", "episode_id": episode_id, "step": 0, "domain": domain,
            "task": {"id": episode_id, "instruction": "odd", "group": "hand"},
            "action": {"kind": "tools/call", "arguments_json": '{"name": "x", "arguments": {}}', "text": "x()"},
            "next_observation": {"text": "", "raw": raw, "raw_format": raw_format, "meta_json": meta},
            "timings": {"action_start": "2026-11-28T07:00:00Z", "action_end": "2026-11-28T07:00:01Z"}}


# Each of these alone ended the run: in hashing (the observations), or in writing the stage tables (the trace the
# reasoning synthesizer quotes an exit status into, read from meta_json).
CURATED = {
    "s-mcp": (_row("s-mcp", '{"content": [{"type": "text", "text": "cut emoji %s end"}]}' % HALF, "mcp-json"),
              "cut emoji \ufffd end"),
    "s-json": (_row("s-json", '{"k": "\\udc00 lone"}', "json"), '{\n  "k": "\ufffd lone"\n}'),
    "s-web": (_row("s-web", '{"url": "http://x/", "title": "t %s", "ax_tree": []}' % HALF, "web-json",
                   domain="web"), "URL: http://x/\nTitle: t \ufffd"),
    "s-meta": (_row("s-meta", "$ ", "text", meta='{"exit_status": "%s"}' % HALF, domain="terminal"), "$ "),
    "s-good": (_row("s-good", '{"content": [{"type": "text", "text": "plain words"}]}', "mcp-json"), "plain words"),
}


def test_curate_keeps_every_row_with_a_lone_surrogate_as_u_fffd(tmp_path):
    raw = tmp_path / "raw"
    for episode_id, (row, _) in CURATED.items():
        folder = raw / "transitions" / row["domain"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{episode_id}.jsonl").write_text(json.dumps(row) + "\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    rows = {row["episode_id"]: row for path in (out / "transitions").glob("*.parquet")
            for row in pq.read_table(path).to_pylist()}
    assert {episode_id: rows[episode_id]["next_text"] for episode_id in rows} == {
        episode_id: text for episode_id, (_, text) in CURATED.items()}
    assert rows["s-meta"]["next_meta_json"] == '{"exit_status": "\ufffd"}'
    assert not any(pq.read_table(path).num_rows for path in (out / "dead_letter").glob("*.parquet"))
    for stage in ("stage2", "stage3"):
        chats = [row for path in (out / stage).glob("*.parquet") for row in pq.read_table(path).to_pylist()]
        assert len(chats) == len(CURATED), stage
    traces = json.dumps([row for path in (out / "stage2").glob("*.parquet") for row in pq.read_table(path).to_pylist()],
                        ensure_ascii=False)
    assert "The exit status, recorded but not printed, is \ufffd." in traces
