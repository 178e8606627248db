"""`curate --redact FILE`: strings and regexes curation replaces with [REDACTED] in every text it writes.

A second net behind the collectors' own masking (an MCP servers file's secrets, docs/mcp.md): whatever a user knows
must not be published (a token, a colleague's name, an intranet host) is taken out of the curated texts, the stages
built from them and the dead letters, while the raw collection stays as recorded. The list is read once, where the
run is launched, and travels inside the pipeline's options (CurateOptions.redactions), so Dataflow workers never
read a local path; stats.json records only how many patterns there were and the file's sha256.

Texts are redacted where curation makes them (transforms.prepare), before masking computes spans and the content
hash, so every offset indexes the redacted text and a row that differed from another only by a redacted value is
its duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property

REDACTED = "[REDACTED]"
REGEX_PREFIX = "re:"
# The curated row's texts, each redacted whole; next_meta_json and state_meta_json are JSON (their values are
# redacted), replays' texts a list. Ids (id, episode_id, task_id) are not: they key dedupe, replays and joins with
# the raw collection.
ROW_TEXTS = ("instruction", "action_text", "error", "task_group")
# Global inline flags (`(?i)`) must open a whole expression: a pattern's own are made scoped (`(?i:...)`) when the
# patterns are joined into one.
_LEADING_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")
# A backreference counts groups from the start of the whole expression, which joining the patterns shifts.
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


class RedactionFileError(ValueError):
    """The --redact file cannot be used: names the file, the line where known, and why."""

    def __init__(self, path: str, reason: str, line: int | None = None):
        super().__init__(f"--redact {path}{f' line {line}' if line else ''}: {reason}")


@dataclass(frozen=True)
class Redactions:
    """The patterns of a --redact file, as regex sources in the order they are tried at one place (the file's
    regexes in file order, then its literal strings longest first, so that `secret123` wins over `secret`), and the
    sha256 of the file's bytes."""
    patterns: tuple[str, ...]
    sha256: str = ""

    @classmethod
    def read(cls, path: str) -> "Redactions":
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise RedactionFileError(path, f"cannot be read: {exc.strerror or exc}") from None
        lines = []
        for number, line in enumerate(data.split(b"\n"), 1):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise RedactionFileError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                                         number) from None
        return cls.of(lines, path, hashlib.sha256(data).hexdigest())

    @classmethod
    def of(cls, lines, path: str = "<list>", sha256: str = "") -> "Redactions":
        """Lines as a file holds them: a literal string each, `re:` and a Python regex, blank or a `#` comment."""
        regexes, literals = [], set()
        for number, line in enumerate(lines, 1):
            text = line.rstrip("\r\n")
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith(REGEX_PREFIX):
                regexes.append(_checked_regex(text.lstrip()[len(REGEX_PREFIX):], path, number, regexes))
            else:
                literals.add(stripped)
        if not regexes and not literals:
            raise RedactionFileError(path, "holds no string or re: pattern to redact (only blank lines and # "
                                           "comments)")
        ordered = regexes + [re.escape(literal) for literal in sorted(literals, key=lambda s: (-len(s), s))]
        return cls(tuple(ordered), sha256)

    @cached_property
    def pattern(self) -> re.Pattern:
        return re.compile(_joined(self.patterns))

    def text(self, text: str | None) -> tuple[str | None, int]:
        """(text with every non-empty match replaced, matches); the very same str when nothing matched."""
        if not text:
            return text, 0
        found = 0

        def replace(match: re.Match) -> str:
            nonlocal found
            if match.end() == match.start():
                return ""  # a zero-width match (a lookahead, \b) has nothing to hide
            found += 1
            return REDACTED

        redacted = self.pattern.sub(replace, text)
        return (redacted, found) if found else (text, 0)

    def json_text(self, text: str | None) -> tuple[str | None, int]:
        """A JSON document with its string values redacted, where the values are: a match in the document's text
        may sit across an escape (`\\"`, `\\u00e9`) or the JSON around a value. Bytes written as {"base64": ...}
        (transforms.io.to_json) are redacted as UTF-8 text too. Redacted as plain text if it is no JSON."""
        if not text:
            return text, 0
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return self.text(text)
        redacted, found = self._value(value)
        if not found:
            return text, 0
        return json.dumps(redacted, ensure_ascii=False, sort_keys=True), found

    def _value(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            found, items = 0, []
            for item in value:
                item, count = self._value(item)
                items.append(item)
                found += count
            return items, found
        if isinstance(value, dict):
            if set(value) == {"base64"} and isinstance(value["base64"], str):
                return self._base64(value)
            found, items = 0, {}
            for key, item in value.items():
                items[key], count = self._value(item)
                found += count
            return items, found
        return value, 0

    def _base64(self, value: dict):
        try:
            raw = base64.b64decode(value["base64"], validate=True)
        except ValueError:
            return value, 0
        # surrogateescape: the bytes that are no UTF-8 (why they were written as base64) come back unchanged.
        text, found = self.text(raw.decode("utf-8", "surrogateescape"))
        if not found:
            return value, 0
        return {"base64": base64.b64encode(text.encode("utf-8", "surrogateescape")).decode("ascii")}, found

    @staticmethod
    def _chained(row: dict, state_key: str, next_key: str, redact, last: tuple) -> tuple[int, tuple]:
        """Redacts a row's state and next value (texts, or metas) in place; (matches, (next as read, as redacted)).
        A state that is the previous row's next (the same str: `last`) becomes that row's redacted next, counted
        with that row."""
        found, state = 0, row.get(state_key)
        if state is not None and state is last[0]:
            row[state_key] = last[1]
        else:
            row[state_key], found = redact(state)
        read = row[next_key]
        row[next_key], count = redact(read)
        return found + count, (read, row[next_key])

    def rows(self, rows: list[dict], replay_key: str) -> dict[str, list[int]]:
        """Curated rows (transforms.prepare.curated_row, in file order) redacted in place; {domain: [rows with a
        match, matches]}. A state that is the previous row's next text (the same str, prepare._state_text) becomes
        that row's redacted next text, the same str again, which masking and dedupe find by identity."""
        counts: dict[str, list[int]] = {}
        last_texts, last_metas = (None, None), (None, None)
        for row in rows:
            found, last_texts = self._chained(row, "state_text", "next_text", self.text, last_texts)
            for name in ROW_TEXTS:
                row[name], count = self.text(row[name])
                found += count
            count, last_metas = self._chained(row, "state_meta_json", "next_meta_json", self.json_text, last_metas)
            found += count
            replays = row.get(replay_key)
            if replays:
                redacted = [self.text(text) for text in replays]
                row[replay_key] = [text for text, _ in redacted]
                found += sum(count for _, count in redacted)
            if found:
                entry = counts.setdefault(row["domain"], [0, 0])
                entry[0] += 1
                entry[1] += found
        return counts

    def letter(self, letter: dict) -> tuple[dict, int]:
        """A dead letter with its reason and record_json redacted; (letter, matches)."""
        reason, in_reason = self.text(letter["reason"])
        record, in_record = self.json_text(letter["record_json"])
        found = in_reason + in_record
        return ({**letter, "reason": reason, "record_json": record} if found else letter), found


def _checked_regex(source: str, path: str, number: int, earlier: list[str]) -> str:
    try:
        compiled = re.compile(source)
    except re.error as exc:
        raise RedactionFileError(path, f"re:{source} does not compile: {exc}", number) from None
    if compiled.search(""):
        raise RedactionFileError(path, f"re:{source} matches the empty string, so it would redact nothing but "
                                       "insert [REDACTED] everywhere", number)
    if _BACKREFERENCE.search(source):
        raise RedactionFileError(path, f"re:{source} has a backreference or conditional group, which joining the "
                                       "patterns into one regex would renumber: write it without one", number)
    scoped = _scoped(source)
    try:
        re.compile(_joined([*earlier, scoped]))
    except re.error as exc:  # e.g. a group name an earlier pattern took
        raise RedactionFileError(path, f"re:{source} cannot be joined with the patterns above it: {exc}",
                                 number) from None
    return scoped


def _scoped(source: str) -> str:
    flags, at = "", 0
    while found := _LEADING_FLAGS.match(source, at):
        flags, at = flags + found[1], found.end()
    return f"(?{''.join(dict.fromkeys(flags))}:{source[at:]})" if flags else source


def _joined(patterns) -> str:
    return "|".join(f"(?:{pattern})" for pattern in patterns)

