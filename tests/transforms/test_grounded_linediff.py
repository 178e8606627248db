"""The compiled line diff of the grounded trace (transforms/reasoning/_linediff.c) on the edges of its input: every
str.splitlines() separator, strs of different widths, empty and blank texts, very long lines, repeated lines, bad
arguments. Its regions are checked against difflib on str.splitlines(), its sentences against the reference in
tests/formats/test_reasoning.py."""

import random
import tracemalloc

import pytest

from tests.formats.test_reasoning import _difflib_regions, _reference_line_diff
from transforms.reasoning import make_synthesizer
from transforms.reasoning._linediff import changed_regions, line_diff, quote

# Every separator str.splitlines() knows; "\r\n" is one.
_SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
# Latin-1, two-byte and four-byte characters, whitespace str.strip() removes, and lines that only look alike.
_LINES = ["", " ", "\t", "a", "a ", " a", "é", "€", "😀", "a😀", "x" * 80, "é" * 80, "\u3000b\u3000", "$ ls", "},"]
# Lines with a head (an element's "[id] role name", a "Label:") or almost one, for which lines pair as changes.
_HEADED = ["[1] button 'Save'", "[1] button 'Save', focused", "[1] button 'Sav", "[1] link 'Save'", "  [1] button",
           "[1]", "[1]x", "[]", "[ 1] a", "[😀] b 'é'", "[é]\tcell\t\t7\t(1, 2)", "[é]\tcell\t\t8", "[12345678901234567] a",
           "[1234567890123456] a", "URL: /a", "URL: /b", "URL:", "URL:x", "Ü: a", "focused element: none",
           "a" * 24 + ": x", "a" * 25 + ": x", "Count: 3", "Count: 4", "3 passed", "4 passed", "$ ls -l",
           "StaticText 'Status'", "StaticText 'Title'", "StaticText 'Tit'", "Root 'Home - Shop', focused",
           "Root 'Cart - Shop', focused", "ab cd", "ab ce", "é cd"]


def _random_text(rng: random.Random, lines: list[str]) -> str:
    parts = []
    for _ in range(rng.randint(0, 12)):
        parts += [rng.choice(lines), rng.choice(_SEPARATORS)]
    if parts and rng.random() < 0.5:
        parts.pop()  # no break after the last line
    return "".join(parts)


def _check(state: str, next_text: str, unit: str = "line") -> None:
    assert changed_regions(state, next_text) == _difflib_regions(state.splitlines(), next_text.splitlines())
    assert line_diff(state, next_text, unit) == _reference_line_diff(state, next_text, unit)


def test_random_texts_with_every_separator_and_width_match_difflib_and_the_reference():
    rng = random.Random(3)
    for _ in range(3000):
        state = _random_text(rng, _LINES)
        next_text = _random_text(rng, _LINES) if rng.random() < 0.3 else state + _random_text(rng, _LINES)
        _check(state, next_text, rng.choice(["line", "element"]))


def test_random_headed_lines_pair_as_the_reference_pairs_them():
    rng = random.Random(7)
    for _ in range(3000):
        state = _random_text(rng, _HEADED + _LINES[:6])
        next_text = _random_text(rng, _HEADED + _LINES[:6])
        _check(state, next_text, rng.choice(["line", "element"]))


def test_a_replace_pairs_only_lines_that_are_one_line_changed():
    """D8b: a page load replaced the old page's lines with the new one's and the trace paired them in order ("[10]
    form ''" becomes "StaticText 'The application…'"). Only the URL/Title/Tabs fields, an element with the same id,
    role and name, or similar unlabelled lines are one line changed; the rest disappear and appear."""
    before = ("URL: http://h/status\nTitle: Application status\n[1] banner ''\n[9] heading 'Application status', "
              "level=1\n[10] form ''\n[11] LabelText ''\n[12] textbox 'Reference', value='A-1', focused\nCount: 3\n"
              "Total 3 items")
    after = ("URL: http://h/\nTitle: Home\n[1] banner ''\n[9] heading 'Apply for a permit', level=1\n"
             "StaticText 'The application has three steps.'\n[11] list ''\n[12] textbox 'Reference', value='A-12'\n"
             "Count: 4\nTotal 4 items")
    sentences, _ = line_diff(before, after, "element")
    assert sentences == [
        "3 elements appear: \"[9] heading 'Apply for a permit', level=1\", \"StaticText 'The application has three "
        "steps.'\", \"[11] list ''\".",
        "3 elements disappear: \"[9] heading 'Application status', level=1\", \"[10] form ''\", "
        "\"[11] LabelText ''\".",
        "5 elements change: 'URL: http://h/status' becomes 'URL: http://h/'; 'Title: Application status' becomes "
        "'Title: Home'; \"[12] textbox 'Reference', value='A-1', focused\" becomes \"[12] textbox 'Reference', "
        "value='A-12'\" and 2 more."]
    # A screen row that gets the command typed, a calculator's display (os: tab-separated, the name field empty).
    assert line_diff("root@box:/w#", "root@box:/w# git status\nclean", "line")[0] == [
        "1 line appears: 'clean'.", "1 line changes: 'root@box:/w#' becomes 'root@box:/w# git status'."]
    assert line_diff("[31]\ttext\t\t0\t(4, 2)\tfocused", "[31]\ttext\t\t7\t(4, 2)", "element")[0] == [
        "1 element changes: '[31]\\ttext\\t\\t0\\t(4, 2)\\tfocused' becomes '[31]\\ttext\\t\\t7\\t(4, 2)'."]
    # Two buttons that took each other's place: same id and role, other names.
    assert line_diff("[46]\ttoggle-button\t1\t(4, 2)", "[46]\ttoggle-button\t%\t(4, 2)", "element")[0] == [
        "1 element appears: '[46]\\ttoggle-button\\t%\\t(4, 2)'.",
        "1 element disappears: '[46]\\ttoggle-button\\t1\\t(4, 2)'."]
    # Unlabelled lines: the role they start with does not make them similar, the rest does.
    assert line_diff("StaticText 'Status'\nRootWebArea 'Home - Shop', focused",
                     "StaticText 'Title'\nRootWebArea 'Cart - Shop', focused", "element")[0] == [
        "1 element appears: \"StaticText 'Title'\".", "1 element disappears: \"StaticText 'Status'\".",
        "1 element changes: \"RootWebArea 'Home - Shop', focused\" becomes \"RootWebArea 'Cart - Shop', focused\"."]
    # A terminal whose screen was replaced by a pager's: unrelated rows are not changes.
    assert line_diff("$ less r.txt\nline 1 of the report", "line 250 has the ANSWER\n:", "line")[0] == [
        "2 lines appear: 'line 250 has the ANSWER', ':'.", "2 lines disappear: '$ less r.txt', 'line 1 of the report'."]


def test_first_observation_gives_the_lines_as_splitlines_cuts_them():
    rng = random.Random(4)
    for _ in range(500):
        text = _random_text(rng, _LINES)
        for blank_state in ("", " ", "\n\n", "\u3000\t\x85"):
            sentences, new_text = line_diff(blank_state, text, "line")
            count = len(text.splitlines())
            assert sentences == [f"There is no earlier observation; the environment shows {count} line"
                                 f"{'' if count == 1 else 's'}."]
            assert new_text == "\n".join(text.splitlines())


def test_empty_texts():
    assert line_diff("", "", "line") == (["There is no earlier observation; the environment shows 0 lines."], "")
    assert line_diff("a", "", "line") == (["1 line disappears: 'a'."], "")
    assert line_diff("a\n", "a", "line") == (["The observation does not change."], "")
    assert changed_regions("", "") == [] and changed_regions("a", "") == [(0, 1, 0, 0)]


def test_equal_lines_of_strs_of_different_widths_are_equal():
    # "\u2028" makes the next text a two-byte str, "😀" a four-byte one; the lines themselves are one-byte.
    assert line_diff("é\nx", "é\u2028x", "line") == (["The observation does not change."], "")
    assert changed_regions("é\nx\n", "é\nx\n😀\n") == [(2, 2, 2, 3)]
    assert line_diff("é\nx", "é\nx\n😀 €", "element") == (["1 element appears: '😀 €'."], "😀 €")
    assert changed_regions("€\n😀\n", "😀\n€\n") == _difflib_regions(["€", "😀"], ["😀", "€"])


def test_very_long_lines_compare_whole_and_quote_cut():
    long_line = "é" * 5000 + "😀" * 5000
    almost = long_line[:-1] + "x"
    _check(f"{long_line}\nend", f"{long_line}\n{almost}\nend")
    sentences, new_text = line_diff("$", f"$\n  {long_line}  ", "line")
    assert sentences == [f"1 line appears: {repr('  ' + 'é' * 69 + '…')}."] and new_text == f"  {long_line}  "
    # Whitespace around a line is quoted as the line has it: stage 3 scores it exactly.
    assert quote(" \u3000" + "😀" * 70) == repr(" \u3000" + "😀" * 70)
    assert quote(" \u3000" + "😀" * 72 + "\t") == repr(" \u3000" + "😀" * 69 + "…")
    assert quote("😀" * 73) == repr("😀" * 71 + "…")


def test_repeated_lines_match_difflib():
    """Pretty-printed JSON and blank-heavy screens: most lines repeat, so equally long blocks tie everywhere."""
    rng = random.Random(5)
    pieces = ["{", "},", "}", "", '  "a": 1,', '  "b": [', "  ],", "  "]
    for _ in range(300):
        state = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        lines = state.split("\n")
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(lines))
            lines[at:at + rng.randint(0, 3)] = [rng.choice(pieces) for _ in range(rng.randint(0, 3))]
        _check(state, "\n".join(lines), "line")
    blank_screen = "\n" * 2000
    _check("x" + blank_screen, blank_screen + "y")


def test_bad_arguments_raise_and_the_synthesizer_reports_them():
    with pytest.raises(TypeError, match="argument 1 must be str, not bytes"):
        line_diff(b"a", "b", "line")
    with pytest.raises(TypeError, match="takes 3 arguments"):
        line_diff("a", "b")
    with pytest.raises(TypeError):
        quote(None)
    [item] = make_synthesizer().traces([{"id": "e:1", "state_text": "a", "next_text": 5}])
    assert "e:1" in str(item) and "argument 2 must be str, not int" in str(item)


def test_repeated_calls_hold_no_memory():
    state = "\n".join(f"line {i}" for i in range(200))
    next_text = "\n".join(f"line {i}" for i in range(3, 200)) + "\nnew é\n😀"
    for _ in range(100):
        line_diff(state, next_text, "line")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            line_diff(state, next_text, "line")
            changed_regions(state, next_text)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 10_000  # a leak of one line list or span array per call would be megabytes


def _reference_quote(text: str) -> str:
    return repr(text if len(text) <= 72 else text[:71] + "…")


def test_quotes_are_reprs_whatever_the_characters():
    """Quotes, backslashes, controls, non-printable and unassigned code points, lone surrogates, wide characters:
    each escaped (or not) as repr() does, around the cut at 72 characters."""
    rng = random.Random(6)
    alphabet = ["a", " ", "'", '"', "\\", "\t", "\r", "\x00", "\x1b", "\x7f", "\x80", "\xa0", "\xad", "é", "ÿ",
                "\u0378", "\u200b", "\u2028", "\u3000", "€", "\ud800", "\udfff", "\ufffe", "😀", "\U000e0001",
                "\U0010ffff", "\U0001f9ff"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 3, 70, 71, 72, 73, 90])))
        assert quote(text) == _reference_quote(text), text
    assert quote("it's") == "\"it's\"" and quote("it's \"x\"") == "'it\\'s \"x\"'"
