"""The files a grounded trace says new output names (transforms/reasoning/grounded.py _files_named), which scans only
the lines holding a file:line hint and finds `+++ b/` headers without a multi-line regex, against
tests/formats/test_reasoning.py's reference, which runs the regexes over every line: on random outputs with what each
shortcut skips (pytest's rows of dots, several names on a line, a header inside a line, other line breaks)."""

from __future__ import annotations

import random

from tests.formats.test_reasoning import _reference_files_named
from transforms.reasoning.grounded import _files_named

_PIECES = ["src/app.py:12", "lib/x.c:40:2", "./m.py:3", "/abs/p.py:7", "-x.py:1", "foo.py:", "foo:12", "v1.2:3",
           "é.py:3", "a.templates:4", "x.abcdefghij:2", "+++ b/m.py", "+++ b/", "+++ b/ x", "--- a/m.py",
           "+++ b/d/é.py\t",
           "." * 72 + " [ 36%]", "....F...s..", "tests/test_m.py::test_a", "FAILED tests/test_m.py:12 - assert 1 == 2",
           " ", ":", "12", "\r", "\u2028", "\t", "x", "é", "😀"]


def _output(rng: random.Random) -> str:
    lines = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(0, 8))]
    return "\n".join(lines) + rng.choice(["", "\n"])


def test_random_outputs_name_the_files_the_reference_finds():
    rng = random.Random(198)
    named = 0
    for _ in range(20000):
        text = _output(rng)
        expected = _reference_files_named(text)
        assert _files_named(text) == expected, text
        named += bool(expected)
    assert named > 10000


def test_a_pytest_run_names_its_failures_past_its_rows_of_dots():
    text = ("." * 72 + " [ 36%]\n") * 40 + "=== FAILURES ===\ninflection.py:123: AssertionError\n+++ b/inflection.py\n"
    assert _files_named(text) == ["inflection.py", "inflection.py:123"] == _reference_files_named(text)
