"""Grounded reasoning: a trace built only from the difference between the state and the next observation, or, where
the observation answers one call (mcp, search, swe), from the answer itself.

Every sentence states something checkable against the record itself (which lines appeared, disappeared or changed,
which files and line numbers the new output names, the exit status or a timeout, the reported error, the volatile
values), so a model trained on it learns to reason from evidence rather than to invent explanations. Deterministic
and offline.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from transforms.reasoning import ReasoningError
# What appeared, disappeared and changed (difflib's matching blocks over the lines): compiled, it is most of a
# trace's work.
from transforms.reasoning._linediff import MAX_LISTED, line_diff, quote

# How a line of each domain's observation is called in the trace.
_UNIT = {"web": "element", "android": "element", "os": "element"}
# Domains whose observation is the answer to one call (a tool's result, a page of search results, a command's
# output), not a screen the action changed: their state is only the previous answer, so a diff against it said
# nothing about this one ("1 line changes: 'Echo: hello' becomes 'The sum of 17 and 25 is 42.'"). Their trace
# describes the answer itself. Values: what the answer is called.
_ANSWERS = {"mcp": "result", "search": "result", "swe": "output"}
# A top-level entry of canonical JSON (schemas.render.json_text.canonical_json: sorted keys, indent 2), its line.
_TOP_ENTRY = re.compile(r'^  ("(?:[^"\\]|\\.)*": .*)$', re.M)

# file.py:12 / path/to/x.c:40:2 in compiler, test and traceback output; `+++ b/path` headers of a unified diff.
_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z][\w]{0,7}):(\d+)")
_DIFF_FILE = re.compile(r"^\+\+\+ b/(\S+)", re.M)
# Every file:line match contains this; searching for it first skips the costly scan on most outputs.
_FILE_LINE_HINT = re.compile(r"\.[A-Za-z]\w{0,7}:\d")
_EXIT_KEYS = ("exit_status", "exit_code", "returncode", "status_code")


def _listed(files: list[str]) -> str:
    shown = ", ".join(files[:MAX_LISTED])
    more = len(files) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


# Collectors write the same few metadata documents over and over ('{}', '{"exit_status": 0}'); the parsed value is
# only read here, never handed out, so one parse per distinct text is shared. Broken JSON raises every time.
_parsed_meta = lru_cache(maxsize=1024)(json.loads)


def _meta(row: dict) -> dict:
    meta = row.get("next_meta")
    if meta is None and row.get("next_meta_json"):
        text = row["next_meta_json"]
        meta = _parsed_meta(text) if isinstance(text, str) else json.loads(text)
    return meta if isinstance(meta, dict) else {}


def _files_named(text: str) -> list[str]:
    """The files (and file:line) named in the new lines, joined by newlines. One scan over them finds what a scan per
    line finds: no match spans a newline, and the lookbehind accepts the newline before a line's start as it accepts
    the start of a lone line."""
    # Every hint starts with a dot: the regex scans from the first one (found at memchr speed), often near the end.
    first_dot = text.find(".")
    hinted = first_dot >= 0 and _FILE_LINE_HINT.search(text, first_dot)
    if "+++ b/" in text:
        files = dict.fromkeys(_DIFF_FILE.findall(text))
    elif hinted:
        files = {}
    else:
        return []  # most outputs
    if hinted:
        for path, number in _FILE_LINE.findall(text):
            files.setdefault(f"{path}:{number}")
    return list(files)


def _meta_sentences(meta: dict, sentences: list[str]) -> None:
    if meta.get("timed_out"):
        # Killed at its time limit: there is no exit status, and no output may have been printed at all.
        limit = meta.get("timeout_s")
        after = f" after {limit:g} s" if isinstance(limit, (int, float)) and not isinstance(limit, bool) else ""
        sentences.append(f"The command times out{after} and is killed, so it has no exit status.")
    for key in _EXIT_KEYS:
        if meta.get(key) is not None:
            sentences.append(f"The command exits with status {meta[key]}.")
            break
    # Flags the MCP collector sets from the response itself.
    if meta.get("jsonrpc_error"):
        sentences.append("The server answers with a protocol error instead of a result.")
    elif meta.get("is_error"):
        sentences.append("The tool result is marked as an error.")


def _answer_sentences(state: str, text: str, noun: str) -> list[str]:
    """What an answer holds: its lines (the first few quoted), whether it is a JSON object and with which keys, and
    whether it repeats the previous answer."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return [f"The {noun} is empty."]
    # A JSON object's first lines are "{" and its first key's opening: its top-level entries say more.
    entries = _TOP_ENTRY.findall(text) if text.startswith("{\n") and text.endswith("\n}") else []
    listed = entries or lines
    shown = ", ".join(quote(line) for line in listed[:MAX_LISTED])
    more = f" and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else ""
    if entries:
        sentences = [f"The {noun} is a JSON object of {len(lines)} lines with {len(entries)} "
                     f"{'entry' if len(entries) == 1 else 'entries'}: {shown}{more}."]
    elif len(lines) == 1:
        sentences = [f"The {noun} is one line: {shown}."]
    else:
        sentences = [f"The {noun} has {len(lines)} lines: {shown}{more}."]
    if text == state:
        sentences.append(f"It is the same as the previous {noun}.")
    return sentences


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    domain = row.get("domain") or ""
    if domain in _ANSWERS:
        sentences, new_text = _answer_sentences(state, after_text, _ANSWERS[domain]), after_text
    else:
        sentences, new_text = line_diff(state, after_text, _UNIT.get(domain, "line"))
    files = _files_named(new_text)
    if files:
        sentences.append(f"{'It' if domain in _ANSWERS else 'The new output'} names {_listed(files)}.")
    meta = _meta(row)
    if meta:  # most are '{}'
        _meta_sentences(meta, sentences)
    if row.get("error"):
        sentences.append(f"The environment reports an error: {quote(row['error'])}.")
    spans = row.get("next_volatile_spans") or []
    if spans:
        kinds = sorted({span.get("kind") or "value" for span in spans})
        sentences.append(f"Values that vary between runs: {len(spans)} ({', '.join(kinds)}).")
    if row.get("done"):
        sentences.append("The episode ends after this step.")
    return " ".join(sentences)


class GroundedSynthesizer:
    name = "grounded"

    def traces(self, rows: list[dict]) -> list[str | Exception]:
        out: list[str | Exception] = []
        for row in rows:
            try:
                out.append(grounded_trace(row))
            except (ValueError, TypeError, AttributeError) as exc:
                out.append(ReasoningError(str(row.get("id", "<unknown>")), f"{type(exc).__name__}: {exc}"))
        return out
