"""The llm synthesizer against a real model server: llama.cpp (llama-cpp-python's OpenAI-compatible server)
serving a tiny random-weight model made here (tests/tiny_llama.py), since no model can be downloaded on this
project's machines. Its replies are nonsense, but they are a real model's greedy replies to the real prompts,
tokenized and counted by the server itself. Faults (5xx, 400, flaky retries) are injected by the canned server in
test_reasoning.py, which a real server cannot be told to produce."""

from __future__ import annotations

import openai
import pytest

from tests.llama_server import MODEL_NAME, llama_server, terminal_row
from transforms.reasoning import ReasoningError, make_synthesizer


def _llm(llama_url, cache_path, **options):
    return make_synthesizer("llm", model=MODEL_NAME, base_url=llama_url, cache_path=cache_path,
                            retry_wait=0.01, max_tokens=48, **options)


def test_traces_are_the_servers_greedy_replies_and_are_cached(llama_url, tmp_path):
    rows = [terminal_row(i) for i in range(6)]
    traces = _llm(llama_url, tmp_path / "a.sqlite", batch_size=3).traces(rows)
    assert all(isinstance(trace, str) and trace and trace.isprintable() for trace in traces), traces

    # The same request straight through the SDK gets the same reply: the trace is the model's, not made up here.
    synthesizer = _llm(llama_url, tmp_path / "unused.sqlite")
    reply = openai.OpenAI(base_url=llama_url, api_key="none").chat.completions.create(**synthesizer.request(rows[4]))
    assert reply.choices[0].message.content.strip() == traces[4]

    # Temperature 0: another run with an empty cache asks again and gets the same traces; a run on the first
    # cache makes no call at all (a call budget of 0 would refuse one).
    assert _llm(llama_url, tmp_path / "b.sqlite").traces(rows) == traces
    assert _llm(llama_url, tmp_path / "a.sqlite", max_calls=0).traces(rows) == traces


def test_the_token_budget_counts_the_servers_own_token_counts(llama_url, tmp_path):
    synthesizer = _llm(llama_url, tmp_path / "cache.sqlite", batch_size=1, max_tokens_budget=1)
    first, second = synthesizer.traces([terminal_row(10), terminal_row(11)])
    usage = openai.OpenAI(base_url=llama_url, api_key="none").chat.completions.create(
        **synthesizer.request(terminal_row(10))).usage
    # A byte-level vocabulary: the prompt is at least one token per byte of the user turn.
    assert usage.prompt_tokens > len(synthesizer.request(terminal_row(10))["messages"][1]["content"])
    assert isinstance(first, str)
    assert isinstance(second, ReasoningError)
    assert f"token budget of 1 spent ({usage.total_tokens} used)" in str(second)


def test_a_prompt_over_the_context_is_this_rows_dead_letter(tmp_path):
    # Every part of the prompt is clipped, so it takes a server with a small context to refuse one (its own 400).
    with llama_server(tmp_path, context_tokens=512) as small_server:
        [too_long] = _llm(small_server, tmp_path / "cache.sqlite", retries=0).traces([terminal_row(20)])
    assert isinstance(too_long, ReasoningError) and "ep:20" in str(too_long) and "400" in str(too_long)
    assert "context" in str(too_long)


def test_a_long_task_or_action_is_clipped_like_the_observations(llama_url, tmp_path):
    long_task = dict(terminal_row(30), instruction="word " * 40000, action_text="type " * 40000)  # 200k characters each
    synthesizer = _llm(llama_url, tmp_path / "cache.sqlite")
    assert len(synthesizer.request(long_task)["messages"][1]["content"]) < 4 * 6100
    [trace] = synthesizer.traces([long_task])
    assert isinstance(trace, str) and trace
