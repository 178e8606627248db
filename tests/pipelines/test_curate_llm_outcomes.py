"""What `worldline curate --reasoning llm` does when traces fail or run out, against a real llama.cpp server
(tests/llama_server.py, one per test session) and an unreachable endpoint: only the stage-2 rows go, the budget holds
across worker processes, the spend is reported, and a dead endpoint ends the command non-zero in one line. Also the
option checks made before any work."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from collectors.store import EpisodeStore
from pipelines.commands.curate import llm_endpoint_failure
from pipelines.curate import run_curation
from pipelines.progress import CurationProgress
from tests.llama_server import MODEL_NAME
from tests.pipelines.curation_raw_collection import _episode
from transforms.curate import CurateOptions
from transforms.reasoning.ledger import Ledger
from transforms.reasoning.llm import LLMEndpointError

DEAD_ENDPOINT = "http://127.0.0.1:1/v1"


def _words(seed: str, count: int) -> str:
    return " ".join(hashlib.sha256(f"{seed}{i}".encode()).hexdigest()[:7] for i in range(count))


def _collection(root, episodes: int):
    """Episodes of 2 steps whose outputs share no words, so none is a duplicate."""
    store = EpisodeStore(root)
    for e in range(episodes):
        _episode(store, "terminal", f"ep-{e}", [(f"cat notes{e}-{s}", _words(f"{e}-{s}", 30)) for s in range(2)])
    return root


def _curate(raw, out, *args, env=None):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
                           *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


def _rows(out, table):
    return pq.read_table(out / table).to_pylist()


def test_the_budget_holds_across_worker_processes_and_failed_traces_keep_their_transitions(llama_url, tmp_path):
    raw = _collection(tmp_path / "raw", 16)
    cache = tmp_path / "traces.sqlite"
    result = _curate(raw, tmp_path / "out", "--reasoning", "llm", "--llm-endpoint", llama_url, "--llm-model",
                     MODEL_NAME, "--llm-max-tokens", "48", "--llm-budget", "4", "--llm-cache", str(cache),
                     "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    # One budget for the run: both worker processes spend from it (each had its own, 8 calls in all).
    spend = sqlite3.connect(cache).execute("SELECT count(*), sum(calls) FROM spend").fetchone()
    assert spend == (1, 4)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["llm"] == {"calls": 4, "cache_hits": 0, "tokens": stats["llm"]["tokens"], "failures": 28}
    # Stage 1, stage 3 and the transitions need no trace: every transition is there. Stage 2 has the 4 traced.
    assert stats["in"] == stats["out"] == 32 and stats["dead_lettered"] == 0 and stats["balanced"]
    for table in ("transitions", "stage1", "stage3"):
        assert len(_rows(out, table)) == 32, table
    assert len(_rows(out, "stage2")) == 4 and stats["stage2_dead_lettered"] == 28
    letters = _rows(out, "dead_letter")
    assert len(letters) == 28 and {letter["stage"] for letter in letters} == {"reasoning"}
    assert all(f"record {letter['record_id']}: no reasoning trace: BudgetExhausted: call budget of 4 spent"
               in letter["reason"] for letter in letters)
    assert "LLM reasoning: 4 calls (retries included)" in result.stderr
    assert "28 transitions have no stage-2 row" in result.stderr
    card = (out / "README.md").read_text()
    assert "made 4 calls" in card and "28 written transitions have no stage 2 row" in card


def test_an_endpoint_that_fails_every_call_ends_the_command_non_zero(tmp_path):
    raw = _collection(tmp_path / "raw", 1)
    result = _curate(raw, tmp_path / "out", "--reasoning", "llm", "--llm-endpoint", DEAD_ENDPOINT, "--llm-model",
                     "m", "--no-llm-check", "--llm-cache", str(tmp_path / "traces.sqlite"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: every LLM call failed, so stage2 is empty") and "--llm-endpoint" in last
    assert len(_rows(tmp_path / "out", "stage1")) == 2 and not _rows(tmp_path / "out", "stage2")


def test_failures_in_a_row_stop_the_run_before_anything_is_published(tmp_path):
    raw = _collection(tmp_path / "raw", 14)
    options = CurateOptions(reasoning="llm", reasoning_options={
        "model": "m", "base_url": DEAD_ENDPOINT, "retries": 0, "cache_path": str(tmp_path / "traces.sqlite")})
    with pytest.raises(LLMEndpointError) as caught:
        run_curation(str(raw), str(tmp_path / "out"), options)
    # The line the command prints: the worker's message, without Beam's step name.
    assert llm_endpoint_failure(caught.value) == (
        "24 calls in a row to http://127.0.0.1:1/v1/ failed, the last with APIConnectionError: Connection error")
    assert not (tmp_path / "out" / "stage1").exists()


def test_llm_options_without_llm_reasoning_are_refused(tmp_path):
    raw = _collection(tmp_path / "raw", 1)
    result = _curate(raw, tmp_path / "out", "--llm-endpoint", DEAD_ENDPOINT, "--llm-budget", "3")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("Error: --llm-endpoint, --llm-budget only apply with --reasoning llm, and this "
                                     "run uses --reasoning grounded: add --reasoning llm or leave them out")
    assert not (tmp_path / "out").exists()


def test_an_output_inside_the_raw_collection_is_refused(tmp_path):
    raw = _collection(tmp_path / "raw", 1)
    result = _curate(raw, raw / "episodes" / "x")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "would overwrite or be read as the raw collection" in result.stderr
    assert not (raw / "episodes" / "x").exists()


def test_the_spend_is_logged_while_a_run_without_a_terminal_goes(tmp_path, capfd):
    cache = tmp_path / "traces.sqlite"
    ledger = Ledger(cache)
    with CurationProgress(str(tmp_path), str(tmp_path / "work"), enabled=False, spend=(cache, "run"),
                          log_seconds=0.1):
        ledger.reserve_call("run", None, None, 100)
        ledger.settle("run", 100, 1234)
        ledger.count_rows("run", hits=2, failures=1)
        time.sleep(0.5)
    ledger.close()
    assert "LLM reasoning: 1 calls, 1,234 tokens, 2 traces from the cache, 1 failed" in capfd.readouterr().err


def test_the_spend_is_a_line_under_the_bars_on_a_terminal(raw_collection, tmp_path):
    raw, _ = raw_collection
    cache = tmp_path / "traces.sqlite"
    ledger = Ledger(cache)
    progress = CurationProgress(str(raw), str(tmp_path / "work"), spend=(cache, "run"))
    with progress:
        ledger.reserve_call("run", None, None, 100)
        ledger.settle("run", 100, 77)
        progress.stopped.wait(1.2)
        [_, _, spend] = progress.progress.tasks
        assert spend.description == "LLM reasoning: 1 calls, 77 tokens, 0 traces from the cache, 0 failed"
    ledger.close()
