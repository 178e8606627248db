"""A search index over pages: SQLite FTS5 with BM25 ranking and highlighted snippets.

FTS5 ships in Python's sqlite3 here and needs no service; its bm25() and snippet() are the ranking and the result
snippets a web search engine shows. An index lives in memory, or in a file written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

WORD = re.compile(r"\w+", re.UNICODE)
PAGE_CHARS = 2000


@dataclass
class Page:
    page_id: str
    title: str
    url: str
    text: str
    corpus: str = ""
    links: list[str] = field(default_factory=list)


class SearchIndex:
    def __init__(self, connection: sqlite3.Connection):
        self.db = connection

    @classmethod
    def build(cls, pages: Iterable[Page], path: str | Path | None = None,
              built_from: dict | None = None) -> SearchIndex:
        """Index `pages`; with `path`, the file appears complete or not at all. `built_from` (what chose the pages)
        is kept beside them, for a later run to tell whether the file still holds what it would build."""
        if path is None:
            index = cls(sqlite3.connect(":memory:", check_same_thread=False))
            index._fill(pages, built_from)
            return index
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from schemas.files import temp_file

        fd, tmp = temp_file(path.parent, path.name)  # the mode open() would give, not mkstemp's 0600
        os.close(fd)
        try:
            connection = sqlite3.connect(tmp)
            try:
                cls(connection)._fill(pages, built_from)
            finally:
                connection.close()
            # Opened before it takes the name: a run with other settings replacing the file meanwhile does not
            # change what this one serves.
            index = cls.open(tmp)
            len(index)
            os.replace(tmp, path)
        except BaseException:
            for leftover in (tmp, tmp + "-journal"):
                Path(leftover).unlink(missing_ok=True)
            raise
        return index

    @classmethod
    def open(cls, path: str | Path) -> SearchIndex:
        return cls(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))

    def _fill(self, pages: Iterable[Page], built_from: dict | None) -> None:
        db = self.db
        db.execute("CREATE TABLE built_from (settings TEXT)")
        db.execute("INSERT INTO built_from VALUES (?)", (json.dumps(built_from, sort_keys=True),))
        db.execute("CREATE TABLE pages (page_id TEXT PRIMARY KEY, title TEXT, url TEXT, body TEXT, corpus TEXT, "
                   "links TEXT)")
        db.execute("CREATE VIRTUAL TABLE fts USING fts5(title, body, content='pages', content_rowid='rowid', "
                   "tokenize='porter unicode61')")
        seen = set()
        for page in pages:
            if page.page_id in seen:
                raise ValueError(f"page id {page.page_id!r} appears twice in the corpus")
            seen.add(page.page_id)
            cursor = db.execute("INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?)", (
                page.page_id, page.title, page.url, page.text, page.corpus, "\n".join(page.links)))
            db.execute("INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)",
                       (cursor.lastrowid, page.title, page.text))
        db.commit()

    def built_from(self) -> dict | None:
        """The settings the index was built from; None for a file an older worldline built, which kept none. Raises
        ValueError for a file that is no search index (it is not the caller's to overwrite)."""
        try:
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise ValueError(f"not a search index ({e})") from None
        if "pages" not in tables:
            raise ValueError(f"not a search index (tables: {', '.join(sorted(tables)) or 'none'})")
        if "built_from" not in tables:
            return None
        return json.loads(self.db.execute("SELECT settings FROM built_from").fetchone()[0])

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM pages").fetchone()[0]

    def digest(self) -> str:
        """12 hex digits naming the pages' content: two servers that answer the same have the same digest."""
        digest = hashlib.sha256()
        for row in self.db.execute("SELECT page_id, title, url, body, links FROM pages ORDER BY page_id"):
            for value in row:
                digest.update(value.encode())
                digest.update(b"\0")
        return digest.hexdigest()[:12]

    def search(self, query: str, limit: int = 5, offset: int = 0) -> tuple[int, list[dict]]:
        """Pages matching all words of `query` (or, failing that, any), best first: (total, results)."""
        words = WORD.findall(query.lower())
        if not words:
            return 0, []
        for joiner in (" AND ", " OR "):
            match = joiner.join(f'"{w}"' for w in words)
            total = self.db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
            if total:
                break
        if not total:
            return 0, []
        rows = self.db.execute(
            "SELECT p.page_id, p.title, p.url, snippet(fts, 1, '**', '**', '…', 16) FROM fts "
            "JOIN pages p ON p.rowid = fts.rowid WHERE fts MATCH ? ORDER BY bm25(fts, 4.0, 1.0), p.page_id "
            "LIMIT ? OFFSET ?", (match, limit, offset)).fetchall()
        return total, [{"page_id": r[0], "title": r[1], "url": r[2], "snippet": r[3]} for r in rows]

    def page(self, key: str) -> Page | None:
        """A page by id or by url."""
        row = self.db.execute("SELECT page_id, title, url, body, corpus, links FROM pages WHERE page_id = ? "
                              "OR url = ?", (key, key)).fetchone()
        if row is None:
            return None
        return Page(row[0], row[1], row[2], row[3], row[4], [x for x in row[5].split("\n") if x])
