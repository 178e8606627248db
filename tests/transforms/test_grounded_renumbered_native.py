"""The compiled renumbered-line pass of the grounded trace (transforms/reasoning/_linediff.c `renumbered`) against the
plain-Python function it replaced (reference_renumbered, kept here as the oracle): the same state (the same str object
when nothing is renumbered) and the same shifts in the same order, on every web and desktop row of a real run, on the
curate benchmark's scrolling screens, and on random screens with the edges of the id rule."""

from __future__ import annotations

import json
import lzma
import random
import re
from pathlib import Path

import pytest

from benchmarks.bench_curate import _episode_rows
from transforms.reasoning._linediff import changed_regions, renumbered
from transforms.reasoning.grounded import grounded_trace

# An element line's id after its indentation: web's `[12] link 'x'`, the desktop's `[31]\ttext\t…`, android's
# `[ 5] | …`.
_ELEMENT_ID = re.compile(r"^([ \t]*)\[ *(\d+)\](?=[ \t]|$)")
_ELEMENT_IDS = re.compile(r"\[ *\d+\]")
# The web and desktop rows (state_text, next_text) of run 20261128T065336-ab8d47, the session-23 collection.
_REAL = Path(__file__).parent / "data" / "numbered_screens_s23.json.xz"


def reference_renumbered(state: str, after_text: str) -> tuple[str, list[int]]:
    """grounded.py's _renumbered as it was in Python, with session 24's span (R3): the state with each line that the
    next observation shows again under another id (equal apart from its id, within the span from the first region
    the diff changed to the last) given that id, and each such line's id shift, in order."""
    shifts: list[int] = []
    regions = changed_regions(state, after_text)
    if not any(i1 < i2 for i1, i2, _, _ in regions) or not any(j1 < j2 for _, _, j1, j2 in regions):
        return state, shifts  # lines only appear or only disappear: nothing to pair
    # One span, not each region alone: a row removed above its successor gives the successor's lines its ids, and
    # the lines that kept both their text and id split the rest into regions that alone pair nothing.
    regions = [(regions[0][0], regions[-1][1], regions[0][2], regions[-1][3])]
    old, new = state.splitlines(), after_text.splitlines()
    for i1, i2, j1, j2 in regions:
        # The region's lines without their ids, diffed: an equal run pairs lines equal apart from the id. A newline
        # after each line, so a last blank line stays a line.
        old_part, new_part = "\n".join(old[i1:i2]) + "\n", "\n".join(new[j1:j2]) + "\n"
        bare_old, bare_new = _ELEMENT_IDS.sub("[]", old_part), _ELEMENT_IDS.sub("[]", new_part)
        if bare_old == old_part or bare_new == new_part:
            continue  # no ids on one side
        i = j = 0
        for k1, k2, l1, l2 in [*changed_regions(bare_old, bare_new), (i2 - i1, i2 - i1, j2 - j1, j2 - j1)]:
            for n in range(k1 - i):
                was, now = old[i1 + i + n], new[j1 + j + n]
                if was != now:  # equal but for an id, or for a "[12]" within the line: only the first is told
                    was_id, now_id = _ELEMENT_ID.match(was), _ELEMENT_ID.match(now)
                    if was_id and now_id and was_id[1] == now_id[1] and was[was_id.end():] == now[now_id.end():]:
                        shifts.append(int(now_id.group(2)) - int(was_id.group(2)))
                        old[i1 + i + n] = now
            i, j = k2, l2
    return ("\n".join(old) if shifts else state), shifts


def _check(state: str, next_text: str) -> bool:
    """Asserts the C pass is the reference; whether it renumbered anything."""
    expected, got = reference_renumbered(state, next_text), renumbered(state, next_text)
    assert got == expected, (state, next_text)
    assert type(got[0]) is str and all(type(shift) is int for shift in got[1])
    if not expected[1]:
        assert got[0] is state  # grounded_trace hands it on to line_diff: no copy
    return bool(expected[1])


def test_every_web_and_desktop_row_of_a_real_run_is_renumbered_as_the_reference_renumbers_it():
    rows = json.loads(lzma.decompress(_REAL.read_bytes()))
    assert len(rows) == 335
    changed = sum(_check(row["state_text"] or "", row["next_text"] or "") for row in rows
                  if (row["state_text"] or "").strip())
    # The rows where ids moved: menus opened, pages scrolled; 4 of them (a cart row removed, a longer table above a
    # footer) pair only across regions (R3), 58 before.
    assert changed == 62


def test_the_curate_benchmarks_scrolling_screens_are_renumbered_as_the_reference_renumbers_them():
    changed = 0
    for seed in range(40):
        for domain in ("web", "os", "android"):
            for row in _episode_rows(domain, f"e{seed}", seed, seed + 1000, edit=seed % 3 == 0):
                changed += _check(row["state"]["raw"].decode(), row["next_observation"]["raw"].decode())
    assert changed > 2000


# Element lines of each renderer, ids as {} (formatted by _element), and lines that only look like them.
_ELEMENTS = ["[{}] link 'Home'", "[{}] button 'Save', focused", "  [{}] StaticText 'Total: 3'", "\t[{}]\ttext\tOK\t",
             "[{}]\tpush button\tCancel\t\t(10, 20)", "[{}] | TextView 'Wi‑Fi' [clickable]", "[{}]", "[{}] ",
             "[{}]x no blank after", "[{}] link '[3] foo'", "[{}] link '[ 12] bar [7]'", "    [{}] heading 'é€😀'",
             "[{}] item '٣ ٤'", "[{}] [{}] twice"]
_PLAIN = ["", " ", "\t", "URL: http://127.0.0.1:8000/a", "Title: Shop", "Tabs: [0] Shop (active)", "[] empty",
          "[ ] blank id", "[x] letter", "[-3] negative", "[3", "3]", "link '[3]'", "é", "😀 wide", "[１２] fullwidth"]
_SEPARATORS = ["\n", "\n", "\n", "\r\n", "\r", "\u2028", "\x85"]


def _id(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return str(rng.randint(10 ** 29, 10 ** 30))  # more than a 64-bit integer holds
    if roll < 0.1:
        return "".join(rng.choice("٠١٢٣٤٥٦٧٨٩０１２３") for _ in range(rng.randint(1, 3)))  # re's \d and int() read them
    number = rng.randint(0, 120)
    return f"{number:2d}" if rng.random() < 0.3 else str(number)  # android pads to two places: "[ 5]"


def _element(template: str, rng: random.Random) -> str:
    return template.format(*(_id(rng) for _ in range(template.count("{}"))))


_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _renumber(line: str, shift: int) -> str:
    """The line under its id plus shift, padded as it was."""
    found = _ELEMENT_ID.match(line)
    if not found:
        return line
    number = str(max(0, int(found[2]) + shift)).rjust(len(found[0]) - len(found[1]) - 2)
    if not found[2].isascii():
        number = number.translate(_ARABIC_INDIC)
    return f"{found[1]}[{number}]{line[found.end():]}"


def _screen(rng: random.Random) -> list[str]:
    return [_element(rng.choice(_ELEMENTS), rng) if rng.random() < 0.75 else rng.choice(_PLAIN)
            for _ in range(rng.randint(0, 25))]


def _next_screen(rng: random.Random, lines: list[str]) -> list[str]:
    """A scroll, a menu opened or closed (every later element renumbered), an element changed, or a new screen."""
    lines = list(lines)
    roll = rng.random()
    if roll < 0.1:
        return _screen(rng)
    if roll < 0.35 and lines:  # scrolled: the top goes, lines come at the bottom, ids move by what went
        went = rng.randint(1, min(4, len(lines)))
        return [_renumber(line, -went) for line in lines[went:]] + _screen(rng)[:4]
    at = rng.randint(0, len(lines))
    if roll < 0.7:
        added = [_element(rng.choice(_ELEMENTS), rng) for _ in range(rng.randint(1, 5))]
        lines[at:at] = added
        lines[at + len(added):] = [_renumber(line, len(added)) for line in lines[at + len(added):]]
    elif roll < 0.9 and lines:
        gone = rng.randint(1, 4)
        del lines[at:at + gone]
        lines[at:] = [_renumber(line, -gone) for line in lines[at:]]
    for _ in range(rng.randint(0, 2)):
        if lines:
            spot = rng.randrange(len(lines))
            lines[spot] = rng.choice([lines[spot] + " changed", _renumber(lines[spot], rng.randint(-3, 3)),
                                      " " + lines[spot]])
    return lines


def _joined(rng: random.Random, lines: list[str]) -> str:
    text = "".join(line + rng.choice(_SEPARATORS) for line in lines)
    return text[:-1] if text and rng.random() < 0.5 and not text.endswith("\r\n") else text


def test_random_screens_with_every_edge_of_the_id_rule_are_renumbered_as_the_reference_renumbers_them():
    rng = random.Random(23)
    changed = 0
    for _ in range(6000):
        before = _screen(rng)
        changed += _check(_joined(rng, before), _joined(rng, _next_screen(rng, before)))
    assert changed > 3500


def test_a_changed_line_kept_as_it_is_pairs_the_rest_and_the_text_keeps_no_line_break_of_its_own():
    state = "URL: /a\r\n[1] link 'A'\r\n[2] link 'B'\r\n\r\n"
    after = "URL: /a\n[1] menu\n[2] link 'A'\n[3] link 'B'\n\n"
    assert renumbered(state, after) == ("URL: /a\n[2] link 'A'\n[3] link 'B'\n", [1, 1])
    assert renumbered(state, after) == reference_renumbered(state, after)


def test_an_id_too_long_for_int_fails_as_int_fails():
    state, after = "[1] a\n[" + "1" * 5000 + "] b", "[0] x\n[2] a\n[" + "2" * 5000 + "] b"
    with pytest.raises(ValueError) as expected:
        reference_renumbered(state, after)
    with pytest.raises(ValueError) as got:
        renumbered(state, after)
    assert str(got.value) == str(expected.value)


def test_arguments_that_are_not_two_strs_are_refused():
    for args in [("a",), ("a", "b", "c"), (b"a", "b"), ("a", None)]:
        with pytest.raises(TypeError, match="renumbered"):
            renumbered(*args)


def test_the_trace_tells_the_renumbered_elements_from_the_compiled_pass():
    state = "URL: /a\n[1] button 'Menu'\n[2] link 'Home'\n[3] link 'Cart'"
    after = "URL: /a\n[1] button 'Menu', expanded\n[2] menuitem 'Settings'\n[3] link 'Home'\n[4] link 'Cart'"
    trace = grounded_trace({"domain": "web", "state_text": state, "next_text": after})
    assert "2 elements are renumbered (ids +1)." in trace
