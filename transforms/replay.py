"""Volatile spans found by replay: what differs when the same actions are played again in a fresh environment.

The masking rules find what looks volatile (a clock reading, a PID); a replay finds what IS volatile, whatever it
looks like: a random number, a shuffled order, a counter, a session name. `collect --replays N` stores, per step,
the next observations N replays returned; `replay_spans` compares their normalized text with the recorded one and
returns the ranges of the recorded text that differ. Pure functions over text: transforms.prepare adds the ranges
to the rule spans (rule spans keep their kind where both find a range).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from difflib import SequenceMatcher

KIND = "replay"
# The curated row's field (transient: not in the transitions table) with other_outcome's reason, set by
# transforms.prepare: such a row has no stage-3 row (transforms.stages.stage3_left_out).
OTHER_OUTCOME = "replay_other_outcome"
# A replay whose text differs from the recording in more than this share of its characters went elsewhere (another
# page loaded, the command failed): its differences are not "values that vary" but another outcome, so they are not
# marked; transforms.prepare counts it as diverged, and the row has no stage-3 row (other_outcome). Values that
# differ within otherwise identical lines (_is_value) are not counted in the share: a REPL's answer `635637056\n>>> `
# is mostly its one value, and a value is no less a value for being most of a short text.
MAX_CHANGED_SHARE = 0.5
# Tokens compared within lines that differ: words, runs of space, and each other character apart, so "0.51s" vs
# "0.48s" marks "51s", not the line. Every character is in a token: outside the spans a replay's text is then the
# recording's, exactly (a column's padding that changes with a number's width is marked too).
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
# Places a line may differ in before it counts as free text, marked whole (_whole_when_scattered): two are a pair of
# values in a fixed frame (`[12:01:02] took 0.5s`), three a reworded line.
SCATTERED = 3
_WORD = re.compile(r"\b[^\W\d_]{2,}\b")  # a word of 2+ letters only, not a code like af93k
_VALUE_RUN = re.compile(r"\w+")  # what a differing run must be, on both sides, to be a value (_is_value)
# Above this many tokens on either side, a block of differing lines is marked whole: SequenceMatcher is quadratic
# in the worst case, and a block that long is mostly different anyway.
_MAX_BLOCK_TOKENS = 4000
# Rule kinds whose value a replay that shows it again shows to be a constant, with the fewest characters such a
# span must have (the value of each kind that a replay reproduced is content, not masked):
# - drawn (a random uuid, a container id) or computed from content (a git blob or commit id): two draws of 7 hex
#   digits agree once in 2^28, so the same value again is a constant (a blob id of fixed content, a commit made at
#   a pinned date);
# - a size rounded to a unit (du of fixed files, the free space of a tmpfs the task does not touch, df's Used): a
#   size that moves does so with what is written, and a replay plays the same writes, so one that stays put is a
#   function of the actions. Not one followed by "/s": a transfer rate, which moves with timing (_reproduced_value).
# Time-like kinds (timestamp, date, duration) and usage figures (load, uptime, CPU shares) stay masked: a replay runs
# seconds after the recording, so a clock read to the minute, a date, a load average or an idle CPU's 0.0 reads the
# same then by chance and moves later; so does a port of a server that lives for the whole run.
REPRODUCED_ARE_CONSTANT = {"hex_id": 7, "uuid": 7, "byte_size": 1}
_RATE_AFTER = re.compile(r"/s(?:ec)?\b")


def replay_spans(text: str, replay_texts: list[str],
                 max_changed_share: float = MAX_CHANGED_SHARE) -> list[tuple[int, int]] | None:
    """Sorted, disjoint [start, end) ranges of `text` that some replay shows differently; None if a replay
    diverged (changed more than max_changed_share of `text`, not counting values that differ within otherwise
    identical lines)."""
    ranges: list[tuple[int, int]] = []
    for replay_text in replay_texts:
        if replay_text == text:
            continue
        found = _differing_ranges(text, replay_text)
        changed = sum(end - start for start, end, value in found if not value)
        if changed > max_changed_share * max(len(text), 1):
            return None
        ranges.extend((start, end) for start, end, _ in found)
    return _union(ranges)


def other_outcome(text: str, replay_texts: list[str], max_changed_share: float = MAX_CHANGED_SHARE) -> str | None:
    """Why the recording is one outcome among others rather than values that vary, or None: a replay that went
    elsewhere, or one with whole lines the recording lacks or without some of the recording's (a window that had
    not mapped yet when the recording looked, a `Terminated` that raced a kill). Spans mark places in the
    recording, so they can say "another value here" but not "these lines, or none": stage 3 would grade one side
    of a race as exact. A line that wraps differently because a value in it is longer is not whole: its words
    still pair with the recording's."""
    for number, replay_text in enumerate(replay_texts, 1):
        if replay_text == text:
            continue
        if replay_spans(text, [replay_text], max_changed_share) is None:
            return (f"replay {number} went elsewhere (changed more than {max_changed_share:.0%} of the text besides "
                    "values in otherwise identical lines)")
        lines, other_lines = text.splitlines(keepends=True), replay_text.splitlines(keepends=True)
        for _, i1, i2, j1, j2 in _line_opcodes(lines, other_lines):
            if i2 - i1 == j2 - j1:
                continue
            added, dropped = _whole_lines(lines[i1:i2], other_lines[j1:j2])
            if added or dropped:
                change = " and ".join(part for count, part in ((added, f"has {added} whole line(s) it lacks"),
                                                                (dropped, f"lacks {dropped} of its lines")) if count)
                return f"replay {number} {change} at the recording's line {i1 + 1}: another outcome, not values"
    return None


def _whole_lines(lines: list[str], other_lines: list[str]) -> tuple[int, int]:
    """(lines of `other_lines`, lines of `lines`) that one side has whole and the other lacks (_unpaired_lines)."""
    if not lines or not other_lines:
        return len(other_lines), len(lines)
    block, other = "".join(lines), "".join(other_lines)
    tokens, other_tokens = list(_TOKEN.finditer(block)), list(_TOKEN.finditer(other))
    if max(len(tokens), len(other_tokens)) > _MAX_BLOCK_TOKENS:  # as _differing_tokens: too long to pair tokens
        return max(len(other_lines) - len(lines), 0), max(len(lines) - len(other_lines), 0)
    matcher = SequenceMatcher(None, [t.group() for t in tokens], [t.group() for t in other_tokens], autojunk=False)
    opcodes = [opcode for opcode in matcher.get_opcodes() if opcode[0] != "equal"]
    return (_unpaired_lines(_line_starts(other_lines), other_tokens, [(j1, j2) for _, _, _, j1, j2 in opcodes]),
            _unpaired_lines(_line_starts(lines), tokens, [(i1, i2) for _, i1, i2, _, _ in opcodes]))


def _unpaired_lines(starts: list[int], tokens: list[re.Match], runs: list[tuple[int, int]]) -> int:
    """Lines none of whose non-space tokens pairs with the other side's (all are in `runs`, the differing token
    ranges), but for the lines of a run that continues a change: one that begins within a line that pairs in part,
    or right after a differing token. A longer value wrapped onto the next line (`file`'s description of random
    bytes grown past the terminal's width) is a value that varies, not a line added."""
    differing = {index for start, end in runs for index in range(start, end)}
    solid = [index for index, token in enumerate(tokens) if not token.group().isspace()]
    paired = _lines_of(starts, [tokens[index] for index in solid if index not in differing])
    whole = set()
    for start, end in runs:
        at = bisect_left(solid, start)
        if at == len(solid) or solid[at] >= end:
            continue  # only spaces differ
        first_line = bisect_right(starts, tokens[solid[at]].start()) - 1
        if first_line in paired or (at and solid[at - 1] in differing):
            continue
        whole.update(line for line in _lines_of(starts, tokens[start:end]) if line not in paired)
    return len(whole)


def _lines_of(starts: list[int], tokens: list[re.Match]) -> set[int]:
    """The lines (indexes into the lines whose _line_starts are `starts`) of the non-space tokens."""
    return {bisect_right(starts, token.start()) - 1 for token in tokens if not token.group().isspace()}


def _differing_ranges(text: str, other: str) -> list[tuple[int, int, bool]]:
    """(start, end, value) of each range of `text` that `other` shows differently; `value`: a value in an otherwise
    identical line (_is_value) of texts with as many lines, which does not count towards going elsewhere."""
    lines, other_lines = text.splitlines(keepends=True), other.splitlines(keepends=True)
    framed = len(lines) == len(other_lines)  # paired line by line (_line_opcodes): a line's frame is its own
    starts = _line_starts(lines)
    ranges = []
    for op, i1, i2, j1, j2 in _line_opcodes(lines, other_lines):
        if op == "equal" or not lines:
            continue
        if op == "insert":  # lines only the replay has: see _at_insertion
            i1, i2 = _at_insertion(i1, len(lines))
        block_start = starts[i1]
        block = "".join(lines[i1:i2])
        if op != "replace":  # whole lines, with their line ends: a replay without them has no blank line there
            ranges.append((block_start, block_start + len(block), False))
            continue
        tokens = _differing_tokens(block, "".join(other_lines[j1:j2]))
        ranges.extend((block_start + start, block_start + end, framed and value)
                      for start, end, value in _whole_when_scattered(block, tokens))
    return [(start, end, value) for start, end, value in ranges if start < end]


def _is_value(text: str, other: str) -> bool:
    """Whether a run of tokens that differs (`text` in the recording, `other` in the replay, either may be empty)
    is a value that varies rather than other words: each side, less the padding around it (a column's, which moves
    with the value's width), is one run of letters, digits and `_` with a digit in it, so the signs around it are
    the same on both sides (a number, a hex address, a float's digits, a uuid's group; not `NameError` against
    `TypeError`, `hello` against `cat: x: No such file`, a path against a hex number)."""
    text, other = text.strip(" \t"), other.strip(" \t")
    return all(not side or (_VALUE_RUN.fullmatch(side) and any(c.isdigit() for c in side)) for side in (text, other))


def _whole_when_scattered(block: str, ranges: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """A line that differs in SCATTERED or more places, words among them, is free text that varies (`file`
    describing random bytes, a message reworded), not values in a fixed frame (`pid 4242 started at 06:01:02 id=af93k`
    differs in three places too, but in values): the words that happened to match between two runs ("method", "from
    FAT") are no more predictable than the rest, so the line is marked from its first difference to its last. A
    range keeps its `value` flag only where every range of its line has it (_differing_ranges)."""
    by_line: dict[int, list[tuple[int, int, bool]]] = {}
    for start, end, value in ranges:
        by_line.setdefault(block.count("\n", 0, start), []).append((start, end, value))
    merged = []
    for line_ranges in by_line.values():
        words = sum(1 for start, end, _ in line_ranges if _WORD.search(block, start, end))
        if len(line_ranges) >= SCATTERED and words >= 2:
            merged.append((line_ranges[0][0], line_ranges[-1][1], False))  # free text, not values
        elif all(value for _, _, value in line_ranges):
            merged.extend(line_ranges)
        else:  # values only in an otherwise identical line: one run of other words makes the line another one
            merged.extend((start, end, False) for start, end, _ in line_ranges)
    return merged


def _line_opcodes(lines: list[str], other_lines: list[str]):
    """Which lines of the recording differ from which of the replay. As many lines on both sides: line by line, as
    volatile values seldom add or remove lines, and a line-matching diff pairs them wrongly when a value recurs on
    another line (a git log whose commit dates shift by a second: the first commit's date is the replay's second
    one's, and the whole log looked rewritten)."""
    if len(lines) != len(other_lines):
        yield from SequenceMatcher(None, lines, other_lines, autojunk=False).get_opcodes()
        return
    for index, (line, other_line) in enumerate(zip(lines, other_lines)):
        yield ("equal" if line == other_line else "replace"), index, index + 1, index, index + 1


def _differing_tokens(block: str, other: str) -> list[tuple[int, int, bool]]:
    """(start, end, value) of the token runs of `block` that `other` shows differently (_is_value of the two
    runs; an insertion is judged by what the replay inserts)."""
    tokens, other_tokens = list(_TOKEN.finditer(block)), list(_TOKEN.finditer(other))
    if max(len(tokens), len(other_tokens)) > _MAX_BLOCK_TOKENS:
        return [(0, len(block), False)]
    matcher = SequenceMatcher(None, [t.group() for t in tokens], [t.group() for t in other_tokens], autojunk=False)
    ranges = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or not tokens:
            continue
        replayed = other[other_tokens[j1].start():other_tokens[j2 - 1].end()] if j1 < j2 else ""
        recorded = block[tokens[i1].start():tokens[i2 - 1].end()] if i1 < i2 else ""
        if op == "insert":
            i1, i2 = _at_insertion(i1, len(tokens))
        ranges.append((tokens[i1].start(), tokens[i2 - 1].end(), _is_value(recorded, replayed)))
    return ranges


def _at_insertion(index: int, count: int) -> tuple[int, int]:
    """What to mark where a replay has lines or tokens the recording lacks: a span has a length, so the item after
    the insertion point (the last one at the end) is marked with it. The spans then still describe every replay:
    the text outside them is the same, the text inside them (an inserted word plus the next one) is not."""
    return (index, index + 1) if index < count else (count - 1, count)


def _line_starts(lines: list[str]) -> list[int]:
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line)
    starts.append(offset)
    return starts


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def without_reproduced_values(spans: list[dict], text: str, ranges: list[tuple[int, int]]) -> list[dict]:
    """spans less the rule spans of a kind whose reproduced values are constants (REPRODUCED_ARE_CONSTANT) that every
    replay showed again: no replay range touches them, and outside its ranges a replay equals the recording. The
    very `spans` list when none is left out. `text`: the recording's, which the spans index; `ranges`:
    replay_spans's, of replays that did not diverge."""
    kept = [span for span in spans if not _reproduced_value(span, text, ranges)]
    return spans if len(kept) == len(spans) else kept


def _reproduced_value(span: dict, text: str, ranges: list[tuple[int, int]]) -> bool:
    fewest = REPRODUCED_ARE_CONSTANT.get(span.get("kind"))
    if fewest is None or span["end"] - span["start"] < fewest:
        return False
    if span["kind"] == "byte_size" and _RATE_AFTER.match(text, span["end"]):
        return False
    return not any(start < span["end"] and span["start"] < end for start, end in ranges)


def with_replay_spans(spans: list[dict], ranges: list[tuple[int, int]]) -> list[dict]:
    """Rule spans plus the parts of the replay ranges no rule span covers (kind "replay"), sorted by position; the
    very `spans` list when the rules cover them all. A rule span says more (a `pid`, a `timestamp`), so it keeps its
    range where both found one."""
    if not ranges:
        return spans
    added, rules = [], iter(spans)
    covered = next(rules, None)
    for start, end in ranges:
        while start < end:
            while covered is not None and covered["end"] <= start:
                covered = next(rules, None)
            if covered is None or end <= covered["start"]:
                added.append({"start": start, "end": end, "kind": KIND})
                break
            if start < covered["start"]:
                added.append({"start": start, "end": covered["start"], "kind": KIND})
            start = covered["end"]
    return sorted(spans + added, key=lambda span: span["start"]) if added else spans
