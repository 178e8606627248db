"""LLM reasoning: ask any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, OpenAI) for the trace.

The model sees the state, the action, the real next observation and the grounded facts of the diff, and writes
the reasoning that leads from the first two to the third. Requests run concurrently in batches, retry on 429/5xx
and connection errors, are cached in a sqlite file by prompt, and stop at a budget of calls and tokens. A row whose
call fails, or that the budget no longer covers, comes back as a ReasoningError item.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from transforms.reasoning import ReasoningError
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.ledger import BudgetExhausted, Ledger, prompt_key

DEFAULT_CACHE = Path(os.environ.get("WORLDLINE_CACHE_DIR", Path.home() / ".cache" / "worldline")) / "reasoning.sqlite"
_MAX_PART_CHARS = 6000

INSTRUCTIONS = (
    "You write the reasoning a world model should think before predicting an environment's next observation. "
    "You are shown the current observation, the agent's action, the real next observation, and facts computed "
    "from the difference between the two observations. Write 2 to 5 sentences, present tense, that explain from "
    "the current observation and the action why the next observation looks the way it does. Use only what the "
    "inputs show; do not quote the whole next observation; do not mention that you were shown it. "
    "Reply with the reasoning only."
)

_THINK = re.compile(r"</?think>")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_PART_CHARS else text[:_MAX_PART_CHARS] + "\n[...]"


class LLMEndpointError(RuntimeError):
    """The endpoint cannot serve this run at all (unreachable, refused, wrong key)."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # includes timeouts


class LLMSynthesizer:
    name = "llm"

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 cache_path: str | Path = DEFAULT_CACHE, batch_size: int = 8, max_calls: int | None = None,
                 max_tokens_budget: int | None = None, max_tokens: int = 256, temperature: float = 0.0,
                 retries: int = 3, retry_wait: float = 1.0, timeout: float = 60.0, run_id: str | None = None):
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # Local servers accept any key; the SDK insists on one.
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "none"
        self.cache_path = Path(cache_path)
        self.batch_size = batch_size
        self.max_calls = max_calls
        self.max_tokens_budget = max_tokens_budget
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retries = retries
        self.retry_wait = retry_wait
        self.timeout = timeout
        self.run_id = run_id or uuid.uuid4().hex

    def check(self) -> str | None:
        """Ask the endpoint for its models before a run, so an unreachable endpoint or a wrong key stops the run
        at once instead of dead-lettering every row. Raises LLMEndpointError; returns a warning when the endpoint
        answers but does not list the model (some proxies list none, so that alone does not stop a run)."""
        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=1,
                               timeout=min(self.timeout, 15.0))
        try:
            served = [model.id for model in client.models.list()]
        except openai.APIStatusError as exc:
            raise LLMEndpointError(f"{client.base_url} answered {exc.status_code} when asked for its models: "
                                   f"{exc.message}") from exc
        except openai.APIConnectionError as exc:
            raise LLMEndpointError(f"cannot reach {client.base_url}: {exc}") from exc
        finally:
            client.close()
        if self.model not in served:
            return f"{client.base_url} does not list model {self.model!r} (it lists {served[:5]})"
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

    async def _traces(self, rows: list[dict]) -> list[str | Exception]:
        ledger = Ledger(self.cache_path)
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0,
                                    timeout=self.timeout)
        try:
            out: list[str | Exception] = []
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start:start + self.batch_size]
                out += await asyncio.gather(*(self._trace(client, ledger, row) for row in batch))
            return out
        finally:
            await client.close()
            ledger.close()

    async def _trace(self, client, ledger: Ledger, row: dict) -> str | Exception:
        row_id = str(row.get("id", "<unknown>"))
        try:
            request = self.request(row)
            key = prompt_key(request)
            cached = ledger.cached(key)
            if cached is not None:
                return cached
            trace = await self._call(client, ledger, request)
            ledger.store(key, self.model, trace)
            return trace
        except Exception as exc:  # noqa: BLE001 - every failure becomes this row's dead-letter reason
            return ReasoningError(row_id, f"{type(exc).__name__}: {exc}")

    async def _call(self, client, ledger: Ledger, request: dict) -> str:
        retrying = AsyncRetrying(retry=retry_if_exception(_retryable), stop=stop_after_attempt(self.retries + 1),
                                 wait=wait_exponential_jitter(multiplier=self.retry_wait, max=30 * self.retry_wait,
                                                            jitter=self.retry_wait),
                                 reraise=True)
        async for attempt in retrying:
            with attempt:
                # Every attempt is a call the endpoint serves, so retries spend budget too.
                ledger.reserve_call(self.run_id, self.max_calls, self.max_tokens_budget)
                response = await client.chat.completions.create(**request)
        if response.usage is not None:
            ledger.add_tokens(self.run_id, response.usage.total_tokens)
        content = response.choices[0].message.content if response.choices else None
        trace = _THINK.sub("", content or "").strip()
        if not trace:
            raise ValueError("the model returned an empty reply")
        return trace


__all__ = ["BudgetExhausted", "LLMEndpointError", "LLMSynthesizer"]
