"""An MCP proxy that sits between a client session and a real server's transport and, by a declarative spec,
perturbs what the client sees: partial responses, errors, timeouts, latency, rate limits and stale results.

It works on JSON-RPC messages (the SDK's SessionMessage), so it serves any transport. It also records every
request/response exchange as it crossed the wire, which is how the collector gets the raw result bytes: the
message the server sent (`original`, the unperturbed reference) and the one the client received (`delivered`).

Requests that the proxy answers itself (injected errors, rate limits, the second half of a partial response)
reach the server only as a `ping`, so the server's state only changes when the client believes the call happened.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import random
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

from sandboxes.mcp_repair import repaired_message

KINDS = ("truncate", "partial", "tool_error", "jsonrpc_error", "timeout", "latency", "rate_limit", "stale")
LIST_ITEMS = {"tools/list": "tools", "resources/list": "resources", "prompts/list": "prompts",
              "resources/templates/list": "resourceTemplates"}
PARTIAL_CURSOR = "worldline-partial:"
RULE_KEYS = {"kind", "name", "match", "calls", "every", "probability", "ms", "max_chars", "keep", "code",
             "message", "max_calls", "per_s"}


class PerturbationSpecError(ValueError):
    pass


def dumps(value: Any) -> bytes:
    """Compact JSON in the order the server sent it: what Python and Node MCP servers themselves write."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Rule:
    kind: str
    name: str = ""
    method: str = "tools/call"
    tool: str = "*"
    calls: list[int] | None = None  # 1-based positions among the calls this rule matches
    every: int | None = None
    probability: float | None = None
    ms: float = 0.0
    max_chars: int = 200
    keep: int = 1
    code: int = -32603
    message: str = ""
    max_calls: int = 1
    per_s: float = 60.0
    seen: int = 0
    recent: deque = field(default_factory=deque)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name or self.tool}"

    def matches(self, method: str, tool: str | None) -> bool:
        return method == self.method and (tool is None or fnmatch.fnmatchcase(tool, self.tool))

    def fires(self, rng: random.Random) -> bool:
        """Counts one matching call and says whether this rule applies to it."""
        self.seen += 1
        if self.calls is not None:
            return self.seen in self.calls
        if self.every is not None:
            return self.seen % self.every == 0
        if self.probability is not None:
            return rng.random() < self.probability
        return True


def parse_rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise PerturbationSpecError(f"{where}: a perturbation must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - RULE_KEYS
    if unknown:
        raise PerturbationSpecError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(RULE_KEYS)}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise PerturbationSpecError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    match = entry.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"method", "tool"}:
        raise PerturbationSpecError(f"{where}: match takes only 'method' and 'tool', got {match!r}")
    rule = Rule(kind=kind, name=str(entry.get("name", "")), method=match.get("method", "tools/call"),
                tool=match.get("tool", "*"), calls=entry.get("calls"), every=entry.get("every"),
                probability=entry.get("probability"))
    for key in ("ms", "max_chars", "keep", "code", "message", "max_calls", "per_s"):
        if key in entry:
            setattr(rule, key, type(getattr(rule, key))(entry[key]))
    if kind == "partial" and rule.keep < 0:
        raise PerturbationSpecError(f"{where}: partial needs keep >= 0")
    return rule


def parse_spec(entries: Any, where: str = "perturbations") -> list[Rule]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise PerturbationSpecError(f"{where}: expected a list of perturbations, got {type(entries).__name__}")
    return [parse_rule(entry, f"{where}[{i}]") for i, entry in enumerate(entries)]


@dataclass
class Exchange:
    """One request and its answers. `delivered` is None when the client got nothing (a timeout)."""

    method: str
    params: dict
    original: types.JSONRPCResponse | types.JSONRPCError | None = None
    delivered: types.JSONRPCResponse | types.JSONRPCError | None = None
    labels: list[str] = field(default_factory=list)
    answered_by_proxy: bool = False
    repaired: str | None = None  # why the server's message is not quite as it sent it (see _repaired)

    def raw(self, message) -> bytes:
        if message is None:
            return b""
        if isinstance(message, types.JSONRPCResponse):
            return dumps(message.result)
        return message.model_dump_json(by_alias=True, exclude_none=True).encode()


def _tool_name(method: str, params: dict) -> str | None:
    if method == "tools/call":
        return params.get("name")
    if method == "prompts/get":
        return params.get("name")
    if method == "resources/read":
        return params.get("uri")
    return None


def _call_key(method: str, params: dict) -> str:
    return method + "\0" + json.dumps({k: v for k, v in params.items() if k != "_meta"}, sort_keys=True)


class PerturbingProxy:
    """Forwards messages between a client's streams and a server's, applying `rules` to responses."""

    def __init__(self, rules: list[Rule] | None = None, seed: int = 0):
        self.rules = rules or []
        self.rng = random.Random(seed)
        self.exchanges: dict[Any, Exchange] = {}
        self.order: list[Exchange] = []
        self._first_results: dict[str, dict] = {}
        self._held_back: dict[str, list] = {}
        self._cursors = 0
        self._substitutes: dict[Any, Any] = {}
        self._repairs: dict[Any, str] = {}  # by JSON-RPC id: answers the http transport repaired (note_repair)

    def note_repair(self, message_id: Any, why: str) -> None:
        """The http transport repaired the answer with this id before the SDK parsed it (mcp_repair)."""
        self._repairs[message_id] = why

    def take(self, since: int) -> list[Exchange]:
        """Exchanges started after position `since` (the collector calls one request at a time)."""
        return self.order[since:]

    @asynccontextmanager
    async def wrap(self, server_read, server_write):
        """Yields (read, write) streams for a ClientSession, connected through this proxy to the server's.

        The proxy works inline, in the session's own reads and writes, adding no task hop to a call. A request it
        answers itself is replaced on the wire by a `ping` with the same id, and the ping's reply by its answer:
        the server does nothing, and the answer arrives in order on the one stream the session reads."""
        self._repairs.clear()  # a restarted server's session numbers its requests afresh
        yield _ProxyRead(self, server_read), _ProxyWrite(self, server_write)

    async def _to_server(self, session_message: SessionMessage) -> SessionMessage:
        message = session_message.message
        if not isinstance(message, types.JSONRPCRequest):
            return session_message
        exchange = Exchange(message.method, message.params or {})
        self.exchanges[message.id] = exchange
        self.order.append(exchange)
        answer = self._answer_locally(message, exchange) if self.rules else None
        if answer is None:
            return session_message
        exchange.answered_by_proxy = True
        self._substitutes[message.id] = answer
        return SessionMessage(types.JSONRPCRequest(jsonrpc="2.0", id=message.id, method="ping"))

    async def _from_server(self, item):
        """What the client gets for one server message; None to swallow it (a timeout)."""
        repair = None
        if isinstance(item, Exception):
            repaired = _repaired(item)
            if repaired is None:
                return item
            item, repair = repaired
        message = item.message if isinstance(item, SessionMessage) else None
        if not isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
            return item
        if self._repairs:
            repair = self._repairs.pop(message.id, repair)
        exchange = self.exchanges.get(message.id)
        if exchange is None:
            return item
        exchange.repaired = repair
        substitute = self._substitutes.pop(message.id, None)
        if substitute is not None:
            exchange.delivered = substitute
            return SessionMessage(substitute, metadata=item.metadata)
        exchange.original = message
        delivered = await self._perturb(exchange, message) if self.rules else message
        exchange.delivered = delivered
        if delivered is None:
            return None
        return item if delivered is message else SessionMessage(delivered, metadata=item.metadata)

    def _fired(self, exchange: Exchange, kinds: tuple[str, ...]) -> list[Rule]:
        tool = _tool_name(exchange.method, exchange.params)
        return [r for r in self.rules if r.kind in kinds and r.matches(exchange.method, tool) and r.fires(self.rng)]

    def _answer_locally(self, request: types.JSONRPCRequest, exchange: Exchange):
        params = exchange.params
        key = exchange.method
        # The follow-up call of a partial list answer: the server never issued this cursor, the proxy did.
        cursor = params.get("cursor")
        if isinstance(cursor, str) and cursor.startswith(PARTIAL_CURSOR):
            rest = self._held_back.pop(cursor, [])
            exchange.labels.append(f"partial:{key}:follow-up")
            return types.JSONRPCResponse(jsonrpc="2.0", id=request.id, result={LIST_ITEMS[key]: rest})
        # The follow-up of a partial tool result: the same call again returns the blocks held back.
        held = self._held_back.pop(_call_key(exchange.method, params), None) if self._held_back else None
        if held is not None:
            exchange.labels.append(f"partial:{_tool_name(exchange.method, params)}:follow-up")
            return types.JSONRPCResponse(jsonrpc="2.0", id=request.id, result={"content": held})
        for rule in self._fired(exchange, ("rate_limit", "tool_error", "jsonrpc_error")):
            if rule.kind == "rate_limit":
                now = time.monotonic()
                while rule.recent and now - rule.recent[0] > rule.per_s:
                    rule.recent.popleft()
                if len(rule.recent) < rule.max_calls:
                    rule.recent.append(now)
                    continue
                retry = max(0.0, rule.per_s - (now - rule.recent[0]))
                exchange.labels.append(rule.label)
                return types.JSONRPCError(jsonrpc="2.0", id=request.id, error=types.ErrorData(
                    code=rule.code if rule.code != -32603 else -32029,
                    message=rule.message or f"Rate limit exceeded: at most {rule.max_calls} calls per "
                                            f"{rule.per_s:g} s; retry after {math.ceil(retry)} s",
                    data={"retryAfterSeconds": math.ceil(retry)}))
            exchange.labels.append(rule.label)
            if rule.kind == "tool_error":
                text = rule.message or f"Error: the tool {_tool_name(exchange.method, params)!r} is temporarily " \
                                        f"unavailable (upstream service error)"
                return types.JSONRPCResponse(jsonrpc="2.0", id=request.id,
                                             result={"content": [{"type": "text", "text": text}], "isError": True})
            return types.JSONRPCError(jsonrpc="2.0", id=request.id, error=types.ErrorData(
                code=rule.code, message=rule.message or "Internal error"))
        return None

    async def _perturb(self, exchange: Exchange, message):
        if not isinstance(message, types.JSONRPCResponse):
            return message
        result = message.result
        fired = self._fired(exchange, ("latency", "timeout", "stale", "truncate", "partial"))
        first = result
        if any(rule.kind == "stale" for rule in self.rules):  # only then is every first answer worth keeping
            first = self._first_results.setdefault(_call_key(exchange.method, exchange.params), result)
        for rule in fired:
            if rule.kind == "latency":
                await anyio.sleep(rule.ms / 1000)
            elif rule.kind == "timeout":
                exchange.labels.append(rule.label)
                return None
            elif rule.kind == "stale":
                if first is result:
                    continue  # nothing older to serve on the first call
                result = first
            elif rule.kind == "truncate":
                result = _truncate(result, rule.max_chars)
            elif rule.kind == "partial":
                result = self._partial(exchange, result, rule.keep)
            if result is not message.result or rule.kind == "latency":
                exchange.labels.append(rule.label)
        if result is message.result:
            return message
        return types.JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)

    def _partial(self, exchange: Exchange, result: dict, keep: int) -> dict:
        items_key = LIST_ITEMS.get(exchange.method)
        if items_key is not None:
            items = result.get(items_key) or []
            if len(items) <= keep:
                return result
            self._cursors += 1
            cursor = f"{PARTIAL_CURSOR}{exchange.method}:{self._cursors}"
            self._held_back[cursor] = items[keep:]
            return {**result, items_key: items[:keep], "nextCursor": cursor}
        blocks = result.get("content")
        if not isinstance(blocks, list) or len(blocks) <= keep:
            return result
        self._held_back[_call_key(exchange.method, exchange.params)] = blocks[keep:]
        note = {"type": "text", "text": f"[partial result: {keep} of {len(blocks)} content blocks shown; "
                                        f"repeat the same call to fetch the remaining {len(blocks) - keep}]"}
        return {k: v for k, v in result.items() if k != "structuredContent"} | {"content": blocks[:keep] + [note]}


class _ProxyStream:
    """Wraps one of the session's streams; closing and transport extras (e.g. last_context) go to the wrapped one."""

    def __init__(self, proxy: PerturbingProxy, stream):
        self.proxy, self.stream = proxy, stream

    async def aclose(self) -> None:
        await self.stream.aclose()

    def close(self) -> None:
        self.stream.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class _ProxyWrite(_ProxyStream):
    """The session's write stream: requests pass through the proxy on their way to the server's stream."""

    async def send(self, session_message: SessionMessage) -> None:
        await self.stream.send(await self.proxy._to_server(session_message))


class _ProxyRead(_ProxyStream):
    """The session's read stream: server messages pass through the proxy before the session sees them."""

    async def receive(self):
        while True:
            item = await self.stream.receive()
            delivered = await self.proxy._from_server(item)
            if delivered is not None:
                return delivered

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None


def _repaired(error: Exception) -> tuple[SessionMessage, str] | None:
    """A stdio server line the SDK could not parse only because of what mcp_repair.repaired_message repairs, as
    the repaired message and a note saying so; None for any other error. Here, in the one place every server message
    passes, not in the SDK's stdio reader: its parser is the SDK's own. (The http transport keeps no refused body:
    mcp_repair.RepairingTransport repairs it before the SDK reads it.)

    The stdio client decodes with "surrogateescape" (mcp_servers): a byte that is not UTF-8 is in the line as
    U+DC80-U+DCFF, which the parser refuses as `string_unicode`; encoded back the same way, the line is the bytes
    the server wrote, so the note names those bytes."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return None
    try:
        line = next((detail["input"] for detail in errors() if detail.get("type") in ("json_invalid", "string_unicode")
                     and isinstance(detail.get("input"), str)), None)
    except Exception:  # noqa: BLE001 - a ValueError of another kind: not one to repair
        return None
    if line is None:
        return None
    try:
        sent = line.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no decoding made: not a line as the server sent it
        return None
    repaired = repaired_message(sent)
    if repaired is None:
        return None
    return SessionMessage(repaired[0]), repaired[2]


class RepairedLineLog(logging.Filter):
    """Drops the SDK's traceback for a server line the proxy repairs (_repaired): the call goes on as answered,
    and the repair is in the observation's meta, so "Failed to parse JSONRPC message" on the console would only
    mislead. Every other parse failure is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or _repaired(error) is None


def _truncate(result: dict, max_chars: int) -> dict:
    """Cuts text content to `max_chars` characters in total, as a server with an output cap would."""
    blocks = result.get("content")
    if not isinstance(blocks, list):
        return result
    budget, out, cut = max_chars, [], False
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text":
            text = block.get("text", "")
            if len(text) > budget:
                block, cut = {**block, "text": text[:budget] + "…[truncated]"}, True
            budget = max(0, budget - len(text))
        out.append(block)
    if not cut:
        return result
    return {k: v for k, v in result.items() if k != "structuredContent"} | {"content": out}
