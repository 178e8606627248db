"""The search engine and its corpora: FTS5 ranking over real installed documentation, and fictional worlds whose
pages agree with their facts and with the shipped search tasks."""

import sqlite3
from pathlib import Path

import pytest
import yaml

from sandboxes.search.corpora import debian_doc_pages, python_package_pages
from sandboxes.search.index import Page, SearchIndex
from sandboxes.search.world import generate, pages, questions, search_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_ranking_snippets_and_pages():
    index = SearchIndex.build([
        Page("a", "Parquet files", "https://x/a", "Parquet is a columnar file format. Parquet files are compressed."),
        Page("b", "CSV", "https://x/b", "Comma separated values, not columnar, mention parquet once."),
        Page("c", "Cooking", "https://x/c", "Bread and butter."),
    ])
    total, results = index.search("parquet columnar")
    assert total == 2 and [r["page_id"] for r in results] == ["a", "b"]
    assert "**Parquet**" in results[0]["snippet"] or "**columnar**" in results[0]["snippet"]
    assert index.search("bread OR (")[0] == 1  # FTS syntax in user queries is taken as words
    assert index.search("parquet bread")[0] == 3  # no page has both words: any word then
    assert index.search("")[0] == 0
    assert index.page("https://x/c").page_id == "c" and index.page("zzz") is None


def test_duplicate_page_ids_are_rejected():
    with pytest.raises(ValueError, match="page id 'a' appears twice"):
        SearchIndex.build([Page("a", "t", "u1", "x"), Page("a", "t", "u2", "y")])


def test_index_file_is_written_atomically(tmp_path):
    path = tmp_path / "idx" / "world.sqlite"
    def broken_corpus():
        yield Page("a", "t", "u", "x")
        raise RuntimeError("corpus broke")

    with pytest.raises(RuntimeError, match="corpus broke"):
        SearchIndex.build(broken_corpus(), path)
    assert not path.exists() and not list(path.parent.iterdir())
    index = SearchIndex.build(pages(generate(3)), path)
    assert len(index) == len(SearchIndex.open(path)) > 30
    with pytest.raises(sqlite3.OperationalError):
        SearchIndex.open(path).db.execute("DELETE FROM pages")  # opened read-only


def test_installed_documentation_is_a_real_corpus():
    python_pages = list(python_package_pages())
    assert any(p.page_id == "pypi/apache-beam" for p in python_pages)
    assert not any(p.page_id == "pypi/worldline" for p in python_pages)  # installed here, but this tool's own
    beam = next(p for p in python_pages if p.page_id == "pypi/apache-beam")
    assert "Apache Beam" in beam.text and beam.url.startswith("https://pypi.org/project/apache-beam/")
    debian = list(debian_doc_pages())
    assert debian and all(p.url.startswith("file:///usr/share/doc/") for p in debian)
    index = SearchIndex.build(python_pages + debian)
    assert index.search("apache beam pipeline")[1][0]["page_id"] == "pypi/apache-beam"


def test_world_is_deterministic_and_consistent():
    world = generate(7)
    assert [p.text for p in pages(world)] == [p.text for p in pages(generate(7))]
    assert [p.text for p in pages(world)] != [p.text for p in pages(generate(8))]
    # The digest (the server's version, recorded as the environment's) names the content.
    assert SearchIndex.build(pages(world)).digest() == SearchIndex.build(pages(generate(7))).digest()
    assert SearchIndex.build(pages(world)).digest() != SearchIndex.build(pages(generate(8))).digest()
    by_id = {p.page_id: p for p in pages(world)}
    for subject, relation, obj in world.facts:
        text = by_id[subject].text
        expected = world.get(obj).name if obj in world.entities else obj
        if relation == "population":
            expected = f"{int(obj):,}"
        assert expected in text, (subject, relation, obj)
        if obj in world.entities:  # the relation is visible from both ends
            assert subject in by_id[obj].links and obj in by_id[subject].links
    capitals = [o for s, r, o in world.facts if r == "capital"]
    assert all(world.value(c, "country") == s for s, r, c in world.facts if r == "capital") and capitals


def test_questions_are_answered_by_the_pages_they_name():
    world = generate(7)
    by_id = {p.page_id: p for p in pages(world)}
    for q in questions(world):
        assert q["answer"] in by_id[q["pages"][-1]].text + by_id[q["pages"][0]].text, q


def test_shipped_search_tasks_match_the_world():
    shipped = yaml.safe_load((ROOT / "tasks" / "search.yaml").read_text())["tasks"]
    world_tasks = [t for t in shipped if t["options"]["server"] == "search-world"]
    assert world_tasks == search_tasks(generate(7), "search-world")
    assert any(t["options"]["server"] == "search-packages" for t in shipped)
