"""apt's answer to "which packages does a repository serve" is kept on disk between corpus builds: reused while apt's
and dpkg's files are as they were, asked again when a list changes or a package was never asked about, and a cache
file that is not one of ours is ignored and rewritten. apt-cache's calls are counted through a wrapper script put
first on PATH."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from sandboxes.search import apt_served
from sandboxes.search.corpora import from_a_repository

SERVED = ["apt", "bash", "coreutils"]
UNKNOWN = "worldline-test-no-such-package"

pytestmark = pytest.mark.skipif(not (shutil.which("apt-cache") and any(apt_served.APT_LISTS.glob("*Packages*"))),
                                reason="needs apt-cache and apt lists (apt-get update; CI runs it)")


@pytest.fixture
def apt_calls(tmp_path, monkeypatch):
    """The number of apt-cache runs so far, read from a log the wrapper appends to."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "apt-cache.calls"
    log.write_text("")
    wrapper = shim / "apt-cache"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("apt-cache")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim}:{os.environ['PATH']}")
    return lambda: len(log.read_text().splitlines())


@pytest.fixture
def lists(tmp_path):
    """A copy of apt's lists (names, sizes and mtimes kept) to change without touching the real ones."""
    copy = tmp_path / "lists"
    shutil.copytree(apt_served.APT_LISTS, copy, ignore=shutil.ignore_patterns("lock", "partial", "auxfiles"))
    return copy


def _served(packages, cache, lists):
    return from_a_repository(packages, cache, apt_served.apt_state(lists))


def test_a_second_build_reuses_the_answer_and_a_changed_list_asks_again(tmp_path, apt_calls, lists):
    cache = tmp_path / "cache" / "apt-served.json"
    first = _served([*SERVED, UNKNOWN], cache, lists)
    assert first == set(SERVED) and apt_calls() == 1 and cache.is_file()
    assert _served([*SERVED, UNKNOWN], cache, lists) == first
    assert _served(SERVED[:2], cache, lists) == set(SERVED[:2])  # a subset of what was asked: answered too
    assert apt_calls() == 1

    newest = max(lists.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    os.utime(newest, ns=(newest.stat().st_atime_ns, newest.stat().st_mtime_ns + 1_000_000_000))
    assert _served([*SERVED, UNKNOWN], cache, lists) == first
    assert apt_calls() == 2
    assert _served([*SERVED, UNKNOWN], cache, lists) == first
    assert apt_calls() == 2


def test_a_new_list_or_a_package_never_asked_about_asks_again(tmp_path, apt_calls, lists):
    cache = tmp_path / "apt-served.json"
    _served(SERVED, cache, lists)
    assert _served([*SERVED, "dpkg"], cache, lists) == {*SERVED, "dpkg"}
    assert apt_calls() == 2
    (lists / "example.org_dists_stable_main_binary-amd64_Packages").write_text("")
    _served(SERVED, cache, lists)
    assert apt_calls() == 3


@pytest.mark.parametrize("content", [
    b"\x00\xff not json",
    b'{"format": "worldline-apt-served", "version": 1',  # cut short
    b'{"some": "other program"}',
    b'["apt", "bash"]',
    b"{}",
])
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_rewritten(tmp_path, apt_calls, lists, content):
    cache = tmp_path / "apt-served.json"
    cache.write_bytes(content)
    assert _served([*SERVED, UNKNOWN], cache, lists) == set(SERVED)
    assert apt_calls() == 1
    assert json.loads(cache.read_text())["answers"] == {**dict.fromkeys(SERVED, True), UNKNOWN: False}


def test_a_cache_claiming_an_unknown_package_under_another_state_is_not_trusted(tmp_path, apt_calls, lists):
    cache = tmp_path / "apt-served.json"
    _served([*SERVED, UNKNOWN], cache, lists)
    data = json.loads(cache.read_text())
    data["answers"][UNKNOWN] = True
    data["state"]["lists"][0][1] += 1  # written for lists that are not these
    cache.write_text(json.dumps(data))
    assert UNKNOWN not in _served([*SERVED, UNKNOWN], cache, lists)
    data["answers"] = {UNKNOWN: "yes"}  # not a served flag
    data["state"] = apt_served.apt_state(lists)
    cache.write_text(json.dumps(data))
    assert UNKNOWN not in _served([UNKNOWN, *SERVED], cache, lists)
    assert apt_calls() == 3


def test_an_unwritable_cache_folder_still_answers(tmp_path, apt_calls, lists):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert _served(SERVED, blocker / "apt-served.json", lists) == set(SERVED)
    assert _served(SERVED, blocker / "apt-served.json", lists) == set(SERVED)
    assert apt_calls() == 2


def test_the_corpus_is_the_same_built_cold_warm_and_uncached(tmp_path, apt_calls, monkeypatch):
    from sandboxes.search.corpora import debian_doc_pages

    def pages():
        return [(p.page_id, p.text) for p in debian_doc_pages()]

    monkeypatch.setenv("WORLDLINE_CACHE_DIR", str(tmp_path / "cache"))
    cold = pages()
    warm = pages()
    assert apt_calls() == 1 and (tmp_path / "cache" / "apt-served.json").is_file()
    monkeypatch.setenv("WORLDLINE_CACHE_DIR", str(tmp_path / "other"))
    assert cold == warm == pages() and cold
