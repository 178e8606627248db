"""Fault sentences: what a step's perturbation labels did, told only by what its next observation shows of them, per
collector (mcp, web, terminal, swe) and for the labels worldline gives any collector's step."""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from transforms.reasoning._linediff import quote


# A fault is told only by what the observation shows of it, in plain words, never by its label or the label's
# settings (a tool name, a glob, "800" ms, "0.4" of a body): nothing in the prompt shows them, so a trace naming them
# would teach worldline's own label syntax and numbers the model cannot know. A fault whose effect the observation
# does not show (a delay, a stylesheet that failed to load under an unchanged tree) is not told at all: the trace
# would give a cause the model could not see, for nothing it has to predict. Each vocabulary below returns the
# sentence, "" for a fault it knows that has nothing to tell here, or None for a label it does not know.

# What the MCP proxy ends a text it cut with (sandboxes/mcp_proxy.py _truncate); quote() knows it too (_linediff.c).
CUT_MARKER = "…[truncated]"
# How the proxy's partial fault marks what it held back (sandboxes/mcp_proxy.py _partial, PARTIAL_CURSOR): a note
# after the content blocks it kept, or a list's nextCursor that only the proxy issues.
_PARTIAL_SIGNS = ("[partial result: ", '"worldline-partial:')


def _mcp_fault(label: str, row: dict) -> str | None:
    """What the MCP perturbation proxy's fault did, as the answer shows it (its kinds and labels:
    sandboxes/mcp_proxy.py, which transforms may not import). An error it answered with (tool_error, jsonrpc_error,
    rate_limit) or a call it let time out is told already by meta_sentences and the quoted answer, as any such error
    is; latency changes nothing the answer shows."""
    kind, _, target = label.partition(":")
    text = row.get("next_text") or ""
    if target.endswith(":follow-up"):
        # The same call again (or the proxy's cursor in the action) after an answer that said part was held back.
        return "The answer is the part that an earlier answer held back."
    if kind == "partial":
        return ("Only part of the answer arrives, and the rest is held back for a later call."
                if any(sign in text for sign in _PARTIAL_SIGNS) else "")
    if kind == "truncate":
        return f"The answer is cut short, as its {quote(CUT_MARKER)} shows." if CUT_MARKER in text else ""
    if kind == "stale":
        # The one fault that changes an answer into another plausible one: without this the trace would quote the
        # earlier lines as if a write since had not happened.
        return "The answer repeats the first answer the same call got, not a current one."
    return "" if kind in ("tool_error", "jsonrpc_error", "rate_limit", "timeout", "latency") else None


# A web task's faults act on the browser's requests whose path matches a glob: the label is the task's spec,
# KIND:PATH_GLOB[:ARG] (sandboxes/web_perturb.py, which transforms may not import). The observation shows one only
# where it hit the page itself, the address the URL line gives; one that hit a stylesheet, a script or a slow search
# leaves the tree as it would be, and is not told. Each, by what the page then shows. page_crash and browser_restart
# are the web collector's recoveries, not faults a task declared.
_WEB_FAULTS = {
    "http_500": "The page is the bare HTTP 500 error page that answered the request",
    "http_404": "The page is the bare HTTP 404 error page that answered the request",
    "truncate": "The page arrives cut short, so only the start of its content is shown",
    "asset_fail": "The page's own request fails at the network level",
    "slow": "",  # a delay: the tree is what it would be
}
# The error page an http_* fault answers with (web_perturb.Perturbation.apply) has its status for a title.
_ERROR_TITLE = {"http_500": "Title: 500", "http_404": "Title: 404"}
_WEB_RECOVERIES = {"page_crash": "A tab crashes and is opened again at its last address",
                   "browser_restart": "The browser stops and is started again on the last page it showed"}


def _page_matches(glob: str, text: str) -> bool:
    """Whether the page the observation's URL line gives matches a fault's glob, as web_perturb matches a request:
    its path with the query, or its path alone."""
    first = text.split("\n", 1)[0]
    if not first.startswith("URL: "):
        return False
    parts = urlsplit(first[5:].strip())
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return fnmatch.fnmatchcase(target, glob) or fnmatch.fnmatchcase(parts.path, glob)


def _web_fault(label: str, row: dict) -> str | None:
    if label in _WEB_RECOVERIES:
        return f"{_WEB_RECOVERIES[label]}."
    kind, _, glob = label.partition(":")
    told = _WEB_FAULTS.get(kind)
    if not told:
        return told
    head, colon, arg = glob.rpartition(":")
    if colon and kind == "truncate":
        try:
            float(arg)  # the fraction kept, not part of the glob, as web_perturb.parse_perturbation reads it
            glob = head
        except ValueError:
            pass
    text = row.get("next_text") or ""
    shown = _page_matches(glob, text) and (kind not in _ERROR_TITLE or _ERROR_TITLE[kind] in text.split("\n", 3)[:3])
    return f"{told}." if shown else ""


# A terminal task's conditions belong to its container (collectors/terminal.py), not to a connection between a
# client and a server: a step is labelled with one where its new output shows it took effect (a write refused for
# space, a name that does not resolve, a process killed at the memory cap), and with slow_commands on every step of a
# task whose shell waits before each command, which the output does not show. No network is every terminal
# container's default, not something a task injected.
_TERMINAL_CONDITIONS = {
    "disk_full": "The new output shows that the disk is full",
    "read_only_fs": "The new output shows a write refused by a read-only file system",
    "no_network": "The new output shows that the container has no network",
    "memory_cap": "A process runs out of the memory the container is allowed",
    "pids_cap": "The new output shows a process refused at the container's process limit",
    "slow_commands": "",
}


def _terminal_fault(label: str, row: dict) -> str | None:
    condition = _TERMINAL_CONDITIONS.get(label)
    return condition and f"{condition}."


# Which collector recorded a row's perturbations tells what its labels mean. search is collected through the MCP
# proxy too; swe's containers label a step memory_cap where the kernel OOM-killed a process in it, as terminal's do.
_FAULT_VOCABULARIES = {"mcp": _mcp_fault, "web": _web_fault, "terminal": _terminal_fault, "swe": _terminal_fault}
# Labels worldline's own code gives a step of any collector, a plugin's included: StepResult.count_oom_kills (in
# collectors/api.py, which transforms may not import) labels memory_cap where the kernel OOM-killed a process in the
# environment's sandbox during the step (its meta oom_kills says how many). A domain's own vocabulary, where it has the
# label, tells it first.
_COMMON_FAULTS = {"memory_cap": "The kernel kills a process that reached the memory cap of the environment's sandbox"}


def _common_fault(label: str) -> str | None:
    told = _COMMON_FAULTS.get(label)
    return told and f"{told}."


def fault_sentences(row: dict, sentences: list[str]) -> None:
    vocabulary = _FAULT_VOCABULARIES.get(row.get("collector") or row.get("domain") or "", lambda label, row: None)
    told = []
    for label in row["perturbations"]:
        said = vocabulary(label, row)
        if said is None:
            # A label nothing here knows: no effect is claimed for it, and it is not named either (see above).
            said = _common_fault(label) or "A fault is recorded for this step, with no record of what it does."
        told.append(said)
    # Two labels told alike (two globs of one kind) are one sentence: without their settings they say the same.
    sentences.extend(dict.fromkeys(said for said in told if said))
