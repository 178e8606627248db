from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas import Observation
from schemas.render import RenderError, renderer
from transforms.normalize import NormalizeError, normalize_observation


def test_renders_from_raw_not_from_text():
    obs = Observation(text="stale text", raw=b"\x1b[32mok\x1b[0m\n$ \n\n", raw_format="tmux-ansi",
                      meta={"cols": 20, "rows": 5}).to_row()
    assert normalize_observation(obs) == "ok\n$"


def test_falls_back_to_text_when_raw_is_empty():
    assert normalize_observation(Observation(text="only text", raw=b"", raw_format="json").to_row()) == "only text"
    assert normalize_observation({"text": None, "raw": None, "raw_format": "json", "meta_json": None}) == ""


def test_raw_read_back_as_str_is_accepted():
    assert normalize_observation({"text": "", "raw": '{"b":2,"a":1}', "raw_format": "json",
                                  "meta_json": "{}"}) == '{\n  "a": 1,\n  "b": 2\n}'


@pytest.mark.parametrize("row, fragment", [
    ({"raw": b"{", "raw_format": "json", "meta_json": "{}"}, "'json' observation: RenderError: invalid JSON"),
    ({"raw": b"x", "raw_format": "no-such-format", "meta_json": "{}"}, "no renderer for raw_format"),
    ({"raw": b"x", "raw_format": "text", "meta_json": "{oops"}, "'text' observation: JSONDecodeError"),
    ({"raw": b"x", "raw_format": "text", "meta_json": "[1]"}, "meta_json is a list"),
])
def test_failures_name_the_format_and_the_reason(row, fragment):
    with pytest.raises(NormalizeError) as caught:
        normalize_observation(row)
    assert fragment in str(caught.value)
    assert caught.value.raw_format == row["raw_format"]


def test_a_bad_meta_fails_every_time_and_a_shared_meta_reaches_every_observation():
    bad = {"raw": b"x", "raw_format": "text", "meta_json": "[2]"}
    for _ in range(2):
        with pytest.raises(NormalizeError, match="meta_json is a list"):
            normalize_observation(bad)
    narrow = '{"cols": 3}'
    first = {"raw": b"abcdef\n", "raw_format": "tmux-ansi", "meta_json": narrow}
    second = {"raw": b"uvwxyz\n", "raw_format": "tmux-ansi", "meta_json": narrow}
    assert normalize_observation(first) == "abc\ndef"
    assert normalize_observation(second) == "uvw\nxyz"


def test_renderers_are_imported_on_first_use_only():
    # A collector rendering plain text never pays for the terminal emulator's import.
    code = ("import sys; from schemas.render import render, renderer; assert render('text', b'a\\r\\nb') == 'a\\nb';"
            "assert renderer('text') is renderer('text'); print('schemas.render.terminal' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False", result.stderr


def test_an_unknown_format_fails_every_time():
    for _ in range(2):
        with pytest.raises(RenderError, match="no renderer for raw_format 'nope'"):
            renderer("nope")
