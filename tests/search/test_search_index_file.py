"""An --index file is reused only while it holds what the server would build: a rerun with a new --exclude (or
seed, or corpus rules) builds it again rather than serving, and recording, the pages it was told to leave out."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from sandboxes.search.index import SearchIndex

ROOT = Path(__file__).resolve().parents[2]


def _serve(*args: str, page_id: str) -> tuple[str, bool]:
    """Start the search server with `args`, open `page_id`: (the corpus digest it serves, whether the page failed)."""
    async def run():
        params = StdioServerParameters(command=sys.executable, args=["-m", "sandboxes.search.server", *args],
                                       cwd=str(ROOT))
        with open(os.devnull, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    with anyio.fail_after(120):
                        started = await session.initialize()
                        opened = await session.call_tool("open_page", {"page_id": page_id})
                    return started.server_info.version, opened.is_error

    return anyio.run(run)


def test_a_new_exclude_rebuilds_the_index_file(tmp_path):
    path = tmp_path / "packages.sqlite"
    digest, failed = _serve("--corpus", "packages", "--index", str(path), page_id="pypi/apache-beam")
    assert not failed
    first = path.stat().st_ino

    excluded, failed = _serve("--corpus", "packages", "--index", str(path), "--exclude", "pypi/apache-*",
                              page_id="pypi/apache-beam")
    assert failed and excluded != digest
    assert SearchIndex.open(path).page("pypi/apache-beam") is None  # the file itself no longer holds it
    rebuilt = path.stat().st_ino
    assert rebuilt != first

    # The same globs in another case and order: the file is reused, the digest the same.
    again, failed = _serve("--corpus", "packages", "--index", str(path), "--exclude", "PYPI/apache-*",
                           "--exclude", "pypi/apache-*", page_id="pypi/apache-beam")
    assert failed and again == excluded and path.stat().st_ino == rebuilt


def test_another_seed_or_an_older_file_rebuilds_it(tmp_path):
    path = tmp_path / "world.sqlite"
    seven, _ = _serve("--corpus", "world", "--seed", "7", "--index", str(path), page_id="list/city")
    eight, _ = _serve("--corpus", "world", "--seed", "8", "--index", str(path), page_id="list/city")
    assert eight != seven

    # A file built before the settings were recorded is built again, to the same pages and digest.
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE built_from")
    inode = path.stat().st_ino
    again, _ = _serve("--corpus", "world", "--seed", "8", "--index", str(path), page_id="list/city")
    assert again == eight and path.stat().st_ino != inode
    assert SearchIndex.open(path).built_from()["seed"] == 8


def test_a_file_that_is_no_index_is_refused_and_kept(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes\n")
    done = subprocess.run([sys.executable, "-m", "sandboxes.search.server", "--corpus", "world", "--index", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"--index {path}: not a search index" in done.stderr and "remove it or name another file" in done.stderr
    assert path.read_text() == "my notes\n"
