"""Grounded reasoning: a trace built only from the difference between the state and the next observation.

Every sentence states something checkable against the record itself (which lines appeared, disappeared or changed,
which files and line numbers the new output names, the exit status, the reported error, the volatile values), so a
model trained on it learns to reason from evidence rather than to invent explanations. Deterministic and offline.
"""

from __future__ import annotations

import difflib
import json
import re

from transforms.reasoning import ReasoningError

# How a line of each domain's observation is called in the trace.
_UNIT = {"web": "element", "android": "element", "os": "element"}
_MAX_LISTED = 3
_MAX_CHARS = 72

# file.py:12 / path/to/x.c:40:2 in compiler, test and traceback output; `+++ b/path` headers of a unified diff.
_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z][\w]{0,7}):(\d+)")
_DIFF_FILE = re.compile(r"^\+\+\+ b/(\S+)", re.M)
_EXIT_KEYS = ("exit_status", "exit_code", "returncode", "status_code")


def _quote(line: str) -> str:
    line = line.strip()
    return repr(line if len(line) <= _MAX_CHARS else line[: _MAX_CHARS - 1] + "…")


def _listed(lines: list[str], quote=_quote) -> str:
    shown = ", ".join(quote(line) for line in lines[:_MAX_LISTED])
    more = len(lines) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _counted(count: int, unit: str, verb: str) -> str:
    """'1 line appears', '2 lines appear'."""
    return f"{_plural(count, unit)} {verb + 's' if count == 1 else verb}"


def _meta(row: dict) -> dict:
    meta = row.get("next_meta")
    if meta is None and row.get("next_meta_json"):
        meta = json.loads(row["next_meta_json"])
    return meta if isinstance(meta, dict) else {}


def _diff_sentences(before: list[str], after: list[str], unit: str) -> tuple[list[str], list[str]]:
    """Sentences about what appeared, disappeared and changed, and the lines of `after` that are new."""
    added, removed, changed, new_lines = [], [], [], []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            new_lines += after[j1:j2]
        if tag == "insert":
            added += after[j1:j2]
        elif tag == "delete":
            removed += before[i1:i2]
        elif tag == "replace":
            pairs = min(i2 - i1, j2 - j1)
            changed += list(zip(before[i1:i1 + pairs], after[j1:j1 + pairs]))
            removed += before[i1 + pairs:i2]
            added += after[j1 + pairs:j2]
    # Blank lines carry nothing a reader could check.
    added = [line for line in added if line.strip()]
    removed = [line for line in removed if line.strip()]
    sentences = []
    if added:
        sentences.append(f"{_counted(len(added), unit, 'appear')}: {_listed(added)}.")
    if removed:
        sentences.append(f"{_counted(len(removed), unit, 'disappear')}: {_listed(removed)}.")
    if changed:
        shown = "; ".join(f"{_quote(old)} becomes {_quote(new)}" for old, new in changed[:_MAX_LISTED])
        more = len(changed) - _MAX_LISTED
        tail = f" and {more} more." if more > 0 else "."
        sentences.append(f"{_counted(len(changed), unit, 'change')}: {shown}{tail}")
    return sentences, new_lines


def _files_named(new_lines: list[str]) -> list[str]:
    files = dict.fromkeys(_DIFF_FILE.findall("\n".join(new_lines)))
    for line in new_lines:
        for path, number in _FILE_LINE.findall(line):
            files.setdefault(f"{path}:{number}")
    return list(files)


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    unit = _UNIT.get(row.get("domain") or "", "line")
    before, after = state.splitlines(), after_text.splitlines()
    sentences = []
    if not state.strip():
        sentences.append(f"There is no earlier observation; the environment shows {_plural(len(after), unit)}.")
        new_lines = after
    elif before == after:
        sentences.append("The observation does not change.")
        new_lines = []
    else:
        diff, new_lines = _diff_sentences(before, after, unit)
        sentences += diff
    files = _files_named(new_lines)
    if files:
        sentences.append(f"The new output names {_listed(files, quote=str)}.")
    meta = _meta(row)
    for key in _EXIT_KEYS:
        if meta.get(key) is not None:
            sentences.append(f"The command exits with status {meta[key]}.")
            break
    # Flags the MCP collector sets from the response itself.
    if meta.get("jsonrpc_error"):
        sentences.append("The server answers with a protocol error instead of a result.")
    elif meta.get("is_error"):
        sentences.append("The tool result is marked as an error.")
    if row.get("error"):
        sentences.append(f"The environment reports an error: {_quote(row['error'])}.")
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
