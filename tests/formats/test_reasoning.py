"""Reasoning synthesizers.

The llm synthesizer is tested against a real HTTP server started here on 127.0.0.1 that answers
/v1/chat/completions in the OpenAI wire format. It stands in for a model server (vLLM, SGLang, llama.cpp): its
replies are canned, but the requests, concurrency, status codes and retries all go over real HTTP through the
openai SDK. The same synthesizer against a real model server (llama.cpp) is in test_reasoning_llama.py.
"""

from __future__ import annotations

import bisect
import collections
import difflib
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from transforms.reasoning import ReasoningError, grounded, make_synthesizer, screens
from transforms.reasoning._linediff import changed_regions
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.llm import LLMEndpointError


def _row(i: int, **extra) -> dict:
    return {"id": f"ep:{i}", "episode_id": "ep", "step": i, "domain": "terminal", "instruction": "list files",
            "action_text": f"ls dir{i}", "state_text": "$", "next_text": f"$ ls dir{i}\nfile{i}.txt\n$", **extra}


# ---- grounded ---------------------------------------------------------------------------------------------------

def test_grounded_trace_states_only_what_the_record_shows():
    row = {"id": "e:3", "domain": "terminal", "state_text": "$ pytest -q\n$",
           "next_text": "$ pytest -q\nF.\nFAILED tests/test_m.py:12 - assert 1 == 2\n1 failed in 0.03s\n$",
           "next_volatile_spans": [{"start": 70, "end": 75, "kind": "duration"}], "next_meta": {"exit_status": 1},
           "error": None, "done": True}
    trace = grounded_trace(row)
    assert trace == ("3 lines appear: 'F.', 'FAILED tests/test_m.py:12 - assert 1 == 2', '1 failed in 0.03s'. "
                     "The new output names tests/test_m.py:12. The exit status, recorded but not printed, is 1. "
                     "New values that vary between runs: 1 (duration). The episode ends after this step.")
    for quoted in ("F.", "FAILED tests/test_m.py:12 - assert 1 == 2", "1 failed in 0.03s"):
        assert quoted in row["next_text"] and quoted not in row["state_text"]


def test_grounded_trace_for_trees_changes_and_no_change():
    before = "[a1] button 'Save'\n[a2] textbox 'Name'\n[a3] link 'Help'"
    after = "[a1] button 'Save'\n[a2] textbox 'Name' value='ada'\n[a4] alert 'Saved'"
    trace = grounded_trace({"domain": "web", "state_text": before, "next_text": after})
    # [a3] and [a4] are two elements: one disappears, the other appears; the textbox is one element changed.
    assert trace == ("1 element appears: \"[a4] alert 'Saved'\". 1 element disappears: \"[a3] link 'Help'\". "
                     "1 element changes: \"[a2] textbox 'Name'\" becomes \"[a2] textbox 'Name' value='ada'\".")
    assert grounded_trace({"domain": "os", "state_text": before, "next_text": before}) == \
        "The observation does not change."
    assert grounded_trace({"domain": "new-domain", "state_text": "", "next_text": "a\nb"}) == \
        "There is no earlier observation; the environment shows 2 lines."
    assert grounded_trace({"domain": "terminal", "state_text": " \n\t\u3000", "next_text": "a"}) == \
        "There is no earlier observation; the environment shows 1 line."


def test_grounded_trace_names_only_new_files_and_mcp_error_flags():
    diff = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n+b"
    same_diff_again = grounded_trace({"domain": "terminal", "state_text": diff,
                                      "next_text": diff + "\n$ make\nok"})
    assert "names" not in same_diff_again  # the diff was already on screen: nothing new names a file
    assert "names m.py." in grounded_trace({"domain": "terminal", "state_text": "$", "next_text": diff})
    # An answer (swe's command output) is new as a whole: its files are named even if the last answer named them,
    # by the diff sentence, which names each file it changes, once.
    again = grounded_trace({"domain": "swe", "state_text": diff, "next_text": diff})
    assert "adds 1 line in m.py: line 1" in again and "names" not in again
    assert grounded_trace({"domain": "mcp", "state_text": "x", "next_text": "[tool error]\nno such file",
                           "next_meta_json": '{"is_error": true, "jsonrpc_error": false}'}).endswith(
        "The tool result is marked as an error.")
    assert "protocol error" in grounded_trace({"domain": "mcp", "state_text": "x", "next_text": "[error -32602] bad",
                                               "next_meta": {"is_error": False, "jsonrpc_error": True}})


def test_an_answer_is_described_itself_not_diffed_against_the_previous_answer():
    # Real MCP steps of `make run`: the state is the previous tool's result, which says nothing about this one.
    assert grounded_trace({"domain": "mcp", "state_text": "Echo: hello world",
                           "next_text": "The sum of 17 and 25 is 42."}) == \
        "The result is one line: 'The sum of 17 and 25 is 42.'."
    weather = '{\n  "conditions": "Cloudy",\n  "humidity": 82,\n  "temperature": 33\n}'
    assert grounded_trace({"domain": "search", "state_text": weather, "next_text": weather}) == (
        "The result is a JSON object of 5 lines with 3 keys: conditions is 'Cloudy'; humidity is 82; temperature is "
        "33. It is the same as the previous result.")
    nested = '{\n  "a": {\n    "inner": 1\n  },\n  "b\\"q": [],\n  "c": 1,\n  "d": 2\n}'
    assert grounded_trace({"domain": "mcp", "state_text": "", "next_text": nested}) == (
        "The result is a JSON object of 8 lines with 4 keys: a is an object of 1 key (inner 1); b\"q has no items; c is "
        "1; d is 2.")
    assert grounded_trace({"domain": "swe", "state_text": "x", "next_text": " \n", "next_meta": {"exit_status": 0}}) \
        == "The output is 1 blank line. The exit status, recorded but not printed, is 0."
    output = "collected 3 items\n\nt.py ..F\nt.py:3: AssertionError\n1 failed"
    assert grounded_trace({"domain": "swe", "state_text": "", "next_text": output}) == (
        "The output has 5 lines (1 blank): 'collected 3 items', 't.py ..F', 't.py:3: AssertionError' and 1 more "
        "non-blank. "
        "It names t.py:3.")


def test_grounded_synthesizer_is_deterministic_and_reports_bad_rows():
    synthesizer = make_synthesizer()
    rows = [_row(1), _row(2, next_meta_json="{broken"), _row(3, error="disk full")]
    first, second = synthesizer.traces(rows), synthesizer.traces(rows)
    assert first[0] == second[0] and first[2] == second[2]
    assert isinstance(first[1], ReasoningError) and "ep:2" in str(first[1])
    assert "reports an error: 'disk full'" in first[2]
    with pytest.raises(ValueError, match="unknown reasoning synthesizer 'magic'"):
        make_synthesizer("magic")


# ---- grounded: the compiled line diff against the straightforward reference ------------------------------------
# The reference is the first version of the diff and file steps: difflib's opcodes, one regex scan per line.

def _reference_quote(line):
    return repr(line if len(line) <= 72 else line[:71] + "…")


def _reference_counted(count, unit, verb):
    return f"{count} {unit}{'' if count == 1 else 's'} {verb + 's' if count == 1 else verb}"


def _reference_listed(lines, unit, verb):
    """Every line counted, blank ones too; the first 3 that are not blank quoted, the rest "more non-blank" where
    blank ones are counted."""
    shown = [line for line in lines if line.strip()]
    blank = len(lines) - len(shown)
    if not shown:
        return f"{blank} blank {_reference_counted(blank, unit, verb).split(' ', 1)[1]}."
    note = f" ({blank} blank)" if blank else ""
    return (f"{_reference_counted(len(lines), unit, verb)}{note}: " + ", ".join(map(_reference_quote, shown[:3]))
            + (f" and {len(shown) - 3} more{' non-blank' if blank else ''}" if len(shown) > 3 else "") + ".")


_REFERENCE_LABEL = re.compile(r"[A-Za-z][A-Za-z _-]{0,23}:(?=\s|$)")
# A JSON string runs to its closing quote, or to the line's end where it has none.
_REFERENCE_FIELD = re.compile(r'[A-Za-z-]+="(?:[^"\\]|\\.?)*(?:"|$)')


def _reference_view_field_end(s, k):
    """Where a field of android's view list that starts at k ends: its JSON string's closing quote, else the next
    " | ", else the line's end."""
    if k >= len(s):
        return len(s)
    quoted = _REFERENCE_FIELD.match(s, k)
    if quoted:
        return quoted.end()
    end = s.find(" | ", k)
    return len(s) if end < 0 else end


def _reference_head(line):
    """What names the element a line shows: "[id] role name" (the name quoted, or up to ", ", a tab or the end), or
    a "Label:" at its start; None if neither."""
    s = line.lstrip()
    if s.startswith("["):
        close = s.find("]", 1, 18)
        padding = len(s[1:close]) - len(s[1:close].lstrip(" ")) if close > 1 else 0
        if close > 1 + padding and not any(ch.isspace() for ch in s[1 + padding:close]) and \
                s.startswith(" | ", close + 1):
            # android's view list ("[ 7] | class | res=\"…\" | …", ids padded): the class and the field after it.
            return s[:_reference_view_field_end(s, _reference_view_field_end(s, close + 4) + 3)]
        if close > 1 and not any(ch.isspace() for ch in s[1:close]) and (close + 1 == len(s) or s[close + 1].isspace()):
            k = close + 1
            while k < len(s) and s[k].isspace():
                k += 1
            while k < len(s) and not s[k].isspace():  # the role
                k += 1
            if k < len(s):  # its separator, then the name
                k += 1
                if k < len(s) and s[k] in "'\"":
                    end = s.find(s[k], k + 1)
                    k = len(s) if end < 0 else end + 1
                else:
                    while k < len(s) and s[k] != "\t" and not s.startswith(", ", k):
                        k += 1
            return s[:k]
        return None
    match = _REFERENCE_LABEL.match(s)
    return match.group() if match else None


_APART, _ALIKE, _RENUMBERED, _SAME = 0, 1, 2, 3


def _reference_key(line):
    """An element line's head from its id's "]" on: what two lines of one element share whatever their ids."""
    head = _reference_head(line)
    return head[head.find("]"):] if head and head.startswith("[") else None


def _reference_view_row(line):
    """An android view line whose head is its class and resource id: {key, name (its text, hint and description
    fields), place (its bounds' "[x,y]")}; else None."""
    head, s = _reference_head(line), line.strip()
    if not head or not head.startswith("[") or not s.startswith(" | ", s.find("]") + 1) or \
            not s.startswith(' | res="', _reference_view_field_end(s, s.find("]") + 4)):
        return None
    at = len(head)
    while s.startswith(" | ", at):
        if s.startswith(" | bounds=[", at):
            close = s.find("]", at + 10)
            return {"key": _reference_key(line), "name": s[len(head):at],
                    "place": s[at + 10:close + 1] if close >= 0 else None, "shared": False, "twinned": False,
                    "elsewhere": False}
        at = _reference_view_field_end(s, at + 3)
    return None


def _reference_view_rows(changed, lines):
    """The view rows among a screen's changed lines, each shared where another line of the screen has its key."""
    rows = [_reference_view_row(line) for line in changed]
    if any(rows):
        keys = collections.Counter(map(_reference_key, lines))
        for row in rows:
            if row:
                row["shared"] = keys[row["key"]] >= 2
    return rows


def _reference_twins(old_rows, new_rows):
    """Rows of a shared key on both screens: with their name at their place (twinned), else with their name
    elsewhere; as _linediff.c's mark_twins, in order."""
    def named(x, y):
        return x["key"] == y["key"] and x["name"] and x["name"] == y["name"] and (x["shared"] or y["shared"])
    for x in filter(None, old_rows):
        y = next((y for y in filter(None, new_rows) if not y["twinned"] and named(x, y) and x["place"] is not None
                  and x["place"] == y["place"]), None)
        if y:
            x["twinned"] = y["twinned"] = True
    for x in (x for x in old_rows if x and not x["twinned"]):
        for y in (y for y in new_rows if y and not y["twinned"] and named(x, y)):
            x["elsewhere"] = y["elsewhere"] = True


def _reference_named_span(line):
    """A view line's class, resource id and name fields (from its id's "]" up to its bounds), and whether it has a
    name (a field besides the resource id); None for a line that is no view line with bounds."""
    s = line
    close = s.find("]", 0, 18) if s.startswith("[") else -1
    if close < 0 or not s.startswith(" | ", close + 1) or close + 4 >= len(s):
        return None
    at, named = _reference_view_field_end(s, close + 4), False
    while at + 11 <= len(s) and s.startswith(" | ", at):
        if s.startswith(" | bounds=[", at):
            return s[close:at], named
        named = named or not s.startswith(" | res=", at)
        at = _reference_view_field_end(s, at + 3)
    return None


def _reference_same_page(before, after):
    """Two screens show one page where of the named view lines of the one with more, at least half are on the
    other with their class, resource id and name (_linediff.c's same_page)."""
    def named(lines):
        return collections.Counter(span for span, has_name in filter(None, map(_reference_named_span, lines))
                                   if has_name)
    old, new = named(before), named(after)
    kept = sum((old & new).values())
    return kept > 0 and 2 * kept >= max(sum(old.values()), sum(new.values()))


def _reference_lone(old_rows, new_rows, before, after):
    """Rows of a key no other row of their screens has, at two places, one without a name, pair as list rows
    (shared) unless the screens show one page; as _linediff.c's mark_lone."""
    page = None
    for x in (x for x in old_rows if x and x["place"] is not None):
        for y in (y for y in new_rows if y and y["place"] is not None):
            if x["shared"] or y["shared"] or (x["name"] and y["name"]) or x["key"] != y["key"] or \
                    x["place"] == y["place"]:
                continue
            page = _reference_same_page(before, after) if page is None else page
            if page:
                return
            x["shared"] = y["shared"] = True


def _reference_same_row(x, y, how):
    """Two view rows of one key that another row of a screen has: one row by their name, else by their place."""
    placed = x["place"] is not None and x["place"] == y["place"]
    if x["name"] and x["name"] == y["name"]:
        return how if placed or not (x["twinned"] or y["twinned"]) else _APART
    if not placed:
        return _APART
    return how if x["name"] == y["name"] else _APART if x["elsewhere"] or y["elsewhere"] else _ALIKE


def _reference_same_line(old, new, old_row=None, new_row=None):
    """One line changed (same head, or no head and similar), not one line gone and another come (_APART); surely
    (_SAME: the same head, or one the start of the other) or because they look alike (_ALIKE). Two android view rows
    of a shared class and resource id (old_row, new_row: _reference_view_rows) are one row by their name, else their
    place (_reference_same_row)."""
    old_head, new_head = _reference_head(old), _reference_head(new)
    if old_head is not None or new_head is not None:
        rows = old_row and new_row and (old_row["shared"] or new_row["shared"])
        if old_head == new_head:
            return _reference_same_row(old_row, new_row, _SAME) if rows else _SAME
        # Equal but for an element's id: ids move when elements before them appear ("[31] text" is "[35] text").
        key = lambda head: re.sub(r"^\[[^\]]*", "", head) if (head or "").startswith("[") else None
        if key(old_head) is not None and key(old_head) == key(new_head):
            return _reference_same_row(old_row, new_row, _RENUMBERED) if rows else _RENUMBERED
        return _APART
    # A web tree has one root, told by its place whatever its title (_linediff.c's both_roots). The desktop-row rule
    # (same_row_new_text) needs a row whose name is its text cell, which the random texts here never hold:
    # tests/transforms/test_linediff_pairing.py tests it.
    if old.startswith("RootWebArea ") and new.startswith("RootWebArea ") and old.strip() != "RootWebArea" != \
            new.strip():
        return _SAME
    old, new = old.strip(), new.strip()
    if not old or not new:
        return _APART
    shorter = min(len(old), len(new))
    prefix = 0
    while prefix < shorter and old[prefix] == new[prefix]:
        prefix += 1
    if prefix == shorter:
        return _SAME
    suffix = 0
    while suffix < shorter - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    # A first word (a role) and a space both lines start with is not counted.
    word = re.match(r"[A-Za-z]*", old).end()
    skip = word + 1 if 0 < word < prefix and old[word] == " " else 0
    return _ALIKE if 5 * (prefix - skip + suffix) >= 3 * (max(len(old), len(new)) - skip) else _APART


def _reference_changed_pair(changed_old, changed_new, p, q, how):
    """The p-th changed old line and the q-th changed new one, paired by a replace as surely as `how`, are one line
    changed: unless an [id] names them, neither is as surely the same line as one of the 4 nearest changed lines of
    the other text around its partner (lines of one file a pager scrolled past look alike)."""
    old, new = changed_old[p], changed_new[q]
    if (_reference_head(old) or "").startswith("["):
        return True
    near_old = [changed_old[k] for k in range(max(p - 4, 0), min(p + 5, len(changed_old))) if k != p]
    near_new = [changed_new[k] for k in range(max(q - 4, 0), min(q + 5, len(changed_new))) if k != q]
    return not any(_reference_same_line(other, new) >= how for other in near_old) and \
        not any(_reference_same_line(old, other) >= how for other in near_new)


# How far a pair of a replace may stand from its lines aligned at the top or the bottom (_linediff.c's WINDOW).
_WINDOW = 8


def _reference_pairs(changed_old, changed_new, p, q, m, n, old_rows, new_rows):
    """The pairs {i: j} of a replace's m old and n new lines (starting at the p-th and q-th changed lines) that are
    one line changed: each the other's only partner as sure within _WINDOW lines of the region aligned at its top or
    its bottom, no rival near (_reference_changed_pair), and of those the longest run in order (patience sorting)."""
    low, high = min(0, n - m) - _WINDOW, max(0, n - m) + _WINDOW
    how = {(i, j): _reference_same_line(changed_old[p + i], changed_new[q + j], old_rows[p + i], new_rows[q + j])
           for i in range(m) for j in range(max(0, i + low), min(n, i + high + 1))}
    candidates = []
    for i in range(m):
        best = max([h for (k, _), h in how.items() if k == i], default=_APART)
        sure = [j for (k, j), h in how.items() if k == i and h >= best]
        if best == _APART or len(sure) != 1:
            continue
        if [k for (k, j), h in how.items() if j == sure[0] and h >= best] == [i] and \
                _reference_changed_pair(changed_old, changed_new, p + i, q + sure[0], best):
            candidates.append((i, sure[0]))
    tails, before = [], {}
    for i, j in candidates:
        at = bisect.bisect_left([tail[1] for tail in tails], j)
        before[(i, j)] = tails[at - 1] if at else None
        tails[at:at + 1] = [(i, j)]
    pairs, pair = {}, tails[-1] if tails else None
    while pair:
        pairs[pair[0]] = pair[1]
        pair = before[pair]
    return pairs


def _reference_diff_sentences(before, after, unit):
    added, removed, changed = [], [], []
    opcodes = [op for op in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    changed_old = [line for _, i1, i2, _, _ in opcodes for line in before[i1:i2]]
    changed_new = [line for _, _, _, j1, j2 in opcodes for line in after[j1:j2]]
    old_rows, new_rows = _reference_view_rows(changed_old, before), _reference_view_rows(changed_new, after)
    _reference_twins(old_rows, new_rows)
    _reference_lone(old_rows, new_rows, before, after)
    p = q = 0  # where the opcode's lines start among the changed lines
    for tag, i1, i2, j1, j2 in opcodes:
        partners = _reference_pairs(changed_old, changed_new, p, q, i2 - i1, j2 - j1, old_rows, new_rows)
        removed += [before[i1 + i] for i in range(i2 - i1) if i not in partners]
        added += [after[j1 + j] for j in range(j2 - j1) if j not in partners.values()]
        changed += [(before[i1 + i], after[j1 + j]) for i, j in sorted(partners.items())]
        p, q = p + i2 - i1, q + j2 - j1
    sentences = []
    if added:
        sentences.append(_reference_listed(added, unit, "appear"))
    if removed:
        sentences.append(_reference_listed(removed, unit, "disappear"))
    if changed:
        shown = "; ".join(map(_reference_change, changed[:3]))
        tail = f" and {len(changed) - 3} more." if len(changed) > 3 else "."
        sentences.append(f"{_reference_counted(len(changed), unit, 'change')}: {shown}{tail}")
    return sentences, changed_new


def _reference_window(line, other):
    """A line quoted alike with another: its head (or 32 characters), `…`, then from a word start up to 16
    characters before where the two differ, cut to fit 72 characters."""
    same = next((k for k, (x, y) in enumerate(zip(line, other)) if x != y), min(len(line), len(other)))
    head = _reference_head(line)
    head = head and line[:len(line) - len(line.lstrip())] + head  # its indentation, quoted as the line has it
    kept = min(len(head) if head and len(head) <= 32 else 32, same)
    start = max(same - 16, kept)
    start = next((k + 1 for k in range(start, same) if line[k].isspace()), start)
    room = 72 - kept - 1
    shown = line[start:] if len(line) - start <= room else line[start:start + room - 1] + "…"
    return repr(line[:kept] + ("…" if shown and start > kept else "") + shown)


def _reference_quoted_value(other, line):
    """A line (or header value) quoted whole, or as a window where it reads as the other (None: there is none)."""
    alike = other is not None and _reference_quote(other) == _reference_quote(line)
    return _reference_window(line, other) if alike else _reference_quote(line)


def _reference_change(pair):
    """'a' becomes 'b'; a line whose text, stripped, stays the same is told by its indentation (tabs: a depth) or
    else as changing only in its whitespace."""
    old, new = pair
    if old.strip() != new.strip():
        return f"{_reference_quoted_value(new, old)} becomes {_reference_quoted_value(old, new)}"
    before, after = len(old) - len(old.lstrip()), len(new) - len(new.lstrip())
    if before == after:
        return f"{_reference_quote(new)} changes only in its whitespace"
    measure = "depth" if set(old[:before] + new[:after]) <= {"\t"} else "indent"
    return f"{_reference_quote(new)} moves from {measure} {before} to {measure} {after}"


def _reference_take_header(text, header):
    """The values of a screen's header fields (None: absent) and the tree's lines after them: each field's line starts
    with its prefix (and a space, skipped), in order, each optional, and goes on over the lines that start with a
    space."""
    kept, values, i = text.splitlines(keepends=True), [], 0
    for prefix, *_ in header:
        if i == len(kept) or not kept[i].startswith(prefix):
            values.append(None)
            continue
        j = i + 1
        while j < len(kept) and kept[j].startswith(" "):
            j += 1
        value = ("".join(kept[i:j - 1]) + kept[j - 1].splitlines()[0])[len(prefix):]
        values.append(value[1:] if value.startswith(" ") else value)
        i = j
    return values, text.splitlines()[i:]


def _reference_header_sentences(header, old_values, new_values):
    clauses = [gone if new is None else nothing[1] if new in nothing[:1] else
               (appeared if old is None else changed) + _reference_quoted_value(old, new)
               for (_, changed, appeared, gone, *nothing), old, new in zip(header, old_values, new_values)
               if old != new]
    sentence = "; ".join(clauses)
    return [sentence[0].upper() + sentence[1:] + "."] if clauses else []


def _reference_line_diff(state, after_text, unit, header=None, describe=None):
    # A desktop's rows are told by elements.element_sentences (tests/transforms/test_grounded_datareview24b.py); the
    # generated episodes have none.
    assert describe is None
    old_values, before = _reference_take_header(state, header or ())
    new_values, after = _reference_take_header(after_text, header or ())
    if not state or state.isspace():
        return [f"There is no earlier observation; the environment shows {len(after)} {unit}"
                f"{'' if len(after) == 1 else 's'}."], "\n".join(after)
    sentences = _reference_header_sentences(header or (), old_values, new_values)
    if before == after:
        return sentences or ["The observation does not change."], ""
    diff, new_lines = _reference_diff_sentences(before, after, unit)
    return sentences + diff, "\n".join(new_lines)


_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z][\w]{0,7}):(\d+)")


def _reference_files_named(new_text):
    files = dict.fromkeys(re.findall(r"^\+\+\+ b/(\S+)", new_text, re.M))
    for line in new_text.split("\n"):
        for path, number in _FILE_LINE.findall(line):
            files.setdefault(f"{path}:{number}")
    return list(files)


_PIECES = ["[a1] button 'Save'", "[a1] button 'Save', focused", "[a1] link 'Help'", "URL: http://x/a", "Title: Home",
           "[7]\ttext\t\t0\t(1, 2)", "[7]\ttext\t\t7\t(1, 2)\tfocused", "3 passed in 0.1s", "4 passed in 0.2s",
           "src/app.py:12", "web/App.tsx:9", "conf.template:3", "a.templates:4", "lib/x.c:40:2", "./m.py:3", "/abs/p.py:7", "-x.py:1", "foo.py:", "foo:12", "v1.2:3",
           "+++ b/m.py", "--- a/m.py", "tests/test_m.py::test_a", "at 12:00:01", "é.py:3", "", "$", "ok", "    ",
           "FAILED tests/test_m.py:12 - assert 1 == 2", "x" * 90, "took 1.38s"]


def _generated_episode(rng: random.Random, steps: int) -> list[dict]:
    """A screen that scrolls and is edited step by step: shared, repeated (blank, prompt), new and file:line lines."""
    def fresh(count):
        return [" ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 3))) if rng.random() < 0.6
                else rng.choice(_PIECES) for _ in range(count)]
    screen, rows = fresh(rng.randint(0, 12)), []
    for step in range(steps):
        after = screen[rng.randint(0, 3):]
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(after))
            if rng.random() < 0.5:
                after[at:at] = fresh(rng.randint(1, 3))
            else:
                del after[at:at + rng.randint(1, 2)]
        after += fresh(rng.randint(0, 4))
        rows.append({"id": f"g:{step}", "domain": rng.choice(["terminal", "swe", "web", "mcp"]),
                     "state_text": "\n".join(screen), "next_text": "\n".join(after), "done": step == steps - 1,
                     "next_meta": {"exit_status": rng.choice([None, 0, 2])}})
        screen = after
    return rows


def test_grounded_trace_matches_the_reference_on_generated_episodes(monkeypatch):
    rng = random.Random(20261126)
    rows = [row for _ in range(20) for row in _generated_episode(rng, 15)]
    fast = [grounded_trace(row) for row in rows]
    monkeypatch.setattr(screens, "line_diff", _reference_line_diff)
    monkeypatch.setattr(grounded, "_files_named", _reference_files_named)
    reference = [grounded_trace(row) for row in rows]
    assert fast == reference
    # The episodes exercise what the fast paths skip or shortcut, so the equality above means something.
    assert any("change" in trace and "appear" in trace and "disappear" in trace for trace in fast)
    assert any("names" in trace and "src/app.py:12" in trace for trace in fast)
    assert any("conf.template:3" in trace for trace in fast)
    assert any("names" not in trace and "appear" in trace for trace in fast)


def _fresh(text: str) -> str:
    """An equal str that is another object."""
    return (text + ".")[:-1]


def test_a_state_shared_with_the_previous_next_observation_gives_the_same_traces():
    """The pipeline hands a step's state as the very str of the previous step's next observation; the traces must
    be those of unshared copies, in order or not."""
    rng = random.Random(5)
    rows = [row for _ in range(10) for row in _generated_episode(rng, 12)]
    for previous, row in zip(rows, rows[1:]):
        if row["id"] != "g:0":
            assert row["state_text"] == previous["next_text"]
            row["state_text"] = previous["next_text"]
    fresh = [{**row, "state_text": _fresh(row["state_text"]), "next_text": _fresh(row["next_text"])} for row in rows]
    expected = [grounded_trace(row) for row in fresh]
    assert len(set(expected)) > len(rows) // 2
    assert [grounded_trace(row) for row in rows] == expected
    assert [grounded_trace(row) for row in rows[::-1]] == expected[::-1]
    assert [grounded_trace(row) for row in rows] == expected  # nothing was changed in place


def _text(lines: list[str]) -> str:
    """A text whose splitlines() gives the lines back, empty ones included."""
    return "".join(line + "\n" for line in lines)


def _difflib_regions(a: list[str], b: list[str]) -> list[tuple[int, int, int, int]]:
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return [tuple(op[1:]) for op in opcodes if op[0] != "equal"]


def test_changed_regions_are_difflibs_on_random_sequences():
    """Small alphabets repeat lines a lot: ties between equally long blocks must go where difflib sends them."""
    rng = random.Random(7)
    for _ in range(3000):
        alphabet = rng.choice(["ab", "abcd", "abcdefghijklmnopqrstuvwxyz"])
        a = [rng.choice(alphabet) for _ in range(rng.randint(0, 16))]
        b = list(a) if rng.random() < 0.5 else [rng.choice(alphabet) for _ in range(rng.randint(0, 16))]
        for _ in range(rng.randint(0, 3)):
            at = rng.randint(0, len(b))
            b[at:at + rng.randint(0, 2)] = [rng.choice(alphabet) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.3:
            b = list(dict.fromkeys(b))  # unique lines, as screens mostly are
        assert changed_regions(_text(a), _text(b)) == _difflib_regions(a, b), (a, b)


def _scrolled_screen(rng: random.Random, screen: list[str]) -> list[str]:
    """The next screen of a terminal or UI tree: scrolled, its head or tail edited, a line moved or repeated."""
    fresh = [f"line {rng.randrange(10**6)}" for _ in range(rng.randint(0, 4))]
    after = screen[rng.randint(0, 4):]
    shape = rng.choice(["scroll", "tail", "head", "move", "repeat"])
    if shape == "tail":
        after[len(after) - rng.randint(0, 2):] = fresh
    elif shape == "head":
        after[:rng.randint(0, 2)] = fresh
    elif shape == "move" and len(after) > 2:
        after.insert(rng.randrange(len(after)), after.pop(rng.randrange(len(after))))
    elif shape == "repeat" and screen:
        after.append(rng.choice(screen))  # a repeated line breaks b's uniqueness or pairs off the diagonal
    else:
        after += fresh
    return after


def test_changed_regions_are_difflibs_on_scrolled_screens():
    """Scrolled screens, their head or tail edited, a line moved or repeated: the shapes of real observations."""
    rng = random.Random(11)
    for _ in range(300):
        screen = [f"line {rng.randrange(10**6)}" for _ in range(rng.randint(0, 12))]
        for _ in range(8):
            after = _scrolled_screen(rng, screen)
            assert changed_regions(_text(screen), _text(after)) == _difflib_regions(screen, after)
            screen = after


# ---- llm against a local OpenAI-compatible server ---------------------------------------------------------------

class FakeModelServer:
    """Answers POST /v1/chat/completions. Behaviour per request is chosen by the action named in the prompt:
    'ls dir500' fails with 500 the first `flaky` times, 'ls dir400' always gets 400, 'ls dir503' always 503."""

    def __init__(self, delay: float = 0.15, flaky: int = 2):
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay
        self.flaky = flaky
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/v1/models":
                    return self._send(404, {"error": {"message": "not found"}})
                if self.headers.get("Authorization") != "Bearer k":
                    return self._send(401, {"error": {"message": "invalid api key"}})
                self._send(200, {"object": "list", "data": [
                    {"id": "test-model", "object": "model", "created": 0, "owned_by": "test"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with server.lock:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    attempts = sum(1 for r in server.requests if r["messages"][-1]["content"] == prompt)
                time.sleep(server.delay)
                with server.lock:
                    server.in_flight -= 1
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if "ls dir400" in prompt:
                    return self._send(400, {"error": {"message": "prompt rejected", "type": "invalid_request"}})
                if "ls dir503" in prompt or ("ls dir500" in prompt and attempts <= server.flaky):
                    return self._send(503 if "dir503" in prompt else 500, {"error": {"message": "overloaded"}})
                action = prompt.split("Action:\n", 1)[1].split("\n", 1)[0]
                self._send(200, {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant",
                        "content": f"<think>The diff adds a line.</think>Running `{action}` lists one file."}}],
                    "usage": {"prompt_tokens": 90, "completion_tokens": 10, "total_tokens": 100}})

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model_server():
    with FakeModelServer() as server:
        yield server


def _llm(server, tmp_path, **options):
    return make_synthesizer("llm", model="test-model", base_url=server.base_url, api_key="k",
                            cache_path=tmp_path / "cache.sqlite", retry_wait=0.01, **options)


def test_llm_batches_concurrently_and_caches_by_prompt(model_server, tmp_path):
    rows = [_row(i) for i in range(8)]
    traces = _llm(model_server, tmp_path, batch_size=4).traces(rows)
    assert traces == [f"Running `ls dir{i}` lists one file." for i in range(8)]
    assert len(model_server.requests) == 8
    assert 1 < model_server.max_in_flight <= 4  # concurrent within a batch, never more than a batch
    assert model_server.requests[0]["model"] == "test-model" and model_server.requests[0]["temperature"] == 0.0
    assert "Facts from the difference:\n2 lines appear" in model_server.requests[0]["messages"][1]["content"]

    # A new synthesizer (a new run, new budget) over the same rows and cache file makes no call at all.
    again = _llm(model_server, tmp_path, batch_size=4, max_calls=0).traces(rows)
    assert again == traces and len(model_server.requests) == 8


def test_llm_prompt_parts_are_clipped_including_the_grounded_facts(tmp_path):
    # A file path of 50,000 characters is named in full by the grounded facts; the prompt clips it like the rest.
    long_path = "d/" + "x" * 50000 + ".py"
    row = _row(7, next_text=f"$ pytest\nFAILED {long_path}:3 - assert\n$", instruction="y" * 50000)
    synthesizer = make_synthesizer("llm", model="m", base_url="http://127.0.0.1:9/v1", cache_path=tmp_path / "c")
    assert long_path in grounded_trace(row)
    prompt = synthesizer.request(row)["messages"][1]["content"]
    facts = prompt.split("Facts from the difference:\n", 1)[1]
    assert facts.startswith("2 lines appear") and facts.endswith("\n[...]") and len(facts) == 6000 + len("\n[...]")
    assert len(prompt) < 5 * 6100


def test_llm_check_asks_the_endpoint_for_its_models(model_server, tmp_path):
    assert _llm(model_server, tmp_path).check() is None
    assert "does not list model 'other'" in make_synthesizer(
        "llm", model="other", base_url=model_server.base_url, api_key="k", cache_path=tmp_path / "c").check()
    with pytest.raises(LLMEndpointError, match="answered 401.*invalid api key"):
        make_synthesizer("llm", model="test-model", base_url=model_server.base_url, api_key="wrong",
                         cache_path=tmp_path / "c").check()
    with pytest.raises(LLMEndpointError, match="cannot reach http://127.0.0.1:9/v1"):
        make_synthesizer("llm", model="m", base_url="http://127.0.0.1:9/v1", cache_path=tmp_path / "c",
                         timeout=2).check()
    assert not model_server.requests  # the check makes no chat call


def test_llm_retries_after_server_errors(model_server, tmp_path):
    traces = _llm(model_server, tmp_path, retries=3).traces([_row(500)])
    assert traces == ["Running `ls dir500` lists one file."]
    assert len(model_server.requests) == 3  # two 500s, then success


def test_llm_failures_come_back_as_exception_items(model_server, tmp_path):
    traces = _llm(model_server, tmp_path, retries=2).traces([_row(1), _row(400), _row(503)])
    assert traces[0] == "Running `ls dir1` lists one file."
    assert isinstance(traces[1], ReasoningError) and "ep:400" in str(traces[1]) and "400" in str(traces[1])
    assert isinstance(traces[2], ReasoningError) and "ep:503" in str(traces[2])
    prompts = [r["messages"][-1]["content"] for r in model_server.requests]
    assert sum("ls dir400" in p for p in prompts) == 1  # a 400 is not retried
    assert sum("ls dir503" in p for p in prompts) == 3  # first try + 2 retries
    # Failures are not cached: a later run asks again.
    _llm(model_server, tmp_path, retries=0).traces([_row(400)])
    assert sum("ls dir400" in r["messages"][-1]["content"] for r in model_server.requests) == 2


def test_llm_unreachable_endpoint_gives_exception_items(tmp_path):
    synthesizer = make_synthesizer("llm", model="m", base_url="http://127.0.0.1:9/v1", cache_path=tmp_path / "c",
                                   retries=1, retry_wait=0.01, timeout=2)
    [item] = synthesizer.traces([_row(1)])
    assert isinstance(item, ReasoningError) and "APIConnectionError" in str(item)


def test_llm_call_budget(model_server, tmp_path):
    traces = _llm(model_server, tmp_path, batch_size=1, max_calls=3).traces([_row(i) for i in range(5)])
    assert [isinstance(t, str) for t in traces] == [True, True, True, False, False]
    assert "call budget of 3 spent" in str(traces[3])
    assert len(model_server.requests) == 3


def test_llm_token_budget_is_shared_by_pickled_copies(model_server, tmp_path):
    import pickle

    synthesizer = _llm(model_server, tmp_path, batch_size=1, max_tokens_budget=150)
    first = synthesizer.traces([_row(1)])
    # A worker's copy of the same synthesizer spends from the same budget: 100 used, one more call allowed.
    copy = pickle.loads(pickle.dumps(synthesizer))
    second = copy.traces([_row(2), _row(3)])
    assert isinstance(first[0], str) and isinstance(second[0], str)
    assert isinstance(second[1], ReasoningError) and "token budget of 150 spent (200 used)" in str(second[1])
    assert len(model_server.requests) == 2
