"""A sqlite file holding the LLM synthesizer's prompt cache and its spending, shared by every worker process.

The cache is keyed by a hash of everything that decides the answer (model, messages, sampling settings), so a
second run over the same rows makes no calls. Spending is kept per run id: pickled copies of one synthesizer
(Beam ships one to each worker) share its run id and therefore one budget.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path


class BudgetExhausted(RuntimeError):
    pass


def prompt_key(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Ledger:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode; writes take an explicit IMMEDIATE transaction so concurrent workers serialize.
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, model TEXT, trace TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS spend (run_id TEXT PRIMARY KEY, calls INTEGER NOT NULL, "
                         "tokens INTEGER NOT NULL)")

    def cached(self, key: str) -> str | None:
        row = self._db.execute("SELECT trace FROM cache WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def store(self, key: str, model: str, trace: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO cache (key, model, trace) VALUES (?, ?, ?)", (key, model, trace))

    def reserve_call(self, run_id: str, max_calls: int | None, max_tokens: int | None) -> None:
        """Count one call against the run's budget, or raise BudgetExhausted if the budget is spent."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT calls, tokens FROM spend WHERE run_id = ?", (run_id,)).fetchone()
            calls, tokens = row or (0, 0)
            if max_calls is not None and calls >= max_calls:
                raise BudgetExhausted(f"call budget of {max_calls} spent")
            if max_tokens is not None and tokens >= max_tokens:
                raise BudgetExhausted(f"token budget of {max_tokens} spent ({tokens} used)")
            self._db.execute("INSERT INTO spend (run_id, calls, tokens) VALUES (?, 1, 0) ON CONFLICT(run_id) "
                             "DO UPDATE SET calls = calls + 1", (run_id,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def add_tokens(self, run_id: str, tokens: int) -> None:
        self._db.execute("UPDATE spend SET tokens = tokens + ? WHERE run_id = ?", (tokens, run_id))

    def spent(self, run_id: str) -> tuple[int, int]:
        row = self._db.execute("SELECT calls, tokens FROM spend WHERE run_id = ?", (run_id,)).fetchone()
        return row or (0, 0)

    def close(self) -> None:
        self._db.close()
