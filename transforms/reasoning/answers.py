"""What an answer holds, for the domains whose observation answers one call (mcp, search, swe): its lines counted and
the first few quoted, with the call's argument values shown as {name}; or, for one JSON object or array, the keys that
carry its content with a short fact each; and whether it repeats the previous answer."""

from __future__ import annotations

import json

from transforms.reasoning._linediff import MAX_LISTED, quote
from transforms.reasoning.actions import JSON_CONSTANTS, SHORT_STRING
from transforms.reasoning.faults import CUT_MARKER
from transforms.reasoning.jsonvalue import json_size, json_value


# Domains whose observation is the answer to one call (a tool's result, a page of search results, a command's
# output), not a screen the action changed: their state is only the previous answer, so a diff against it said
# nothing about this one ("1 line changes: 'Echo: hello' becomes 'The sum of 17 and 25 is 42.'"). Their trace
# describes the answer itself. Values: what the answer is called.
ANSWERS = {"mcp": "result", "search": "result", "swe": "output"}

# The keys of an item of a list that name it, by preference: "10 items, the first titled 'Roungos'".
_ITEM_NAMES = (("title", "titled"), ("name", "named"))
_ITEM_KEYS = ("uri", "url", "id", "page_id")
_NAMING_KEYS = frozenset(key for key, _ in _ITEM_NAMES)
# How many keys of a JSON object get a fact, and how many others are named after them.
_KEY_FACTS = 3
_KEY_NAMES = 4
_SNIPPET = 40


def _json_document(text: str):
    """The value of an answer that is one JSON object or array as a whole (what render_json writes), else None."""
    if not text or text[0] not in "{[" or text[-1] not in "}]":
        return None
    try:
        value = json_value(text)
    except (ValueError, RecursionError):  # a command's output that only looks like JSON, or nests too deeply
        return None
    return value if isinstance(value, (dict, list)) else None


def _end_outside_marker(text: str, end: int) -> int:
    """Where a cut of `text` at `end` stops instead when it falls inside a CUT_MARKER the text holds already: before
    the marker, so the snippet does not read "…[trunc…" or "……"; its own ellipsis stands for the rest."""
    marker = text.find(CUT_MARKER, max(0, end - len(CUT_MARKER) + 1))
    return marker if -1 < marker < end else end


def _snippet(value: str) -> str:
    """The start of a long string: its first line as it is (an indentation kept: the string starts with it), or where
    that is blank, the string's start, cut at a word under _SNIPPET characters (not inside a CUT_MARKER), with an
    ellipsis."""
    first = value.splitlines()[0] if value.strip() else ""
    if not first.strip():
        first = value[:_SNIPPET + 1]  # its blank first line quoted as such ('\n  x…')
    if len(first) > _SNIPPET:
        cut = first.rfind(" ", 0, _SNIPPET + 1)
        first = first[:_end_outside_marker(first, cut if cut > _SNIPPET // 2 else _SNIPPET)].rstrip()
    return quote(first + "…")


def _string_fact(value: str) -> str:
    if len(value) <= SHORT_STRING and value.strip():
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
        return f"is {JSON_CONSTANTS[value]}"
    return f"is {json.dumps(value)}"


def _weight(key: str, value) -> tuple[int, int]:
    """How much of the answer's content a value carries, most first: lists and objects with something in them, prose
    (a string with a space) and a title or name, then other strings (a url, an id), then numbers, booleans, null and
    empty values (an offset, a flag); within each, the longer first."""
    try:
        size = json_size(value)  # as json.dumps(value, ensure_ascii=False) writes it
    except RecursionError:  # a value nested deeper than Python frames go, which json.dumps may still write
        size = len(json.dumps(value, ensure_ascii=False))
    if isinstance(value, (list, dict)):
        return (0 if value else 2), -size
    if isinstance(value, str):
        text = value.strip()
        return (0 if " " in text or (text and key in _NAMING_KEYS) else 1 if text else 2), -size
    return 2, -size


def _short_scalar(value) -> bool:
    """A number, boolean, null or string of at most SHORT_STRING characters: told whole by _fact."""
    return not isinstance(value, (list, dict)) and (not isinstance(value, str) or len(value) <= SHORT_STRING)


def _given(value, values: dict | None) -> str | None:
    """"is the call's NAME" for a string the call passed as that argument. Not a number: a total that equals the
    offset asked for is not the offset."""
    name = values.get(value) if values and isinstance(value, str) else None
    return f"is the call's {name}" if name else None


def _object_sentences(document: dict, noun: str, count: str, values: dict | None = None) -> list[str]:
    """count: how many lines the answer has, told ("12 lines"). values: the call's argument values by text
    (actions.argument_values): a scalar that is one is told as the call's, "page_id is the call's page_id", not quoted
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


def _leads(noun: str) -> tuple[tuple[str, str], ...]:
    """How the first sentence about an answer may start, each with the word kept when the subject takes its place:
    "The result is a JSON object …" becomes "The call `x` answers with a JSON object …"."""
    return ((f"The {noun} is a ", "a "), (f"The {noun} is one ", "one "), (f"The {noun} has ", ""))


_LEADS = {noun: _leads(noun) for noun in ANSWERS.values()}


def answer_sentences(state: str, text: str, noun: str,
                     opening: tuple[str, tuple[tuple[str, str], ...]] | None = None) -> list[str]:
    """What an answer holds: its lines (the first few quoted) or, when it is one JSON object or array, its keys that
    carry the content with a short fact each (a list's item count and first item, a string's value or length and
    first words, a number); and whether it repeats the previous answer. Lines are counted as line_diff counts them
    (str.splitlines(), blank ones too, which are told as such but not quoted: the count is the answer's own).

    opening: who answered and the values of its arguments an answer may show (openings.answer_subject) open the
    first sentence, tying the action to the answer; a quoted line that shows one of those values shows {name} in its
    place, so the trace says which of the action's values the answer gives back rather than pasting them again."""
    subject, values = opening or (None, ())
    verb = "prints" if subject and subject.startswith("The command") else "answers with"
    if not text.strip():
        # A swe tool (git_diff, run_tests) prints its output as a shell command does: nothing is not "an empty
        # output". An MCP or search result that is empty is one.
        verb = "prints" if noun == ANSWERS["swe"] else verb
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
    if isinstance(document, dict):
        sentences = _object_sentences(document, noun, count, dict(values))
    elif isinstance(document, list):
        sentences = [f"The {noun} is a JSON list of {count} that {_fact(document)}."]
    else:
        listed = filled[:MAX_LISTED]
        shown: list[str] = []
        joined = "\n".join(listed) if values else ""
        # A number the answer shows more than once is not taken for the argument: get-resource-links with count 2
        # answers 'Here are 2 resource links', then 'Text Resource 2 …/text/2', where the 2 is that resource's.
        values = [value for value in values if value[0] in joined and
                  (not _is_number(value[0]) or _shown_count(text, value[0]) == 1)]
        if values and "{" not in joined and "}" not in joined:
            listed = [_shown_arguments(line, values) for line in listed]
            shown = list(dict.fromkeys(name for _, names in listed for name in names))
            listed = [_uncut_placeholder(line) for line, _ in listed]
            # A value is told as shown only where a quote shows its {name}: not one cut off with the line's end.
            shown = [name for name in shown if any(f"{{{name}}}" in line for line in listed)]
        quoted = ", ".join(quote(line) for line in listed)
        # "non-blank" where blank lines are counted, so the sum is visible: 17 lines (2 blank) are 3 quoted and 12
        # more non-blank, not 3 and 12.
        more = (f" and {len(filled) - MAX_LISTED} more{' non-blank' if blank else ''}" if len(filled) > MAX_LISTED
                else "")
        if shown:
            names = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
            told = [value for value in values if value[1] in shown]
            # Said of the lines that show a value, not of them all: a '[tool error]' line above the message, or an
            # editor's numbered lines under its first, show none ("2 lines that show its path" read as both).
            showing = sum(1 for line in lines if _shown_arguments(line, told)[1])
            that = (f" that {'shows' if len(lines) == 1 else 'show'} its {names}" if showing >= len(lines) else
                    f", {'one' if showing == 1 else showing} of which {'shows' if showing == 1 else 'show'} "
                    f"its {names}")
            sentences = [f"The {noun} is one line{that}: {quoted}." if len(lines) == 1
                         else f"The {noun} has {count}{that}: {quoted}{more}."]
        else:
            sentences = [f"The {noun} is one line: {quoted}." if len(lines) == 1
                         else f"The {noun} has {count}: {quoted}{more}."]
    if subject:
        first = sentences[0]
        for lead, kept in _LEADS.get(noun) or _leads(noun):
            if first.startswith(lead):
                sentences[0] = f"{subject} {verb} {kept}{first[len(lead):]}"
                break
    if text == state:
        sentences.append(f"It is the same as the previous {noun}.")
    return sentences


# How many characters of a long line a quote keeps before its ellipsis (_linediff.c MAX_CHARS - 1), read from quote.
_QUOTE_KEEPS = len(quote("x" * 1000)) - 3


def _uncut_placeholder(line: str) -> str:
    """The line cut before a {name} that the quote would cut inside ('…/text/{cou…'), with an ellipsis; else as it
    is. The answer's own lines hold no brace where a {name} was put (answer_sentences), so each brace is one."""
    if len(line) <= _QUOTE_KEEPS + 1:
        return line
    start = line.rfind("{", 0, _QUOTE_KEEPS)
    if start < 0 or line.find("}", start) < _QUOTE_KEEPS:
        return line
    return line[:start].rstrip() + "…"


def _is_number(text: str) -> bool:
    """Whether an argument value (actions.argument_values) is a number as the answer writes it: 2, -1, 3.0."""
    return text.lstrip("-").replace(".", "", 1).isdigit()


def _shown_count(text: str, value: str) -> int:
    """How many times the text shows the value with no letter or digit beside it (as _shown_arguments takes it),
    counted up to 2."""
    count, at = 0, text.find(value)
    while at >= 0 and count < 2:
        end = at + len(value)
        if not ((at and text[at - 1].isalnum()) or (end < len(text) and text[end].isalnum())):
            count += 1
        at = text.find(value, at + 1)
    return count


def _shown_arguments(line: str, values: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The line with each argument value it shows (actions.argument_values) replaced by {name}, and the names
    replaced. A
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
