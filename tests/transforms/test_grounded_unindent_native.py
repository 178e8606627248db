"""The compiled R2 pass of the grounded trace (transforms/reasoning/_linediff.c `unindented`: a web quote without the
tree's indentation) against the regex it replaced (reference_unindented, kept here as the oracle): the same sentences
on every web row of a real run, and on random sentences with each edge of the rule (the quote mark's neighbour, the
three lookaheads, Unicode digits and letters, 1-, 2- and 4-byte strings)."""

from __future__ import annotations

import json
import lzma
import random
import re
from pathlib import Path

import pytest

from transforms.reasoning._linediff import line_diff, renumbered, unindented
from transforms.reasoning.headers import HEADERS

_QUOTED_INDENT = re.compile(r"""(['"])(?:\\t)+(?=\[\d|[A-Z][A-Za-z]+\b|[a-z]+ ["'])""")
# The web and desktop rows (state_text, next_text) of run 20261128T065336-ab8d47, the session-23 collection.
_REAL = Path(__file__).parent / "data" / "numbered_screens_s23.json.xz"


def _unindented_match(match: re.Match) -> str:
    """The quote mark alone where it opens a quote (not inside a word or after a backslash: a quote mark of the
    element's own text), else the match as it is."""
    before = match.string[match.start() - 1] if match.start() else " "
    return match.group(1) if not (before.isalnum() or before in "_\\") else match.group(0)


def reference_unindented(sentences: list[str]) -> list[str]:
    """screens.py's R2 pass as it was in Python (session 24, h197)."""
    return [_QUOTED_INDENT.sub(_unindented_match, sentence) if "\\t" in sentence else sentence
            for sentence in sentences]


def test_every_web_row_of_a_real_run_is_unindented_as_the_reference_unindents_it():
    rows = [row for row in json.loads(lzma.decompress(_REAL.read_bytes())) if row["domain"] == "web"]
    changed = 0
    for row in rows:
        state, next_text = row["state_text"] or "", row["next_text"] or ""
        numbered = renumbered(state, next_text)[0] if state.strip() else state
        sentences = line_diff(numbered, next_text, "element", HEADERS["web"])[0]
        expected, got = reference_unindented(sentences), unindented(sentences)
        assert got == expected, sentences
        changed += got != sentences
        # A sentence with nothing to remove is handed back as it is, not copied.
        assert all(after is before for before, after in zip(sentences, got) if after == before)
    # Most web rows quote an element line of the tree, so the equality above covers the stripping, not only its absence.
    assert len(rows) > 250 and changed > len(rows) // 2


# Pieces a random sentence is made of: quote marks, escaped and real tabs, the starts the lookaheads accept and
# their near misses (an id with a Unicode digit, '²' which is a digit but not decimal, a role run on into a digit,
# an underscore or a non-ASCII letter, a lower-case role without its name's quote), neighbours of a quote mark that
# make it part of a word, and characters of each string width.
_PIECES = ["'", '"', "\\t", "\\t\\t", "\\t\\t\\t", "\t", "\\", "\\n", " ", "[", "[12]", "[٣]", "[²]", "[a]", "[",
           "StaticText", "Heading1", "Link_", "Buttoné", "A", "AB", "link", "alert \"", "alert '", "alert x", "alert",
           "a", "z ", "x", "_", "9", "é", "€", "😀", ", ", ": ", "(", ")", "link 'Apply'", "…"]


def _sentence(rng: random.Random) -> str:
    """Pieces, and about half the time a quote mark's neighbour, the mark and escaped tabs before one of them."""
    parts = []
    for _ in range(rng.randint(0, 8)):
        if rng.random() < 0.5:
            parts.append(rng.choice([" ", "(", "a", "_", "\\", "é", ""]) + rng.choice("'\"") +
                         "\\t" * rng.randint(0, 3))
        parts.append(rng.choice(_PIECES))
    return "".join(parts)


def test_random_sentences_with_every_edge_of_the_rule_are_unindented_as_the_reference_unindents_them():
    rng = random.Random(198)
    stripped = kept = 0
    for _ in range(20000):
        sentences = [_sentence(rng) for _ in range(rng.randint(0, 3))]
        expected = reference_unindented(sentences)
        assert unindented(sentences) == expected, sentences
        for before, after in zip(sentences, expected):
            stripped += after != before
            kept += after == before and "\\t" in before
    # Both outcomes are common, so neither side of the rule goes untested.
    assert stripped > 1000 and kept > 1000


def test_the_rule_at_its_edges():
    cases = {
        "'\\t\\t[30] link'": "'[30] link'",  # at the start of the sentence: no character before it
        "x '\\tStaticText 'a''": "x 'StaticText 'a''",
        "x \"\\talert 'Please'\"": "x \"alert 'Please'\"",
        "x '\\tHeading1'": "x '\\tHeading1'",  # the role runs on into a digit: no word boundary
        "x '\\tRole_'": "x '\\tRole_'",
        "x '\\tRoleé'": "x '\\tRoleé'",
        "x '\\tRole…'": "x 'Role…'",
        "x '\\t[٣] link'": "x '[٣] link'",  # a Unicode decimal digit is \d
        "x '\\t[²] link'": "x '\\t[²] link'",  # a digit, but not decimal
        "a'\\t[3]": "a'\\t[3]",  # the quote mark is inside a word
        "\\'\\t[3]": "\\'\\t[3]",  # or escaped
        "_'\\t[3]": "_'\\t[3]",
        "é'\\t[3]": "é'\\t[3]",
        "x '\\tlink x'": "x '\\tlink x'",  # a lower-case role without its name's quote
        "a'\\t[3] '\\t[4]": "a'\\t[3] '[4]",  # a refused match ends where it ends; the next quote mark opens a quote
        "x '\\t\\t'\\t[3]": "x '\\t\\t'\\t[3]",  # tabs then a quote mark after a letter: no match either
    }
    for sentence, expected in cases.items():
        assert reference_unindented([sentence]) == [expected], sentence
        assert unindented([sentence]) == [expected], sentence


def test_arguments_that_are_not_a_list_of_str_are_refused():
    with pytest.raises(TypeError, match="list of str"):
        unindented(("'\\t[3]",))
    with pytest.raises(TypeError, match="list of str, not of int"):
        unindented(["'\\t[3]", 3])
