"""LLM reasoning: ask any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, OpenAI) for the trace.

The model sees the state, the action, the real next observation and the grounded facts of the diff, and writes
the reasoning that leads from the first two to the third. Requests run concurrently in batches, retry on 429/5xx
and connection errors, are cached in a sqlite file by prompt, and stop at a budget of calls and tokens. A row whose
call fails, whose reply was cut off at max_tokens, or that the budget no longer covers, comes back as a
ReasoningError item; ENDPOINT_FAILURES calls in a row that fail for the endpoint's sake (unreachable, refused, no
such model, server errors) raise LLMEndpointError instead, which stops the run.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from transforms.reasoning import ReasoningError
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.ledger import BudgetExhausted, Ledger, TokensHeld, prompt_key

CACHE_HINT = "pass --llm-cache PATH or set WORLDLINE_CACHE_DIR to a folder worldline may write"
_MAX_PART_CHARS = 6000
# Failed calls in a row, each after its retries, that stop the run: a dead endpoint would otherwise fail every row
# of a long run, a few seconds of retries each. A row's own failure (a 400 for a prompt over the context, a reply
# cut off) does not count, and any reply resets the count.
ENDPOINT_FAILURES = 20
# How often a call waits for the calls in flight to settle when they hold the token budget left.
HELD_POLL_SECONDS = 0.05
# The chat template's own tokens around the two messages, over the prompt estimate below (ChatML's markers are ~80
# bytes: a byte-level vocabulary's tokens).
_TEMPLATE_TOKENS = 128

INSTRUCTIONS = (
    "You write the reasoning a world model should think before predicting an environment's next observation. "
    "You are shown the current observation, the agent's action, the real next observation, and facts computed "
    "from the difference between the two observations. Write 2 to 5 sentences, present tense, that explain from "
    "the current observation and the action why the next observation looks the way it does. Use only what the "
    "inputs show; do not quote the whole next observation; do not mention that you were shown it. "
    "Reply with the reasoning only."
)

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_PART_CHARS else text[:_MAX_PART_CHARS] + "\n[...]"


def shown_url(url) -> str:
    """The endpoint as worldline prints it: without the `user:password@` an --llm-endpoint may hold, which would
    otherwise reach console and CI logs with every error naming the endpoint."""
    text = str(url)
    parts = urlsplit(text)
    if "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class LLMEndpointError(RuntimeError):
    """The endpoint cannot serve this run at all (unreachable, refused, wrong key)."""


class LLMCacheError(RuntimeError):
    """The cache file has no place to go, or cannot be made or opened where it goes: every row would fail alike."""


def default_cache() -> Path:
    """The cache file when --llm-cache is not given: under $WORLDLINE_CACHE_DIR, else ~/.cache/worldline. Looked up
    when a run needs it, not at import: a user with no home folder (no $HOME, a uid with no passwd entry) could not
    import this module, and a worker's home is not the launcher's."""
    folder = os.environ.get("WORLDLINE_CACHE_DIR")  # empty counts as unset, as apt_served reads it
    if not folder:
        try:
            folder = Path.home() / ".cache" / "worldline"
        except (RuntimeError, KeyError):  # RuntimeError: "Could not determine home directory."
            raise LLMCacheError(f"--reasoning llm caches its traces in a file, and with no home folder there is "
                                f"no default place for it: {CACHE_HINT}") from None
    return Path(folder) / "reasoning.sqlite"


def open_cache(path: Path) -> Ledger:
    """The cache file's ledger, or LLMCacheError naming the file and why it cannot be made or opened there."""
    try:
        return Ledger(path)
    except OSError as exc:
        code, reason = exc.errno, exc.strerror or str(exc)
    except sqlite3.OperationalError as exc:
        # sqlite's own words for a file it cannot open or write; a busy file (a lock timeout) is not the place's fault
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
        code, reason = _refused_by(path.parent), str(exc)
    # The errno as Python words it ("[Errno 30]"): pipelines.os_errors keeps Beam's log of a step that failed for
    # the disk out of the console, so the command's one line is all that shows; the command prints it without.
    told = f"[Errno {code}] {reason}" if code else reason
    raise LLMCacheError(f"cannot write the LLM cache {path}: {told}: {CACHE_HINT}")


def _refused_by(folder: Path) -> int | None:
    """Why a folder that exists refuses a file sqlite could not open or write there: its disk is mounted read-only,
    or this user may not write in it; None where neither (the file itself is read-only)."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except OSError:
        return None
    return None if os.access(folder, os.W_OK) else errno.EACCES


class ReplyCutOff(RuntimeError):
    """The reply stopped at max_tokens: a partial trace (or a reasoning model's unfinished thinking), not a trace."""


def _endpoint_fault(exc: BaseException) -> bool:
    """A failure that says the endpoint, not this row, is wrong: the next rows would fail the same way."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (401, 403, 404, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)


def reply_text(content: str | None) -> str:
    """The trace in a reply: a reasoning model's `<think>...</think>` block is its own thinking, not the trace,
    and is dropped whole, as is everything before a lone `</think>` (templates that open the block in the prompt).
    Thinking that never closes leaves no trace."""
    text = content or ""
    if _THINK_CLOSE in text:
        text = text.rsplit(_THINK_CLOSE, 1)[1]
    if _THINK_OPEN in text:
        raise ValueError("the reply is thinking that never ended (no </think>)")
    return text.strip()


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # includes timeouts


class LLMSynthesizer:
    name = "llm"

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 cache_path: str | Path | None = None, batch_size: int = 8, max_calls: int | None = None,
                 max_tokens_budget: int | None = None, max_tokens: int = 256, temperature: float = 0.0,
                 retries: int = 3, retry_wait: float = 1.0, timeout: float = 60.0, run_id: str | None = None):
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # Local servers accept any key; the SDK insists on one.
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.cache_path = Path(cache_path) if cache_path else None  # None: default_cache(), where the rows are made
        self.batch_size = batch_size
        self.max_calls = max_calls
        self.max_tokens_budget = max_tokens_budget
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retries = retries
        self.retry_wait = retry_wait
        self.timeout = timeout
        self.run_id = run_id or uuid.uuid4().hex
        self.failures_in_row, self.last_failure = 0, ""
        # What this copy did since drain_counts last asked: calls (retries included), cache_hits, tokens, failures.
        self.counts: Counter = Counter()

    def check(self) -> str | None:
        """Ask the endpoint for its models before a run, so an unreachable endpoint or a wrong key stops the run
        at once instead of dead-lettering every row. Raises LLMEndpointError; returns a warning when the endpoint
        answers but does not list the model (some proxies list none, so that alone does not stop a run)."""
        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=1,
                               timeout=min(self.timeout, 15.0))
        try:
            served = [model.id for model in client.models.list()]
        except openai.APIStatusError as exc:
            raise LLMEndpointError(f"{shown_url(client.base_url)} answered {exc.status_code} when asked for its "
                                   f"models: {exc.message}") from exc
        except openai.APIConnectionError as exc:
            raise LLMEndpointError(f"cannot reach {shown_url(client.base_url)}: {exc}") from exc
        finally:
            client.close()
        if self.model not in served:
            return f"{shown_url(client.base_url)} does not list model {self.model!r} (it lists {served[:5]})"
        return None

    def request(self, row: dict) -> dict:
        """The chat request for one row; also what the cache key is computed from."""
        user = (f"Domain: {row.get('domain')}\nTask: {_clip(row.get('instruction') or '(none)')}\n\n"
                f"Current observation:\n{_clip(row.get('state_text') or '(empty)')}\n\n"
                f"Action:\n{_clip(row.get('action_text') or '')}\n\n"
                f"Next observation:\n{_clip(row.get('next_text') or '(empty)')}\n\n"
                f"Facts from the difference:\n{_clip(grounded_trace(row))}")
        return {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens,
                "messages": [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": user}]}

    def traces(self, rows: list[dict]) -> list[str | Exception]:
        return asyncio.run(self._traces(rows))

    def drain_counts(self) -> dict[str, int]:
        """Calls, cache hits, tokens and failed rows since the last drain (the pipeline adds them to its counters)."""
        counts, self.counts = dict(self.counts), Counter()
        return counts

    def _reserve(self, request: dict) -> int:
        """Tokens a call may spend, held against the token budget while it runs: one token per UTF-8 byte of the
        messages bounds the prompt of a byte-level BPE tokenizer (a real one's prompt is about a third of it), plus
        the template's own and the longest reply."""
        prompt = sum(len(message["content"].encode()) for message in request["messages"])
        return prompt + _TEMPLATE_TOKENS + request["max_tokens"]

    async def _admit(self, ledger: Ledger, reserve: int) -> None:
        """Reserve a call, once the calls in flight (of this worker or another sharing the file) leave room."""
        while True:
            try:
                return ledger.reserve_call(self.run_id, self.max_calls, self.max_tokens_budget, reserve)
            except TokensHeld:
                await asyncio.sleep(HELD_POLL_SECONDS)

    async def _traces(self, rows: list[dict]) -> list[str | Exception]:
        ledger = open_cache(self.cache_path or default_cache())
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0,
                                    timeout=self.timeout)
        rows_counted: Counter = Counter()
        try:
            out: list[str | Exception] = []
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start:start + self.batch_size]
                out += await asyncio.gather(*(self._trace(client, ledger, row, rows_counted) for row in batch))
                self._stop_if_the_endpoint_fails(client)
            return out
        finally:
            self.counts.update(rows_counted)
            ledger.count_rows(self.run_id, rows_counted["cache_hits"], rows_counted["failures"])
            await client.close()
            ledger.close()

    def _stop_if_the_endpoint_fails(self, client) -> None:
        if self.failures_in_row >= ENDPOINT_FAILURES:
            raise LLMEndpointError(f"{self.failures_in_row} calls in a row to {shown_url(client.base_url)} failed, "
                                   f"the last with {self.last_failure}")

    async def _trace(self, client, ledger: Ledger, row: dict, rows_counted: Counter) -> str | Exception:
        row_id = str(row.get("id", "<unknown>"))
        try:
            request = self.request(row)
            key = prompt_key(request)
            cached = ledger.cached(key)
            if cached is not None:
                rows_counted["cache_hits"] += 1
                return cached
            trace = await self._call(client, ledger, request)
            ledger.store(key, self.model, trace)
            return trace
        except Exception as exc:  # noqa: BLE001 - every failure becomes this row's dead-letter reason
            rows_counted["failures"] += 1
            if _endpoint_fault(exc):
                self.failures_in_row += 1
                self.last_failure = f"{type(exc).__name__}: {exc}"
            return ReasoningError(row_id, f"{type(exc).__name__}: {exc}")

    async def _call(self, client, ledger: Ledger, request: dict) -> str:
        retrying = AsyncRetrying(retry=retry_if_exception(_retryable), stop=stop_after_attempt(self.retries + 1),
                                 wait=wait_exponential_jitter(multiplier=self.retry_wait, max=30 * self.retry_wait,
                                                            jitter=self.retry_wait),
                                 reraise=True)
        reserve = self._reserve(request)
        async for attempt in retrying:
            with attempt:
                # Every attempt is a call the endpoint serves, so retries spend budget too.
                await self._admit(ledger, reserve)
                self.counts["calls"] += 1
                try:
                    response = await client.chat.completions.create(**request)
                except BaseException:
                    ledger.settle(self.run_id, reserve, 0)
                    raise
        tokens = response.usage.total_tokens if response.usage is not None else 0
        ledger.settle(self.run_id, reserve, tokens)
        self.counts["tokens"] += tokens
        self.failures_in_row = 0  # the endpoint answered
        choice = response.choices[0] if response.choices else None
        if choice is not None and choice.finish_reason == "length":
            raise ReplyCutOff(f"the reply was cut off at {self.max_tokens} tokens (--llm-max-tokens): raise it, or "
                              "turn the model's thinking off (docs/curation.md)")
        trace = reply_text(choice.message.content if choice is not None else None)
        if not trace:
            raise ValueError("the model returned an empty reply")
        return trace


__all__ = ["BudgetExhausted", "LLMCacheError", "LLMEndpointError", "LLMSynthesizer", "ReplyCutOff", "default_cache"]
