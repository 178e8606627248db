"""What the record says of a step besides its observations: the next observation's metadata (a timeout, the exit
status, a scrollback overflow, an MCP protocol or tool error, a result the client refused), read with the state's
(an android trace compares the two), and the error the environment reported, told once."""

from __future__ import annotations

import json
from functools import lru_cache

from transforms.reasoning._linediff import quote
from transforms.reasoning.headers import HEADERS
from transforms.reasoning.jsonvalue import json_value


_EXIT_KEYS = ("exit_status", "exit_code", "returncode", "status_code")


# Collectors write the same few metadata documents over and over ('{}', '{"exit_status": 0}'); the parsed value is
# only read here, never handed out, so one parse per distinct text is shared. Broken JSON raises every time.
_parsed_meta = lru_cache(maxsize=1024)(json_value)


def row_meta(row: dict) -> dict:
    """The next observation's metadata (`next_meta`, as a caller may give it parsed, or `next_meta_json`)."""
    return _meta(row, "next_meta")


def state_meta(row: dict) -> dict:
    """The state's metadata (`state_meta`, or `state_meta_json`): {} in a row curated before that column existed."""
    return _meta(row, "state_meta")


def _meta(row: dict, key: str) -> dict:
    meta = row.get(key)
    if meta is None and row.get(key + "_json"):
        text = row[key + "_json"]
        try:
            meta = _parsed_meta(text) if isinstance(text, str) else json.loads(text)
        except ValueError as exc:
            # The row's error then says which of its two metas is broken.
            raise ValueError(f"{key}_json is not JSON: {exc}") from None
    return meta if isinstance(meta, dict) else {}


def meta_sentences(meta: dict, error: str | None, sentences: list[str]) -> None:
    if meta.get("timed_out"):
        # Killed at its time limit: there is no exit status, and no output may have been printed at all.
        limit = meta.get("timeout_s")
        after = f" after {limit:g} s" if isinstance(limit, (int, float)) and not isinstance(limit, bool) else ""
        sentences.append(f"The command times out{after} and is killed, so it has no exit status.")
    for key in _EXIT_KEYS:
        if meta.get(key) is not None:
            # Neither a terminal's screen nor a tool's output shows it (the swe prompt says so): it is the record's,
            # told as such, so the trace does not claim the observation prints it.
            sentences.append(f"The exit status, recorded but not printed, is {meta[key]}.")
            break
    if meta.get("history_overflow"):
        # The terminal kept only its last lines (collectors/terminal.py): the observation is not the whole output.
        sentences.append("The output runs past the terminal's scrollback limit, so its first lines are lost.")
    # Flags the MCP collector sets from the response itself, or (source "client") when no response came at all.
    if meta.get("jsonrpc_error") and meta.get("source") == "client":
        # The environment's error is this timeout (the collector's note of it): told here, not again after it.
        reported = f"The environment reports an error, {quote(error)}: no answer" if error else "No answer"
        sentences.append(f"{reported} arrives, so the client gives up waiting and reports the error itself.")
    elif meta.get("jsonrpc_error"):
        sentences.append("The client receives a protocol error instead of a result.")
    elif meta.get("is_error"):
        sentences.append("The tool result is marked as an error.")
    if meta.get("client_error"):
        # A result arrived, but the client's SDK refused it (a tool with an output schema answering without
        # structured content): the caller gets this error, not the result the observation shows.
        sentences.append(f"The client rejects the result it receives: {quote(meta['client_error'])}.")


# What a sentence before the error's own says right before quoting it when it tells the error already: a web page's
# new `Error:` header line ("The action error is now '…'", a sentence's start or not), and an MCP call the client gave
# up on (meta_sentences).
_ERROR_TOLD = (*(told.removeprefix("the ") for prefix, changed, appeared, _ in HEADERS["web"] if prefix == "Error:"
                 for told in (changed, appeared)), "reports an error, ")


def error_sentence(error: str, sentences: list[str]) -> None:
    """The error the environment reports, unless a sentence before tells it (_ERROR_TOLD). Only those: an output
    that merely quotes the same text does not say it is an error. A header line the state showed already is not
    told, so a failure repeated is still stated once."""
    said = quote(error)
    if not any(told + said in sentence for sentence in sentences for told in _ERROR_TOLD):
        sentences.append(f"The environment reports an error: {said}.")
