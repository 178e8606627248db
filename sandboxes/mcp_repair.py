"""A server message the MCP SDK's parser refuses though it is an answer, made readable, with a note saying how: a JSON
string escaping a lone UTF-16 surrogate (`"emoji \\ud83d"`), or bytes that are not UTF-8, each shown as U+FFFD.

A JavaScript server makes the escape by cutting a string between the two halves of a pair (`slice`, `substring`)
before JSON.stringify; a server that cuts its UTF-8 by bytes makes the other. JSON's grammar allows the escape, and
JavaScript's and Python's parsers take it, but the SDK's (pydantic's) refuses the message: over stdio it only logs it
(the call waited out the whole call timeout and was recorded as a timeout and a restart), over http it answers the
call with its own -32700 "Failed to parse" error without the body, which the record then showed as the server's
answer. U+FFFD is what the renderers show for either too (schemas.render.without_surrogates).

The stdio transport hands the proxy the refused line (sandboxes/mcp_proxy.py, `_repaired`; its bytes that are not
UTF-8 decoded with "surrogateescape", sandboxes/mcp_servers.py, as its strict decoding ended the session); the http
transport keeps no body, so `RepairingTransport` repairs a body before the SDK reads it: a JSON response whole, an
event stream one event at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import mcp_types as types

from schemas.render import without_surrogates

# A JSON escape of a surrogate, half of a pair or alone: bodies without one (nearly all) are not parsed here.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# An event held longer than the SDK's own limit for one event (streamable_http.DEFAULT_MAX_SSE_EVENT_SIZE) goes on
# unrepaired, so that the SDK, not this buffer, meets a server that never ends its event.
MAX_HELD_EVENT_BYTES = 1 << 20

Note = Callable[[Any, str], None]  # (the JSON-RPC id the client will see, why the message is not as sent)


def repaired_message(text: str | bytes) -> tuple[types.JSONRPCMessage, str, str] | None:
    """(message, its JSON, a note) for a message the SDK refuses only for a lone surrogate escape or bytes that are
    not UTF-8; None when there is nothing to repair, or when the repaired text is still no JSON-RPC message (the
    SDK's refusal then stands)."""
    notes = []
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            # No "the SDK refuses": its event stream reader replaces them unsaid, its JSON body reader refuses.
            notes.append(f"the server's JSON was not valid UTF-8 (byte{'s' * (exc.end - exc.start > 1)} "
                         f"{exc.object[exc.start:exc.end].hex(' ').upper()} at byte {exc.start} of the message); "
                         f"shown as U+FFFD")
            text = text.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None  # not JSON to Python either
    dumped = json.dumps(value, ensure_ascii=False)  # each lone surrogate as itself, for without_surrogates to find
    repaired = without_surrogates(dumped)
    if repaired is not dumped:
        lone = sorted({f"U+{ord(c):04X}" for c in dumped if "\ud800" <= c <= "\udfff"})
        notes.append(f"the server's JSON escaped a lone UTF-16 surrogate ({', '.join(lone)}), which the MCP SDK's "
                     f"parser refuses; shown as U+FFFD")
    if not notes:
        return None
    try:
        message = types.jsonrpc_message_adapter.validate_json(repaired, by_name=False)
    except ValueError:
        return None
    return message, repaired, "; ".join(notes)


def _needs_repair(body: bytes) -> bool:
    """Cheap: whether `body` may be one of the messages repaired_message repairs."""
    if _SURROGATE_ESCAPE.search(body):
        return True
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class RepairingTransport(httpx2.AsyncBaseTransport):
    """Wraps the http client's transport: answers whose JSON the SDK would refuse (repaired_message) reach it
    repaired, and `note` hears of each, under the JSON-RPC id the client will see. Everything else passes as it
    came, byte for byte; a compressed body (Content-Encoding) too, as no MCP server sends one."""

    def __init__(self, transport: httpx2.AsyncBaseTransport, note: Note):
        self.transport, self.note = transport, note

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.transport.handle_async_request(request)
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            return response
        kind = response.headers.get("content-type", "").lower()  # read as the SDK reads it
        if kind.startswith("application/json"):
            return await self._json(request, response)
        if kind.startswith("text/event-stream"):
            events = _RepairedEvents(response.stream, lambda message, why: self._noted(request, message, why))
            return httpx2.Response(response.status_code, headers=_without_length(response.headers), stream=events,
                                   extensions=response.extensions)
        return response

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def _json(self, request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        """The SDK reads a JSON answer whole before it parses it: so does this, and only then are the headers
        given, with the repaired body's length."""
        try:
            body = b"".join([chunk async for chunk in response.stream])
        finally:
            await response.aclose()
        repaired = repaired_message(body) if _needs_repair(body) else None
        if repaired is not None:
            message, body, why = repaired[0], repaired[1].encode(), repaired[2]
            self.note(getattr(message, "id", None), why)  # the SDK keeps a JSON answer's own id
        return httpx2.Response(response.status_code, headers=_without_length(response.headers), content=body,
                               extensions=response.extensions)

    def _noted(self, request: httpx2.Request, message: types.JSONRPCMessage, why: str) -> None:
        """An event stream answering a POSTed request: the SDK gives its answer the request's own id."""
        answer = isinstance(message, (types.JSONRPCResponse, types.JSONRPCError))
        key = getattr(message, "id", None)
        if answer and request.method == "POST":
            try:
                key = json.loads(request.content).get("id", key)
            except (ValueError, AttributeError, httpx2.RequestNotRead):
                pass
        self.note(key, why)


def _without_length(headers: httpx2.Headers) -> list[tuple[bytes, bytes]]:
    """The headers but the body's framing, which the inner transport already read and a repair may change."""
    return [(key, value) for key, value in headers.raw if key.lower() not in (b"content-length", b"transfer-encoding")]


class _RepairedEvents(httpx2.AsyncByteStream):
    """An event stream whose events pass one at a time once their blank line has come (the SDK's parser dispatches
    an event only then too): as they came, or with their `data:` lines replaced by one line of repaired JSON."""

    def __init__(self, stream: httpx2.AsyncByteStream, note: Callable[[types.JSONRPCMessage, str], None]):
        self.stream, self.note = stream, note

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending, event, held = b"", [], 0
        stream = aiter(self.stream)
        async for chunk in stream:
            lines, pending = _whole_lines(pending + chunk)
            out = []
            for line in lines:
                event.append(line)
                held += len(line)
                if line in (b"\n", b"\r\n", b"\r"):
                    out.append(self._event(event))
                    event, held = [], 0
            if held + len(pending) > MAX_HELD_EVENT_BYTES:
                # The SDK ends the stream at its limit for one event: what remains passes as it comes.
                yield b"".join(out + event) + pending
                async for rest in stream:
                    yield rest
                return
            if out:
                yield b"".join(out)
        if rest := b"".join(event) + pending:  # an event the stream's end cut short, as it came
            yield rest

    def _event(self, lines: list[bytes]) -> bytes:
        values = [value for line in lines if (value := _data(line)) is not None]
        data = b"\n".join(values)
        repaired = repaired_message(data) if values and _needs_repair(data) else None
        if repaired is None:
            return b"".join(lines)
        message, text, why = repaired
        self.note(message, why)
        out, placed = [], False
        for line in lines:
            if _data(line) is None:
                out.append(line)
            elif not placed:  # json.dumps writes no line break: one data line holds it all
                out.append(b"data: " + text.encode() + b"\n")
                placed = True
        return b"".join(out)

    async def aclose(self) -> None:
        await self.stream.aclose()


def _whole_lines(text: bytes) -> tuple[list[bytes], bytes]:
    """The lines `text` ends (SSE's ends: "\\r\\n", "\\n" or "\\r", as bytes.splitlines breaks), and what follows the
    last one. A final "\\r" may be the first half of "\\r\\n": it waits for the next chunk."""
    end = text.rfind(b"\n") + 1
    lone_cr = text.rfind(b"\r", end, len(text) - 1)
    if lone_cr != -1:
        end = lone_cr + 1
    return text[:end].splitlines(keepends=True), text[end:]


def _data(line: bytes) -> bytes | None:
    """The value of an event's `data` line (SSE: `data` with or without a colon, one leading space dropped); None
    for any other line."""
    field, _, value = line.rstrip(b"\r\n").partition(b":")
    if field != b"data":
        return None
    return value[1:] if value.startswith(b" ") else value
