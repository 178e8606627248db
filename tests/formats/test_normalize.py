from __future__ import annotations

import pytest

from schemas import Observation
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
