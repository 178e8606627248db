"""JSON as a trace reads it, for less than json's own functions: json.loads for a str without the cost of its Python
wrapper (a trace parses an action, a metadata document and often an answer a row, and json.loads spends ~1.5 us of
its ~2 us a small document in the Python frames around the compiled scanner: decode, raw_decode, two whitespace
regexes), and the length json.dumps would write, without writing it."""

from __future__ import annotations

import json
import json.scanner
import re

# The scanner json.loads' default decoder uses: the same values (and RecursionError) for the same text.
# json_scan(text, at) -> (value, end), or StopIteration where no value starts at `at`.
json_scan = json.scanner.make_scanner(json.JSONDecoder())
_WHITESPACE = " \t\n\r"  # json's own (json.decoder.WHITESPACE), around a document


def json_value(text: str):
    """json.loads(text): the value, or the very exception json.loads raises, as a text it refuses is handed to it
    (a leading space, a BOM, a missing value, extra data), so an error message is what it always was."""
    try:
        value, end = json_scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return json.loads(text)
    return value


# What json.dumps(ensure_ascii=False) escapes in a string: '"', backslash and \b \f \n \r \t as two characters, any
# other control character as six (\u001b).
_ESCAPED = re.compile(r'[\x00-\x1f"\\]')
_TWO_CHARACTERS = frozenset('"\\\b\f\n\r\t')
_CONSTANT_SIZES = {None: 4, True: 4, False: 5}
_FLOAT_WORDS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_size(value) -> int:
    """len(json.dumps(value, ensure_ascii=False)) of a value json.loads made, without writing it: an answer's keys are
    ranked by it, and writing a long list out again only to measure it cost more than the rest of the ranking."""
    kind = type(value)
    if kind is str:
        size = len(value) + 2
        if _ESCAPED.search(value) is not None:
            size += sum(1 if char in _TWO_CHARACTERS else 5 for char in _ESCAPED.findall(value))
        return size
    if kind is int:
        return len(int.__repr__(value))
    if kind is list:
        # "[" and "]", and ", " between items.
        return sum(map(json_size, value)) + 2 * len(value) if value else 2
    if kind is dict and all(type(key) is str for key in value):
        # "{" and "}", ": " after each key and ", " between items.
        return sum(json_size(key) + json_size(item) for key, item in value.items()) + 4 * len(value) if value else 2
    if value is None or kind is bool:
        return _CONSTANT_SIZES[value]
    if kind is float:
        written = float.__repr__(value)
        return len(_FLOAT_WORDS.get(written, written))
    return len(json.dumps(value, ensure_ascii=False))  # anything json.loads does not make
