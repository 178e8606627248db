"""The grounded trace of a JSON answer (mcp, search): the keys that carry the content with a short fact each, not
the first lines of canonical JSON (audit D8a: 13 of 51 search traces were one of two strings quoting '"links": [',
'"next_offset": null,', '"offset": 0,')."""

import json
import re

from schemas.render.json_text import canonical_json
from transforms.reasoning.grounded import grounded_trace

_PAGE = {"links": ["city/stilzim", "company/rentil-group"], "next_offset": None, "offset": 0,
         "page_id": "person/drar-rirveand",
         "text": " Rirveand (born 1892 in Stilzim [city/stilzim], Dethzer [country/dethzer]) is a engineer. Drar founded "
                 "Rentil Group [company/rentil-group].",
         "title": "Drar Rirveand", "url": "https://world-7.example/wiki/person/drar-rirveand"}
_RESULTS = {"offset": 0, "query": "company founded", "total": 20,
            "results": [{"page_id": f"city/c{n}", "snippet": f"…founded in {1400 + n}…", "title": f"City {n}",
                         "url": f"https://world-7.example/wiki/city/c{n}"} for n in range(5)]}


def _trace(document, domain="search", state=""):
    return grounded_trace({"domain": domain, "state_text": state, "next_text": canonical_json(document)})


def test_a_search_answer_names_its_content_keys_first():
    text = canonical_json(_RESULTS)
    assert _trace(_RESULTS) == (
        f"The result is a JSON object of {len(text.splitlines())} lines with 4 keys: results has 5 items, the first "
        "titled 'City 0'; query is 'company founded'; total is 20; offset is 0.")
    assert _trace(_PAGE) == (
        "The result is a JSON object of 12 lines with 7 keys: text is 139 characters starting ' Rirveand (born 1892 "
        "in Stilzim…'; links has 2 items, the first 'city/stilzim'; title is 'Drar Rirveand'; next_offset is null; "
        "offset is 0; page_id is 'person/drar-rirveand'; url is 'https://world-7.example/wiki/person/drar-rirveand'.")
    empty = {"offset": 0, "query": "draft ada gamma", "results": [], "total": 0}
    assert _trace(empty) == ("The result is a JSON object of 6 lines with 4 keys: query is 'draft ada gamma'; "
                             "results has no items; offset is 0; total is 0.")


def test_pages_of_one_site_get_different_traces():
    """What the audit found: every page of the wiki got the same trace."""
    pages = [{**_PAGE, "title": title, "text": text, "links": links}
             for title, text, links in [("Thaxthea", "Thaxthea is a city in Gaixdour.", ["country/gaixdour"]),
                                        ("Lothum", "Lothum is a city on the Fouxsais.", []),
                                        ("Drar Rirveand", _PAGE["text"], _PAGE["links"])]]
    traces = [_trace(page) for page in pages]
    assert len(set(traces)) == 3
    assert "title is 'Thaxthea'" in traces[0]  # a one-word title still beats the url
    assert "the other is links" in traces[1]  # an empty list is bookkeeping, named only
    assert "next_offset is null; offset is 0" in traces[1]  # short scalars are told with their values


def test_every_quoted_value_is_in_the_answer():
    rng_documents = [_PAGE, _RESULTS, {"tools": [{"name": "get-sum", "description": "Adds two numbers"}]},
                     {"content": [{"type": "resource", "resource": {"uri": "file:///tmp/w/todo.txt"}}]},
                     {"relations": [{"from": "ada", "relationType": "knows", "to": "bob"}], "entities": []},
                     {"source": {"timezone": "Europe/London"}, "time_difference": "+11.0h"},
                     {"text": "# Title\n\n" + "word " * 100}, [{"name": "todo.txt", "type": "file"}], [], {}]
    for document in rng_documents:
        text = canonical_json(document)
        trace = grounded_trace({"domain": "mcp", "state_text": "", "next_text": text})
        assert trace == grounded_trace({"domain": "mcp", "state_text": "", "next_text": text})  # deterministic
        for quoted in re.findall(r"'((?:[^'\\]|\\.)*)'", trace):
            assert quoted.rstrip("…") in text, (quoted, trace)
        for key in (document if isinstance(document, dict) else []):
            assert key in trace  # every top-level key is named, with a fact or among the others
        assert len(trace) < 400


def test_lists_long_strings_and_fallbacks():
    assert _trace([{"name": "todo.txt", "type": "file"}], "mcp") == (
        "The result is a JSON list of 6 lines that has 1 item, the first named 'todo.txt'.")
    long_text = {"text": "# Everything Server – Architecture\n\nThis documentation summarizes the layout."}
    assert _trace(long_text, "mcp") == (
        "The result is a JSON object of 3 lines with 1 key: text is 77 characters starting '# Everything Server – "
        "Architecture…'.")
    # Not one JSON document: its lines, as before.
    assert grounded_trace({"domain": "mcp", "state_text": "", "next_text": "Buy milk\n{\n  \"a\": 1\n}"}) == \
        "The result has 4 lines: 'Buy milk', '{', '  \"a\": 1' and 1 more."
    assert grounded_trace({"domain": "mcp", "state_text": "", "next_text": "[tool error]\nfetch failed"}) == \
        "The result has 2 lines: '[tool error]', 'fetch failed'."
    assert grounded_trace({"domain": "search", "state_text": "", "next_text": "{broken\n}"}) == \
        "The result has 2 lines: '{broken', '}'."
    deep = "[" * 100_000 + "]" * 100_000  # a swe command's output: too deep for json, described as lines
    assert grounded_trace({"domain": "swe", "state_text": "", "next_text": deep}).startswith("The output is one line")
    assert json.loads(canonical_json(_PAGE)) == _PAGE
