"""The llm synthesizer's limits against a real llama.cpp server (tests/llama_server.py, one per test session): replies cut
off at max_tokens, thinking blocks, the token budget under concurrency, a dead endpoint, and the spend it reports."""

from __future__ import annotations

import sqlite3

import pytest

from tests.llama_server import MODEL_NAME, terminal_row
from transforms.reasoning import ReasoningError, make_synthesizer
from transforms.reasoning.ledger import spent_by
from transforms.reasoning.llm import ENDPOINT_FAILURES, LLMEndpointError, reply_text


def _llm(base_url, cache_path, **options):
    return make_synthesizer("llm", model=MODEL_NAME, base_url=base_url, cache_path=cache_path, retry_wait=0.01,
                            **{"max_tokens": 48, **options})


def test_a_reply_cut_off_at_max_tokens_is_a_failed_call_not_a_trace(llama_url, tmp_path):
    cache = tmp_path / "cache.sqlite"
    cut = _llm(llama_url, cache, max_tokens=2, run_id="cut").traces([terminal_row(1), terminal_row(2)])
    # The tiny model's replies here are 3 to 5 bytes long: two tokens are a piece of one.
    for row_id, item in zip(("ep:1", "ep:2"), cut):
        assert isinstance(item, ReasoningError), item
        assert f"record {row_id}" in str(item) and "cut off at 2 tokens (--llm-max-tokens)" in str(item)
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM cache").fetchone() == (0,)  # not cached
    assert spent_by(cache, "cut")["failures"] == 2
    # The same rows with room for the whole reply get it.
    assert all(isinstance(item, str) and item for item in _llm(llama_url, cache).traces([terminal_row(1), terminal_row(2)]))


@pytest.mark.parametrize("content, trace", [
    ("<think>The diff adds file1.\nSo ls shows it.</think>\n\nls lists file1.txt.", "ls lists file1.txt."),
    # Templates that open the block in the prompt: the reply holds only its end.
    ("The diff adds file1.</think>ls lists file1.txt.", "ls lists file1.txt."),
    ("ls lists file1.txt.", "ls lists file1.txt."),
])
def test_a_reasoning_models_thinking_is_dropped_whole(content, trace):
    assert reply_text(content) == trace


def test_thinking_that_never_ends_is_no_trace():
    with pytest.raises(ValueError, match="never ended"):
        reply_text("<think>The diff adds file1, so")


def test_concurrent_calls_pass_the_token_budget_by_at_most_one_call(llama_url, tmp_path):
    # Each call here spends ~1,030 tokens (a byte-level vocabulary); 8 run at once. Before, all 8 started while
    # nothing was spent yet: ~8,200 tokens against a budget of 3,000.
    cache = tmp_path / "cache.sqlite"
    traces = _llm(llama_url, cache, batch_size=8, max_tokens_budget=3000, run_id="run").traces(
        [terminal_row(i) for i in range(16)])
    spend = spent_by(cache, "run")
    made = [trace for trace in traces if isinstance(trace, str)]
    assert len(made) == spend["calls"] >= 2  # still concurrent while the budget left allows
    one_call = spend["tokens"] // spend["calls"] + 1
    assert 3000 <= spend["tokens"] <= 3000 + one_call, spend
    assert spend["reserved"] == 0  # every hold was released
    assert all("token budget of 3000 spent" in str(item) for item in traces if not isinstance(item, str))


def test_a_dead_endpoint_stops_the_run_after_failures_in_a_row(tmp_path):
    rows = [terminal_row(i) for i in range(ENDPOINT_FAILURES + 8)]
    synthesizer = _llm("http://127.0.0.1:1/v1", tmp_path / "cache.sqlite", retries=0, batch_size=8)
    with pytest.raises(LLMEndpointError, match=r"calls in a row to http://127\.0\.0\.1:1/v1/ failed, the last with "
                                               r"APIConnectionError"):
        synthesizer.traces(rows)
    # Fewer failures than that are the rows' own dead letters.
    few = _llm("http://127.0.0.1:1/v1", tmp_path / "cache.sqlite", retries=0).traces(rows[:3])
    assert all(isinstance(item, ReasoningError) and "APIConnectionError" in str(item) for item in few)


def test_the_spend_is_reported_per_call_and_in_the_cache_file(llama_url, tmp_path):
    cache = tmp_path / "cache.sqlite"
    _llm(llama_url, cache, run_id="first").traces([terminal_row(1)])
    synthesizer = _llm(llama_url, cache, run_id="second")
    synthesizer.traces([terminal_row(1), terminal_row(2)])
    counts = synthesizer.drain_counts()
    assert counts["calls"] == 1 and counts["cache_hits"] == 1 and counts["tokens"] > 1000, counts
    assert synthesizer.drain_counts() == {}  # drained
    spend = spent_by(cache, "second")
    assert (spend["calls"], spend["hits"], spend["failures"], spend["tokens"]) == (1, 1, 0, counts["tokens"])
