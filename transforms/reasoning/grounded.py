"""Grounded reasoning: a trace built only from the difference between the state and the next observation, or, where
the observation answers one call (mcp, search, swe), from the answer itself.

Every sentence states something checkable against the record itself (which lines appeared, disappeared or changed,
which files and line numbers the new output names, the exit status or a timeout, the reported error, the volatile
values the state does not already show), so a model trained on it learns to reason from evidence rather than to
invent explanations. Deterministic and offline.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from functools import lru_cache
from urllib.parse import urlsplit

from transforms.copied_values import MIN_COPIED_CHARS, copied_spans
from transforms.reasoning import ReasoningError
# What appeared, disappeared and changed (difflib's matching blocks over the lines): compiled, it is most of a
# trace's work. Which volatile values are new: compiled too, as a process table has a hundred of them.
from transforms.reasoning._linediff import MAX_LISTED, line_diff, new_spans, quote, renumbered

# How a line of each domain's observation is called in the trace.
_UNIT = {"web": "element", "android": "element", "os": "element"}
# The header lines a web or desktop observation starts with (schemas/render/web.py, schemas/render/os.py): where the
# page is, its tabs, what has focus, the action's error, the table's columns. They are not elements of the tree, so
# line_diff tells each by name ("the URL becomes '…/status'", not "3 elements change: 'URL: …'") and counts only the
# tree's lines. Each field: the prefix of its line, what the trace calls it, whether that noun is plural, and what is
# said when the line holds the desktop renderer's "none" (schemas/render/os.py), which names nothing: "no element has
# focus", not "the focused element becomes 'none'". A web page leaves its Focused line out instead.
_HEADER_FIELDS = {
    "web": (("URL:", "the URL", False), ("Title:", "the title", False), ("Tabs:", "the tabs", True),
            ("Focused:", "the focused element", False), ("Error:", "the action error", False)),
    "os": (("focused window:", "the focused window", False, "no window has focus"),
           ("focused element:", "the focused element", False, "no element has focus"),
           ("id\ttag\t", "the column header", False)),
}


def _header_field(prefix: str, noun: str, plural: bool, nothing: str | None = None) -> tuple[str, ...]:
    """A field as line_diff takes it: its prefix, then how it is told when its value changed, when it appeared (both
    followed by the new value quoted), and when it went; and, for a field shown as "none" when nothing fills it,
    that value and what is said instead."""
    told = (prefix, f"{noun} {'become' if plural else 'becomes'} ", f"{noun} {'are' if plural else 'is'} now ",
            f"the header no longer shows {noun}")
    return told + ("none", nothing) if nothing else told


_HEADERS = {domain: tuple(_header_field(*field) for field in fields) for domain, fields in _HEADER_FIELDS.items()}
# An element line's id after its indentation: web's `[12] link 'x'` (schemas/render/web.py), the desktop's
# `[31]\ttext\t…` (schemas/render/os.py), android's `[ 5] | …` padded to two places (schemas/render/android.py).
# A desktop's and a phone's ids are positions in the tree's walk, and a web page's are given again when it loads, so
# a menu that opens renumbers every element after it: lines equal apart from their id are one element renumbered,
# not one gone and one new. renumbered() (compiled: over every line of each changed region in Python it was ~9% of
# curation on scrolling screens) gives such lines of the state their new ids, so line_diff counts only real changes,
# and returns each one's id shift; tests/transforms/test_grounded_renumbered_native.py holds the Python it replaced.
_NUMBERED = frozenset({"web", "os", "android"})


def _renumbered_sentence(shifts: list[int], unit: str) -> str:
    """"28 elements are renumbered (ids +4)", with each shift and how many took it when there are a few."""
    count = len(shifts)
    by_shift = sorted(Counter(shifts).items(), key=lambda item: (-item[1], item[0]))
    if len(by_shift) == 1:
        told = f"{'id' if count == 1 else 'ids'} {by_shift[0][0]:+d}"
    elif len(by_shift) <= MAX_LISTED:
        told = "ids " + ", ".join(f"{shift:+d} for {many}" for shift, many in by_shift)
    else:
        told = f"ids shift by {min(shifts):+d} to {max(shifts):+d}"
    return f"{count} {unit}{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} renumbered ({told})"


# Domains whose observation is the answer to one call (a tool's result, a page of search results, a command's
# output), not a screen the action changed: their state is only the previous answer, so a diff against it said
# nothing about this one ("1 line changes: 'Echo: hello' becomes 'The sum of 17 and 25 is 42.'"). Their trace
# describes the answer itself. Values: what the answer is called.
_ANSWERS = {"mcp": "result", "search": "result", "swe": "output"}

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


def _meta_sentences(meta: dict, error: str | None, sentences: list[str]) -> None:
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


# A fault is told only by what the observation shows of it, in plain words, never by its label or the label's
# settings (a tool name, a glob, "800" ms, "0.4" of a body): nothing in the prompt shows them, so a trace naming them
# would teach worldline's own label syntax and numbers the model cannot know. A fault whose effect the observation
# does not show (a delay, a stylesheet that failed to load under an unchanged tree) is not told at all: the trace
# would give a cause the model could not see, for nothing it has to predict. Each vocabulary below returns the
# sentence, "" for a fault it knows that has nothing to tell here, or None for a label it does not know.

# What the MCP proxy ends a text it cut with (sandboxes/mcp_proxy.py _truncate); quote() knows it too (_linediff.c).
_CUT_MARKER = "…[truncated]"
# How the proxy's partial fault marks what it held back (sandboxes/mcp_proxy.py _partial, PARTIAL_CURSOR): a note
# after the content blocks it kept, or a list's nextCursor that only the proxy issues.
_PARTIAL_SIGNS = ("[partial result: ", '"worldline-partial:')


def _mcp_fault(label: str, row: dict) -> str | None:
    """What the MCP perturbation proxy's fault did, as the answer shows it (its kinds and labels:
    sandboxes/mcp_proxy.py, which transforms may not import). An error it answered with (tool_error, jsonrpc_error,
    rate_limit) or a call it let time out is told already by _meta_sentences and the quoted answer, as any such error
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
        return f"The answer is cut short, as its {quote(_CUT_MARKER)} shows." if _CUT_MARKER in text else ""
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


def _fault_sentences(row: dict, sentences: list[str]) -> None:
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


# The keys of an item of a list that name it, by preference: "10 items, the first titled 'Roungos'".
_ITEM_NAMES = (("title", "titled"), ("name", "named"))
_ITEM_KEYS = ("uri", "url", "id", "page_id")
_NAMING_KEYS = frozenset(key for key, _ in _ITEM_NAMES)
# How many keys of a JSON object get a fact, and how many others are named after them.
_KEY_FACTS = 3
_KEY_NAMES = 4
# A string longer than this is described by its length and first words.
_SHORT_STRING = 60
_SNIPPET = 40


def _json_document(text: str):
    """The value of an answer that is one JSON object or array as a whole (what render_json writes), else None."""
    if not text or text[0] not in "{[" or text[-1] not in "}]":
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # a command's output that only looks like JSON, or nests too deeply
        return None
    return value if isinstance(value, (dict, list)) else None


def _end_outside_marker(text: str, end: int) -> int:
    """Where a cut of `text` at `end` stops instead when it falls inside a _CUT_MARKER the text holds already: before
    the marker, so the snippet does not read "…[trunc…" or "……"; its own ellipsis stands for the rest."""
    marker = text.find(_CUT_MARKER, max(0, end - len(_CUT_MARKER) + 1))
    return marker if -1 < marker < end else end


def _snippet(value: str) -> str:
    """The start of a long string: its first line as it is (an indentation kept: the string starts with it), or where
    that is blank, the string's start, cut at a word under _SNIPPET characters (not inside a _CUT_MARKER), with an
    ellipsis."""
    first = value.splitlines()[0] if value.strip() else ""
    if not first.strip():
        first = value[:_SNIPPET + 1]  # its blank first line quoted as such ('\n  x…')
    if len(first) > _SNIPPET:
        cut = first.rfind(" ", 0, _SNIPPET + 1)
        first = first[:_end_outside_marker(first, cut if cut > _SNIPPET // 2 else _SNIPPET)].rstrip()
    return quote(first + "…")


def _string_fact(value: str) -> str:
    if len(value) <= _SHORT_STRING and value.strip():
        return quote(value)
    if not value.strip():
        return f"{len(value)} blank characters" if value else "an empty string"
    return f"{len(value)} characters starting {_snippet(value)}"


def _item_label(item) -> str:
    """How the first item of a list is told: its title or name, another key naming it, or the value itself."""
    if isinstance(item, dict):
        for key, verb in _ITEM_NAMES:
            if isinstance(item.get(key), str) and item[key].strip():
                return f"{verb} {quote(item[key])}"
        for key in (*_ITEM_KEYS, *item):
            if isinstance(item.get(key), str) and item[key].strip():
                return f"with {key} {quote(item[key])}"
        return f"an object of {len(item)} {'key' if len(item) == 1 else 'keys'}"
    if isinstance(item, str):
        return quote(item) if item.strip() else "blank"
    if isinstance(item, list):
        return f"a list of {len(item)}"
    return json.dumps(item)


def _fact(value) -> str:
    """A short, checkable fact about a JSON value, with its verb: "has 3 items, the first titled 'x'", "is 20"."""
    if isinstance(value, list):
        if not value:
            return "has no items"
        return f"has {len(value)} {'item' if len(value) == 1 else 'items'}, the first {_item_label(value[0])}"
    if isinstance(value, dict):
        if not value:
            return "is an empty object"
        names = list(value)
        shown = ", ".join(names[:_KEY_FACTS]) + (f" and {len(names) - _KEY_FACTS} more" if len(names) > _KEY_FACTS
                                                  else "")
        return f"is an object of {len(names)} {'key' if len(names) == 1 else 'keys'} ({shown})"
    if isinstance(value, str):
        return f"is {_string_fact(value)}"
    return f"is {json.dumps(value)}"


def _weight(key: str, value) -> tuple[int, int]:
    """How much of the answer's content a value carries, most first: lists and objects with something in them, prose
    (a string with a space) and a title or name, then other strings (a url, an id), then numbers, booleans, null and
    empty values (an offset, a flag); within each, the longer first."""
    size = len(json.dumps(value, ensure_ascii=False))
    if isinstance(value, (list, dict)):
        return (0 if value else 2), -size
    if isinstance(value, str):
        text = value.strip()
        return (0 if " " in text or (text and key in _NAMING_KEYS) else 1 if text else 2), -size
    return 2, -size


def _short_scalar(value) -> bool:
    """A number, boolean, null or string of at most _SHORT_STRING characters: told whole by _fact."""
    return not isinstance(value, (list, dict)) and (not isinstance(value, str) or len(value) <= _SHORT_STRING)


def _object_sentences(document: dict, noun: str, count: str) -> list[str]:
    """count: how many lines the answer has, told ("12 lines")."""
    keys = list(document)
    head = f"The {noun} is a JSON object of {count} with {len(keys)} {'key' if len(keys) == 1 else 'keys'}"
    if not keys:
        return [head + "."]
    # The keys that carry the content get a fact first; ties in document order (sorted, for canonical JSON), so the
    # choice is deterministic.
    ranked = sorted(range(len(keys)), key=lambda n: (*_weight(keys[n], document[keys[n]]), n))
    rest = [keys[n] for n in sorted(ranked[_KEY_FACTS:])]
    # A short scalar among the others (a total, an offset, a flag, an id) is told with its value, not only its key:
    # the answer is wrong without it, and it costs a few words ("total is 3", not "the other is total").
    valued = [key for key in rest if _short_scalar(document[key])][:_KEY_NAMES]
    facts = "; ".join(f"{key} {_fact(document[key])}" for key in [*(keys[n] for n in ranked[:_KEY_FACTS]), *valued])
    rest = [key for key in rest if key not in valued]
    if rest:
        named = ", ".join(rest[:_KEY_NAMES]) + (" and " + str(len(rest) - _KEY_NAMES) + " more"
                                                if len(rest) > _KEY_NAMES else "")
        facts += f"; the other is {named}" if len(rest) == 1 else f"; the others are {named}"
    return [f"{head}: {facts}."]


def _answer_sentences(state: str, text: str, noun: str) -> list[str]:
    """What an answer holds: its lines (the first few quoted) or, when it is one JSON object or array, its keys that
    carry the content with a short fact each (a list's item count and first item, a string's value or length and
    first words, a number); and whether it repeats the previous answer. Lines are counted as line_diff counts them
    (str.splitlines(), blank ones too, which are told as such but not quoted: the count is the answer's own)."""
    if not text.strip():
        blank = len(text.splitlines())
        return [f"The {noun} is {blank} blank {'line' if blank == 1 else 'lines'}." if text else f"The {noun} is empty."]
    lines = text.splitlines()
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    count = f"{len(lines)} {'line' if len(lines) == 1 else 'lines'}" + (f" ({blank} blank)" if blank else "")
    document = _json_document(text)
    if isinstance(document, dict):
        sentences = _object_sentences(document, noun, count)
    elif isinstance(document, list):
        sentences = [f"The {noun} is a JSON list of {count} that {_fact(document)}."]
    else:
        shown = ", ".join(quote(line) for line in filled[:MAX_LISTED])
        # "non-blank" where blank lines are counted, so the sum is visible: 17 lines (2 blank) are 3 quoted and 12
        # more non-blank, not 3 and 12.
        more = (f" and {len(filled) - MAX_LISTED} more{' non-blank' if blank else ''}" if len(filled) > MAX_LISTED
                else "")
        sentences = [f"The {noun} is one line: {shown}." if len(lines) == 1
                     else f"The {noun} has {count}: {shown}{more}."]
    if text == state:
        sentences.append(f"It is the same as the previous {noun}.")
    return sentences


# A replay span has no kind of value: it is text a replay showed differently.
_KIND_NAMES = {"replay": "text that differed on replay"}


def _volatile_sentence(state: str, action: str, text: str, spans: list[dict], sentences: list[str]) -> None:
    """How many of the next observation's volatile values are new, and of which kinds. A value the state already
    shows whole (the local site's port in the URL line, the host name in a prompt, the rows of an earlier `top` still
    on screen) differs from run to run, but not from the state: it can be copied, so it is not counted; nor is an
    identifier stage 3 asks for exactly as the action or state names it (`kill 4242`, a sha the action passes); when
    no value is left, the sentence is left out. A value shorter than MIN_COPIED_CHARS is shown only on a line the
    state shows whole, as stage 3 copies one: top's `Tasks:   8 total` is new though the state's ps row is pid `8`."""
    new = new_spans(state, text, spans, MIN_COPIED_CHARS)
    if new:
        copied = set(map(id, copied_spans(text, new, (action, state))))
        new = [span for span in new if id(span) not in copied]
    if new:
        # Counted where they are, not as distinct texts: top's %CPU column shows `0.0` for most processes, each its
        # own reading.
        kinds = sorted({_KIND_NAMES.get(kind, kind) for kind in (span.get("kind") or "value" for span in new)})
        sentences.append(f"New values that vary between runs: {len(new)} ({', '.join(kinds)}).")


# What a sentence before the error's own says right before quoting it when it tells the error already: a web page's
# new `Error:` header line ("The action error is now '…'", a sentence's start or not), and an MCP call the client gave
# up on (_meta_sentences).
_ERROR_TOLD = (*(told.removeprefix("the ") for prefix, changed, appeared, _ in _HEADERS["web"] if prefix == "Error:"
                 for told in (changed, appeared)), "reports an error, ")


def _error_sentence(error: str, sentences: list[str]) -> None:
    """The error the environment reports, unless a sentence before tells it (_ERROR_TOLD). Only those: an output
    that merely quotes the same text does not say it is an error. A header line the state showed already is not
    told, so a failure repeated is still stated once."""
    said = quote(error)
    if not any(told + said in sentence for sentence in sentences for told in _ERROR_TOLD):
        sentences.append(f"The environment reports an error: {said}.")


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    domain = row.get("domain") or ""
    if domain in _ANSWERS:
        sentences, new_text = _answer_sentences(state, after_text, _ANSWERS[domain]), after_text
    else:
        unit = _UNIT.get(domain, "line")
        numbered, shifts = renumbered(state, after_text) if domain in _NUMBERED and state.strip() else (state, [])
        sentences, new_text = line_diff(numbered, after_text, unit, _HEADERS.get(domain))
        if shifts:
            # The state as line_diff saw it has the new ids: "does not change" would hide that they are new.
            alone = sentences == ["The observation does not change."]
            sentences = [*sentences[:0 if alone else len(sentences)],
                         _renumbered_sentence(shifts, unit) + ("; nothing else changes." if alone else ".")]
    files = _files_named(new_text)
    if files:
        sentences.append(f"{'It' if domain in _ANSWERS else 'The new output'} names {_listed(files)}.")
    meta = _meta(row)
    if meta:  # most are '{}'
        _meta_sentences(meta, row.get("error"), sentences)
    if row.get("perturbations"):
        _fault_sentences(row, sentences)
    if row.get("error"):
        _error_sentence(row["error"], sentences)
    spans = row.get("next_volatile_spans")
    if spans:
        _volatile_sentence(state, row.get("action_text") or "", after_text, spans, sentences)
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
            # KeyError: a volatile span without its start or end.
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                out.append(ReasoningError(str(row.get("id", "<unknown>")), f"{type(exc).__name__}: {exc}"))
        return out
