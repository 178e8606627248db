"""Which volatile values of an observation the prompt already shows, so a model can copy them rather than guess, or
that the action set (a duration it passed as an argument): stage 3 asks for them exactly (transforms.stages) and the
grounded trace does not count them as new (transforms.reasoning.grounded)."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from transforms.reasoning._linediff import new_spans

# Volatile kinds that name a thing (a process, a port, a commit or container, a temp file) rather than measure one.
# Such a value differs between runs but not within one: when the prompt shows it, a model can copy it, so stage 3
# asks for it exactly. A measurement (a clock, a duration, a size, a load reading) is read afresh every time: the
# state's top screen shows `0.0` %CPU and the next one may show 0.3, so those stay format spans whatever the prompt
# shows.
IDENTIFIER_KINDS = frozenset({"pid", "port", "hex_id", "uuid", "temp_path"})
# But for a duration that is an argument of the action itself (the everything server's "Long running operation
# completed. Duration: 2 seconds" after a call with `"duration": 2`): a setting the action chose, not a measurement,
# as `sleep 2s` on a terminal's echoed command line is (the masking rules' setting rule reads that one; a tool
# call's arguments are not in its observation, so only here can it be told).
SETTING_KINDS = frozenset({"duration"})
# The kinds copied_spans may take out of the format spans: a caller may skip rows without one.
CANDIDATE_KINDS = IDENTIFIER_KINDS | SETTING_KINDS
# A shorter value (a 1-2 digit pid) coincides with any small number the prompt happens to show: it counts as shown
# only where its whole line does (new_spans's min_chars).
MIN_COPIED_CHARS = 3

# A duration span a setting can be: a plain number and its unit ("2 seconds", "150ms", "0.5s"), not "0m0.003s" or a
# time with colons, which no tool prints for a number it was given.
_PLAIN_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?[^\W\d_]+")
# A string argument that is a number, with a duration's unit or none ("2", "500ms", "1.5 s").
_NUMERIC_STRING = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?(?:ms|us|µs|ns|s|sec|secs|seconds)?")


def copied_spans(reference: str, spans: list[dict], shown: tuple[str, ...]) -> list[dict]:
    """The spans (of reference, each with its kind) whose value the prompt already states, so a model can copy it:
    of an identifier kind, and either at least MIN_COPIED_CHARS long and standing whole in one of the shown texts
    (no letter or digit right before or after it there: pid 4242 is not the 4242 of 142424), or shorter and on a
    line that one of the shown texts has too, both stripped, that is more than the value (the `[1] 44` of a
    background job still on screen; not a lone `44`). A value is its span without the spaces around it: a ps or top
    pid span holds the padding it is right-aligned with ("   4242"), whose width follows from the value's. Also a
    duration whose number is a numeric argument of the action, shown[0] (setting_spans). The spans are returned
    as given."""
    values = []
    for span in spans:
        if span.get("kind") in IDENTIFIER_KINDS:
            text = reference[span["start"]:span["end"]]
            value = text.strip()
            if value:
                start = span["start"] + len(text) - len(text.lstrip())
                values.append({"start": start, "end": start + len(value), "span": span})
    unshown = values
    for text in shown:
        if unshown and text:
            unshown = new_spans(text, reference, unshown, MIN_COPIED_CHARS)
    unshown = set(map(id, unshown))
    copied = [value["span"] for value in values if id(value) not in unshown]
    if shown and (settings := setting_spans(reference, spans, shown[0])):
        copied = set(map(id, copied + settings))
        copied = [span for span in spans if id(span) in copied]  # in the order given
    return copied


def setting_spans(reference: str, spans: list[dict], action: str) -> list[dict]:
    """The duration spans of reference whose number, as the span writes it ("2" of "2 seconds"), is one the action
    gives as an argument: a tool call's `{"name": ..., "arguments": {...}}`, a number anywhere in its arguments (a
    JSON number, written as Python and JavaScript print it: 2.0 is "2" or "2.0", or a string that is one, with a
    duration's unit or none). Other actions give none: a terminal's keystroke batch is on screen, where the setting
    rule reads its `sleep 2s`, and its own `duration` is the recorder's wait, no input of the program."""
    if not any(span.get("kind") in SETTING_KINDS for span in spans) or not (numbers := action_numbers(action)):
        return []
    found = []
    for span in spans:
        if span.get("kind") in SETTING_KINDS:
            value = _PLAIN_DURATION.fullmatch(reference, span["start"], span["end"])
            if value and value[1] in numbers:
                found.append(span)
    return found


def action_numbers(action: str) -> frozenset[str]:
    """The numbers a tool call's arguments give, each in every form a tool may print it in (see setting_spans)."""
    if not action or not action.startswith("{") or '"arguments"' not in action:
        return frozenset()
    try:
        call = json.loads(action)
    except ValueError:
        return frozenset()
    arguments = call.get("arguments") if isinstance(call, dict) else None
    numbers: set[str] = set()
    if isinstance(arguments, (dict, list)):
        _collect_numbers(arguments, numbers)
    return frozenset(numbers)


def _collect_numbers(value, numbers: set[str]) -> None:
    if isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            _collect_numbers(item, numbers)
    elif isinstance(value, bool):  # a JSON true is no number
        return
    elif isinstance(value, int):
        numbers.add(str(value))
    elif isinstance(value, float):
        numbers.add(repr(value))
        if value.is_integer():
            numbers.add(str(int(value)))
    elif isinstance(value, str) and (number := _NUMERIC_STRING.fullmatch(value.strip())):
        numbers.add(number[1])
        try:  # "2.0" also as "2", "2.50" as "2.5"
            numbers.add(format(Decimal(number[1]).normalize(), "f"))
        except InvalidOperation:
            pass
