"""Grounded reasoning: a trace built only from the difference between the state and the next observation, or, where
the observation answers one call (mcp, search, swe), from the answer itself.

It opens with one sentence that ties the action to what it did: the command, call or element the action names, as
its collector wrote it, and what the next observation shows of it (the lines a command printed and whether the prompt
returned, the page loaded or changed, which of a call's argument values the answer gives back).

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
# A web tree's indentation is its depth, not the element's text (schemas/render/web.py): a quote of an element line
# leaves it out (R2), as the escaped tabs it would start with ("\t\t\t[30] link …") read as part of the element.
# Only at a quote's start, before an id, a role (`StaticText`) or a lower-case role and its name (the browser's own
# `alert "Please include an '@'…"`): a tab the element's own text starts with stays.
_QUOTED_INDENT = re.compile(r"""(['"])(?:\\t)+(?=\[\d|[A-Z][A-Za-z]+\b|[a-z]+ ["'])""")


def _unindented(match: re.Match) -> str:
    """The quote mark alone where it opens a quote (not inside a word or after a backslash: a quote mark of the
    element's own text), else the match as it is."""
    before = match.string[match.start() - 1] if match.start() else " "
    return match.group(1) if not (before.isalnum() or before in "_\\") else match.group(0)


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
        # A key whose value is a short scalar is told with it: convert_time's target is its datetime, not only a key
        # of that name.
        told = [f"{name} {_fact(value[name])[3:]}" if _short_scalar(value[name]) else name
                for name in names[:_KEY_FACTS]]
        shown = ", ".join(told) + (f" and {len(names) - _KEY_FACTS} more" if len(names) > _KEY_FACTS else "")
        return f"is an object of {len(names)} {'key' if len(names) == 1 else 'keys'} ({shown})"
    if isinstance(value, str):
        return f"is {_string_fact(value)}"
    # The common scalars as json.dumps writes them, without its ~2 us a call.
    if type(value) is int:
        return f"is {value}"
    if value is None or isinstance(value, bool):
        return f"is {_JSON_CONSTANTS[value]}"
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


def _given(value, values: dict | None) -> str | None:
    """"is the call's NAME" for a string the call passed as that argument. Not a number: a total that equals the
    offset asked for is not the offset."""
    name = values.get(value) if values and isinstance(value, str) else None
    return f"is the call's {name}" if name else None


def _object_sentences(document: dict, noun: str, count: str, values: dict | None = None) -> list[str]:
    """count: how many lines the answer has, told ("12 lines"). values: the call's argument values by text
    (_argument_values): a scalar that is one is told as the call's, "page_id is the call's page_id", not quoted
    again."""
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
    facts = "; ".join(f"{key} {_given(document[key], values) or _fact(document[key])}"
                      for key in [*(keys[n] for n in ranked[:_KEY_FACTS]), *valued])
    rest = [key for key in rest if key not in valued]
    if rest:
        named = ", ".join(rest[:_KEY_NAMES]) + (" and " + str(len(rest) - _KEY_NAMES) + " more"
                                                if len(rest) > _KEY_NAMES else "")
        facts += f"; the other is {named}" if len(rest) == 1 else f"; the others are {named}"
    return [f"{head}: {facts}."]


def _answer_sentences(state: str, text: str, noun: str, opening: tuple[str, dict] | None = None) -> list[str]:
    """What an answer holds: its lines (the first few quoted) or, when it is one JSON object or array, its keys that
    carry the content with a short fact each (a list's item count and first item, a string's value or length and
    first words, a number); and whether it repeats the previous answer. Lines are counted as line_diff counts them
    (str.splitlines(), blank ones too, which are told as such but not quoted: the count is the answer's own).

    opening: who answered (_answer_subject: the call, its arguments) opens the first sentence, tying the action to
    the answer; a quoted line that shows an argument's value shows {name} in its place, so the trace says which of
    the action's values the answer gives back rather than pasting them again."""
    subject, arguments = opening or (None, {})
    verb = "prints" if subject and subject.startswith("The command") else "answers with"
    if not text.strip():
        blank = len(text.splitlines())
        told = f"{blank} blank {'line' if blank == 1 else 'lines'}" if text else None
        if subject:
            return [f"{subject} {verb} {told}." if told else
                    f"{subject} {'prints nothing' if verb == 'prints' else f'answers with an empty {noun}'}."]
        return [f"The {noun} is {told}." if told else f"The {noun} is empty."]
    lines = text.splitlines()
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    count = f"{len(lines)} {'line' if len(lines) == 1 else 'lines'}" + (f" ({blank} blank)" if blank else "")
    document = _json_document(text)
    values = _argument_values(arguments) if arguments else ()
    if isinstance(document, dict):
        sentences = _object_sentences(document, noun, count, dict(values))
    elif isinstance(document, list):
        sentences = [f"The {noun} is a JSON list of {count} that {_fact(document)}."]
    else:
        listed = filled[:MAX_LISTED]
        shown: list[str] = []
        joined = "\n".join(listed) if values else ""
        values = [value for value in values if value[0] in joined]
        if values and "{" not in joined and "}" not in joined:
            listed = [_shown_arguments(line, values) for line in listed]
            shown = list(dict.fromkeys(name for _, names in listed for name in names))
            listed = [line for line, _ in listed]
        quoted = ", ".join(quote(line) for line in listed)
        # "non-blank" where blank lines are counted, so the sum is visible: 17 lines (2 blank) are 3 quoted and 12
        # more non-blank, not 3 and 12.
        more = (f" and {len(filled) - MAX_LISTED} more{' non-blank' if blank else ''}" if len(filled) > MAX_LISTED
                else "")
        if shown:
            names = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
            that = f" that {'shows' if len(lines) == 1 else 'show'} its {names}"
            sentences = [f"The {noun} is one line{that}: {quoted}." if len(lines) == 1
                         else f"The {noun} has {count}{that}: {quoted}{more}."]
        else:
            sentences = [f"The {noun} is one line: {quoted}." if len(lines) == 1
                         else f"The {noun} has {count}: {quoted}{more}."]
    if subject:
        first = sentences[0]
        for lead in (f"The {noun} is a ", f"The {noun} is one ", f"The {noun} has "):
            if first.startswith(lead):
                rest = first[len(lead):]
                kept = lead.split(" ")[-2] + " " if lead.endswith((" a ", " one ")) else ""
                sentences[0] = f"{subject} {verb} {kept}{rest}"
                break
    if text == state:
        sentences.append(f"It is the same as the previous {noun}.")
    return sentences


# The opening sentence ties the action to what it did (data review D3), from the record alone: the action as the
# collector wrote it (a tool call's name and arguments, a terminal's keystrokes, a web or desktop call and the element
# of the state it targets) and what the next observation shows of it. Nothing is said that the record cannot check: a
# call's purpose or a command's meaning is not guessed.

# How a call's arguments are told: a few, each a short fact.
_ARGS_TOLD = 3


def _action_json(text: str):
    """The action as JSON (a tool call, a terminal's keystrokes), or None for a call written as code (web, desktop)."""
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _argument(name: str, value) -> str:
    if isinstance(value, str):
        if not value:
            return f"an empty {name}"
        return f"{name} {quote(value)}" if len(value) <= _SHORT_STRING and value.strip() else \
            f"{name} of {len(value)} characters"
    if isinstance(value, list):
        if value and len(value) <= _ARGS_TOLD and all(isinstance(v, str) and 0 < len(v) <= _SHORT_STRING
                                                       for v in value):
            return f"{name} {', '.join(map(quote, value))}"
        return f"{name} ({len(value)} {'item' if len(value) == 1 else 'items'})"
    if isinstance(value, dict):
        return f"{name} ({len(value)} {'key' if len(value) == 1 else 'keys'})"
    # A number, true, false or null as the action's JSON writes it (json.dumps costs ~2 us a value).
    return f"{name} {_JSON_CONSTANTS.get(value, value) if value is None or isinstance(value, bool) else repr(value)}"


_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}


def _arguments(arguments) -> str:
    if not isinstance(arguments, dict) or not arguments:
        return " with no arguments"
    told = [_argument(name, value) for name, value in list(arguments.items())[:_ARGS_TOLD]]
    more = len(arguments) - _ARGS_TOLD
    if more > 0:
        told.append(f"{more} more {'argument' if more == 1 else 'arguments'}")
    return " with " + (told[0] if len(told) == 1 else ", ".join(told[:-1]) + " and " + told[-1])


def _call(action) -> tuple[str, dict] | None:
    """What a tool call or request names, and its arguments: {"name", "arguments"} (MCP, search and swe tools) or
    {"method", "params"} (an MCP request that is not tools/call)."""
    if not isinstance(action, dict):
        return None
    if isinstance(action.get("name"), str):
        arguments = action.get("arguments")
        return f"The call `{action['name']}`", arguments if isinstance(arguments, dict) else {}
    if isinstance(action.get("method"), str):
        params = action.get("params") if isinstance(action.get("params"), dict) else {}
        target = next((params[key] for key in ("name", "uri") if isinstance(params.get(key), str)), None)
        arguments = params.get("arguments") if target and isinstance(params.get("arguments"), dict) else \
            {key: value for key, value in params.items() if key not in ("name", "uri")}
        return (f"The request `{action['method']}`" + (f" for {quote(target)}" if target else ""), arguments)
    return None


def _answer_subject(domain: str, action_text: str) -> tuple[str, dict] | None:
    """Who answers in an answer domain (_ANSWERS), and the arguments whose values the answer may show."""
    call = _call(_action_json(action_text))
    if call is None:
        return None
    subject, arguments = call
    if domain == "swe":
        command = arguments.get("command")
        if subject == "The call `bash`" and isinstance(command, str) and command.strip():
            # A shell command is the action itself: told as run, not as an argument.
            return f"The command {_code(command)}", {}
        path = arguments.get("path")
        if isinstance(command, str) and isinstance(path, str) and len(command) <= _SHORT_STRING:
            return f"The editor's `{command}` on {quote(path)}", {"path": path}
    told = subject + ("" if subject.startswith("The request") and not arguments else _arguments(arguments))
    return told, arguments


def _code(text: str) -> str:
    """A command as the action typed it, in backticks (a longer one cut, with an ellipsis, at a word)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    if len(line) > _SHORT_STRING:
        cut = line.rfind(" ", 0, _SHORT_STRING)
        line = line[:cut if cut > _SHORT_STRING // 2 else _SHORT_STRING].rstrip() + "…"
    elif text.strip().count("\n"):
        line += " …"
    return "`" + line.replace("`", "'") + "`"


# A string argument shorter than this is not looked for in the answer: a "-" would match too much. A number is, as the
# letters and digits beside it must not be (_shown_arguments).
_SHOWN_VALUE = 2


def _argument_values(arguments: dict) -> list[tuple[str, str]]:
    """The (text, name) of each argument whose value a line of the answer may show: a string of at least _SHOWN_VALUE
    characters or a number, as the answer would write it; longest first, so a path inside a longer one is not taken
    for it; two arguments of one value are ambiguous, and left out."""
    names: dict[str, list[str]] = {}
    for name, value in arguments.items():
        if isinstance(value, str):
            text = value if len(value) >= _SHOWN_VALUE and value.strip() else None
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = repr(value) if isinstance(value, float) else None
        if text:
            names.setdefault(text, []).append(name)
    return sorted(((text, told[0]) for text, told in names.items() if len(told) == 1), key=lambda item: -len(item[0]))


def _shown_arguments(line: str, values: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The line with each argument value it shows (_argument_values) replaced by {name}, and the names replaced. A
    value that starts or ends with a letter or digit counts only where the line has no letter or digit beside it:
    a "2" in "12" is not the argument."""
    shown = []
    for text, name in values:
        at = line.find(text)
        if at < 0:
            continue
        pieces, start = [], 0
        while at >= 0:
            end = at + len(text)
            if not ((text[0].isalnum() and at and line[at - 1].isalnum()) or
                    (text[-1].isalnum() and end < len(line) and line[end].isalnum())):
                pieces.append(line[start:at])
                start = end
            at = line.find(text, end if start == end else at + 1)
        if pieces:
            line = "".join(f"{piece}{{{name}}}" for piece in pieces) + line[start:]
            shown.append(name)
    return line, shown


def _lines_told(lines: list[str]) -> str:
    """Some lines of output, counted (blank ones too) and the first few non-blank quoted: "2 lines: 'a', 'b'"."""
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    count = f"{len(lines)} {'line' if len(lines) == 1 else 'lines'}" + (f" ({blank} blank)" if blank else "")
    if not filled:
        return count
    more = (f" and {len(filled) - MAX_LISTED} more{' non-blank' if blank else ''}" if len(filled) > MAX_LISTED
            else "")
    return f"{count}: {', '.join(quote(line) for line in filled[:MAX_LISTED])}{more}"


# tmux's names of keys (collectors/terminal.py sends each entry with send-keys; tmux's key-string table): C-c, M-x,
# Enter, Escape, F1. Any other text is typed as it is, "Hello" too.
_TMUX_KEY = re.compile(r"(?:[CMS]-)+\S|F(?:[1-9]|1[0-2])|Enter|Escape|Tab|BTab|BSpace|Space|Up|Down|Left|Right|Home|End|"
                       r"IC|DC|Insert|Delete|NPage|PPage|PageUp|PageDown|PgUp|PgDn|KP\w+")


def _terminal_opening(state: str, text: str, action_text: str) -> tuple[str, str | None] | None:
    """What the keystrokes are, and, for one command typed at the prompt the state ends with, what the screen shows of
    it: the command after that prompt, the lines it printed, and whether the prompt returned. Returns the sentence and,
    where it tells the whole change (the screen is the state with those lines added), the new lines, else None."""
    entries = _action_json(action_text)
    if not isinstance(entries, list) or not entries or not all(
            isinstance(entry, dict) and isinstance(entry.get("keystrokes"), str) for entry in entries):
        return None
    keys = [entry["keystrokes"] for entry in entries]
    typed = "".join(keys)
    if len(keys) == 1 and _TMUX_KEY.fullmatch(typed):
        return f"The action presses {typed}.", None
    if not typed.endswith(("\n", "\r")):
        return f"The action types {quote(typed)} without pressing Enter.", None
    commands = typed.splitlines()
    if len(commands) != 1 or not commands[0].strip():
        return (f"The action types {len(commands)} lines, each followed by Enter, the first {_code(commands[0])}.",
                None)
    command = commands[0]
    subject = f"The action runs {_code(command)}"
    # The screen as the state showed it up to its last line, the prompt: the same, then that line with the command.
    kept = state.rfind("\n") + 1
    prompt = state[kept:].rstrip()
    after = text[kept:].split("\n") if text.startswith(state[:kept]) else None
    if not prompt or after is None or not after[0].startswith(prompt) or \
            after[0][len(prompt):].strip() != command.strip():
        # The screen scrolled, or the command is not echoed after the prompt: the line diff tells what changed.
        return f"{subject}.", None
    output = after[1:]
    back = bool(output) and output[-1].rstrip() == prompt
    printed = output[:-1] if back else output
    told = f"which prints {_lines_told(printed)}" if printed else "which prints nothing"
    ending = "the prompt returns" if back else "no prompt follows it yet"
    if not printed:
        ending = "the screen gains only the next prompt" if back else "no prompt follows it yet"
    return f"{subject}, {told}; {ending}.", text[kept:]


_CALL_NAME = re.compile(r"(\w+)\(")
_KEYWORD = re.compile(r"\s*(\w+)=")
_SEPARATOR = re.compile(r"\s*(,\s*|\))")
_LITERAL = json.JSONDecoder()


def _code_call(text: str) -> tuple[str, list, dict] | None:
    """A web or desktop action written as a call of JSON literals, click("12"), fill("23", "2"), click(element=25)
    (sandboxes/web_actions.format_call, collectors/os_desktop.py): its name, positional and named arguments; None for
    any other text. Read with the JSON decoder, as ast.parse cost ~20 us a row."""
    head = _CALL_NAME.match(text)
    if head is None or not text.endswith(")"):
        return None
    args: list = []
    kwargs: dict = {}
    at = head.end()
    if text[at:].strip() == ")":
        return head[1], args, kwargs
    try:
        while True:
            keyword = _KEYWORD.match(text, at)
            if keyword:
                at = keyword.end()
            value, at = _LITERAL.raw_decode(text, at)
            if keyword:
                kwargs[keyword[1]] = value
            else:
                args.append(value)
            separator = _SEPARATOR.match(text, at)
            if separator is None:
                return None
            at = separator.end()
            if separator[1] == ")":
                return (head[1], args, kwargs) if at == len(text) else None
    except ValueError:
        return None


def _element_line(text: str, domain: str, element) -> str | None:
    """The line of the tree that element id starts, without its indentation; a desktop line's id, role and name."""
    if element is None:
        return None
    key = f"[{element}]"
    start = text.find(("\t" if domain == "web" else "\n") + key)
    while start >= 0:
        end = text.find("\n", start + 1)
        line = text[start + 1:end if end >= 0 else len(text)].lstrip("\t")
        if line.startswith(key + (" " if domain == "web" else "\t")):
            if domain == "os":
                fields = line.split("\t")
                return f"{fields[0]} {fields[1]}" + (f" {quote(fields[2])}" if len(fields) > 2 and fields[2] else "")
            return line
        start = text.find(("\t" if domain == "web" else "\n") + key, start + 1)
    return None


_WEB_VERBS = {"click": "Clicking", "dblclick": "Double-clicking", "double_click": "Double-clicking",
              "hover": "Hovering over", "focus": "Focusing", "clear": "Clearing", "right_click": "Right-clicking"}
_SIMPLE_ACTIONS = {"go_back": "Going back", "go_forward": "Going forward", "new_tab": "Opening a new tab",
                   "tab_close": "Closing the tab", "scroll": "Scrolling", "wait": "Waiting", "noop": "Waiting",
                   "report_infeasible": "Reporting the task infeasible"}


def _url(text: str) -> str | None:
    return text[5:text.find("\n")] if text.startswith("URL: ") else None


_WEB_HEADER_PREFIXES = tuple(prefix + " " for prefix, *_ in _HEADER_FIELDS["web"])


def _tree_start(text: str) -> int:
    """Where a web observation's tree starts, after its header lines (_HEADER_FIELDS)."""
    start = 0
    while text.startswith(_WEB_HEADER_PREFIXES, start):
        start = text.find("\n", start) + 1
        if not start:
            return len(text)
    return start


def _same_tree(state: str, text: str) -> bool:
    """Whether two web observations show the same elements, whatever their headers say (compared in place: a page's
    tree is kilobytes, and most differ in length)."""
    at, start = _tree_start(state), _tree_start(text)
    return len(state) - at == len(text) - start and state[at:] == text[start:]


def _screen_opening(state: str, text: str, action_text: str, domain: str) -> str | None:
    """What a web or desktop action does: its verb and the element of the state it targets (its line quoted, without
    the tree's indentation), then what the next observation shows: a new page (and its title), a page or screen
    changed in place or unchanged, a field showing the value filled in."""
    call = _code_call(action_text)
    if call is None:
        return None
    name, args, kwargs = call
    element = kwargs.get("element", args[0] if args and isinstance(args[0], str) and args[0].isdigit() else None)
    line = _element_line(state, domain, element)
    target = (quote(line) if domain == "web" else line) if line else (f"element [{element}]" if element else None)
    if target is None and isinstance(kwargs.get("name"), str):
        target = f"the {kwargs.get('role') or 'element'} named {quote(kwargs['name'])}"
    value = args[1] if len(args) > 1 and isinstance(args[1], str) else kwargs.get("text")
    if name in _WEB_VERBS and target:
        subject = f"{_WEB_VERBS[name]} {target}"
    elif name == "fill" and target and isinstance(value, str):
        subject = f"Filling {target} with {quote(value)}"
    elif name == "select_option" and target and isinstance(value, str):
        subject = f"Selecting {quote(value)} in {target}"
    elif name in ("press", "keyboard_press") and args and isinstance(args[0], str):
        subject = f"Pressing {args[0]}"
    elif name == "hotkey" and args and all(isinstance(arg, str) for arg in args):
        subject = f"Pressing {'+'.join(args)}"
    elif name in ("type", "keyboard_type") and isinstance(args[0] if args else value, str):
        subject = f"Typing {quote(args[0] if args else value)}"
    elif name == "goto" and args and isinstance(args[0], str):
        subject = f"Going to {quote(args[0])}"
    elif name == "tab_focus" and args:
        subject = f"Switching to tab {json.dumps(args[0])}"
    elif name in _SIMPLE_ACTIONS:
        subject = _SIMPLE_ACTIONS[name]
    else:
        subject = f"The action {_code(action_text)}"
    place = "page" if domain == "web" else "screen"
    if text == state:
        return f"{subject} changes nothing on the {place}."
    url = _url(text)
    if domain == "web" and url is not None and url != _url(state):
        # The title is told with the header's other changes, next. A tab's page was there already: it is shown.
        return f"{subject} {'shows another page' if name.startswith('tab_') else 'loads a new page'}."
    if url is not None and _same_tree(state, text):
        # Only the header changed (an action error, the focus, the tabs): the next sentences tell which.
        return f"{subject} leaves the page's elements as they were."
    told = f"{subject} changes the {place}" + (" at the same address" if url is not None else "")
    if name == "fill" and line and isinstance(value, str) and value:
        after = _element_line(text, domain, element)
        told += f"; {quote(after)} shows the value" if after and value in after else \
            "; the element no longer shows the value" if after else ""
    return told + "."


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


def _screen_sentences(state: str, after_text: str, domain: str, action_text: str) -> tuple[list[str], str]:
    """A screen's trace (terminal, web, desktop, phone): the opening that ties the action to what it did, then what
    appeared, disappeared, changed or was renumbered; and the new lines, where files are named."""
    if domain == "terminal":
        opened = _terminal_opening(state, after_text, action_text)
        if opened and opened[1] is not None:
            # It tells the whole change (the command, what it printed, the prompt): the line diff would say it again
            # as lines appearing, so it is not run.
            return [opened[0]], opened[1]
    else:
        told = _screen_opening(state, after_text, action_text, domain) if domain in ("web", "os") else None
        opened = (told, None) if told else None
    unit = _UNIT.get(domain, "line")
    numbered, shifts = renumbered(state, after_text) if domain in _NUMBERED and state.strip() else (state, [])
    sentences, new_text = line_diff(numbered, after_text, unit, _HEADERS.get(domain))
    if domain == "web":
        sentences = [_QUOTED_INDENT.sub(_unindented, sentence) if "\\t" in sentence else sentence
                     for sentence in sentences]
    if shifts:
        # The state as line_diff saw it has the new ids: "does not change" would hide that they are new.
        alone = sentences == ["The observation does not change."]
        sentences = [*sentences[:0 if alone else len(sentences)],
                     _renumbered_sentence(shifts, unit) + ("; nothing else changes." if alone else ".")]
    if opened:
        # An opening that says nothing changed stands for line_diff's "does not change".
        sentences = [opened[0], *([] if sentences == ["The observation does not change."] else sentences)]
    return sentences, new_text


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    domain = row.get("domain") or ""
    action_text = row.get("action_text") or ""
    if domain in _ANSWERS:
        opening = _answer_subject(domain, action_text)
        sentences, new_text = _answer_sentences(state, after_text, _ANSWERS[domain], opening), after_text
    else:
        sentences, new_text = _screen_sentences(state, after_text, domain, action_text)
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
        _volatile_sentence(state, action_text, after_text, spans, sentences)
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
