"""A sqlite file holding the LLM synthesizer's prompt cache and its spending, shared by every worker process.

The cache is keyed by a hash of everything that decides the answer (model, messages, sampling settings), so a
second run over the same rows makes no calls. Spending is kept per run id: pickled copies of one synthesizer
(Beam ships one to each worker) share its run id and therefore one budget, as long as they share this file (the
worker processes of a local run do; Dataflow workers each have their own).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path


class BudgetExhausted(RuntimeError):
    pass


class TokensHeld(RuntimeError):
    """The token budget left is held by calls in flight: a call waits for them to settle rather than fail."""


def prompt_key(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# Per run: calls made (retries included), tokens the endpoint reported, tokens reserved by calls in flight, rows
# answered from the cache, and rows whose call failed. The last two are what a progress display shows beside the
# spend; the budget checks read only the first three.
SPEND_COLUMNS = ("calls", "tokens", "reserved", "hits", "failures")


def spent_by(path: str | Path, run_id: str) -> dict[str, int]:
    """A run's spend, read without a write lock (a progress display must not hold up the workers' writes); zeros
    while the file, its table or the run's row does not exist yet."""
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute(f"SELECT {', '.join(SPEND_COLUMNS)} FROM spend WHERE run_id = ?", (run_id,)).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # no file, no table, or a column not added yet
        row = None
    return dict(zip(SPEND_COLUMNS, row or (0,) * len(SPEND_COLUMNS)))


LOCK_TIMEOUT_S = 30


def _use_wal(db: sqlite3.Connection) -> None:
    """WAL mode (kept in the file once set). Switching needs the file to itself, and SQLite answers "database is
    locked" at once, without waiting out the busy timeout, to a worker that asks while another one is opening a new
    cache file: one of 8 processes opening it together failed about one time in 18."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Ledger:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode; writes take an explicit IMMEDIATE transaction so concurrent workers serialize.
        self._db = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT_S, isolation_level=None)
        _use_wal(self._db)
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, model TEXT, trace TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS spend (run_id TEXT PRIMARY KEY, calls INTEGER NOT NULL, "
                         "tokens INTEGER NOT NULL)")
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A cache file written before a column existed gets it; under a write lock, as another worker process may
        be adding it at the same moment."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            present = {row[1] for row in self._db.execute("PRAGMA table_info(spend)")}
            for column in SPEND_COLUMNS:
                if column not in present:
                    self._db.execute(f"ALTER TABLE spend ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def cached(self, key: str) -> str | None:
        row = self._db.execute("SELECT trace FROM cache WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def store(self, key: str, model: str, trace: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO cache (key, model, trace) VALUES (?, ?, ?)", (key, model, trace))

    def reserve_call(self, run_id: str, max_calls: int | None, max_tokens: int | None, reserve: int = 0) -> None:
        """Count one call against the run's budget and hold `reserve` tokens (what it can spend at most) for it
        until `settle`; raise BudgetExhausted when the budget is spent, TokensHeld when what is left is held by
        calls in flight. A call starts alongside others only if all their holds fit in the budget left, and alone
        if any budget is left: so the run passes the token budget by at most one call's tokens, however many calls
        run at once."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            calls, tokens, reserved = self._db.execute(
                "SELECT calls, tokens, reserved FROM spend WHERE run_id = ?", (run_id,)).fetchone() or (0, 0, 0)
            if max_calls is not None and calls >= max_calls:
                raise BudgetExhausted(f"call budget of {max_calls} spent")
            if max_tokens is not None and tokens >= max_tokens:
                raise BudgetExhausted(f"token budget of {max_tokens} spent ({tokens} used)")
            if max_tokens is not None and reserved and tokens + reserved + reserve > max_tokens:
                raise TokensHeld(f"{reserved} tokens held by calls in flight")
            self._db.execute("INSERT INTO spend (run_id, calls, tokens, reserved) VALUES (?, 1, 0, ?) "
                             "ON CONFLICT(run_id) DO UPDATE SET calls = calls + 1, reserved = reserved + ?",
                             (run_id, reserve, reserve))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def settle(self, run_id: str, reserve: int, tokens: int) -> None:
        """A call held `reserve` tokens and spent `tokens` (0 when the endpoint reported none, or failed)."""
        self._db.execute("UPDATE spend SET tokens = tokens + ?, reserved = reserved - ? WHERE run_id = ?",
                         (tokens, reserve, run_id))

    def count_rows(self, run_id: str, hits: int, failures: int) -> None:
        """Rows of the run answered from the cache and rows whose call failed; added once a batch, since every
        write is a transaction of its own."""
        self._db.execute("INSERT INTO spend (run_id, calls, tokens, hits, failures) VALUES (?, 0, 0, ?, ?) "
                         "ON CONFLICT(run_id) DO UPDATE SET hits = hits + ?, failures = failures + ?",
                         (run_id, hits, failures, hits, failures))

    def close(self) -> None:
        self._db.close()
