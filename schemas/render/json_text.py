"""JSON observations as text: canonical JSON, and MCP tool results rendered the way a model reads them.

Canonical means the same value always prints the same way: keys sorted, two-space indent, non-ASCII kept,
integers as integers and floats in Python's shortest round-trip form. NaN/Infinity are not JSON and are rejected.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from schemas.render import RenderError


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


# Built once: json.loads given parse_constant builds a decoder and its scanner on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(raw: bytes, what: str = "JSON") -> Any:
    if not raw:
        raise RenderError(f"empty {what}")
    try:
        # Drops a byte-order mark some servers prepend, as the utf-8-sig codec does but without its Python call.
        text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8")
        if text.startswith("\ufeff"):
            # What json.loads says of a second mark (the decoder alone would only say "Expecting value").
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RenderError(f"invalid {what}: {exc}") from exc


def canonical_json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        # A number too big for a double (1e400) parses as infinity, which canonical JSON cannot print.
        raise RenderError(f"number out of range: {exc}") from exc


def render_json(raw: bytes, meta: dict) -> str:
    return canonical_json(parse_json(raw))


def _describe_binary(kind: str, block: dict) -> str:
    data = block.get("data") or block.get("blob") or ""
    mime = block.get("mimeType") or "unknown type"
    # Base64 payloads carry no text a model could predict; their kind, type and size are what it can see.
    return f"[{kind}: {mime}, {len(data) * 3 // 4} bytes]"


def _content_block_text(block: Any) -> str:
    if not isinstance(block, dict):
        raise RenderError(f"content block is {type(block).__name__}, not an object")
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        return _describe_binary(kind, block)
    if kind == "resource":
        resource = block.get("resource") or {}
        if "text" in resource:
            return str(resource["text"])
        return _describe_binary(f"resource {resource.get('uri', '')}".rstrip(), resource)
    if kind == "resource_link":
        named = " ".join(str(block[k]) for k in ("name", "uri") if block.get(k))
        return f"[resource link: {named}]"
    raise RenderError(f"unknown content block type {kind!r}")


def _is_tool_result(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("content"), list) and (
        "isError" in value or "structuredContent" in value
        or all(isinstance(b, dict) and "type" in b for b in value["content"]))


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: Python's == also takes True for 1 and 1.0 for 1, which JSON tells apart."""
    return a == b and _json_key(a) == _json_key(b)


def _said(structured: Any) -> list:
    """What structured content says: itself, and the value of a one-key object. SDKs wrap a bare return as
    {"result": v}, and servers wrap their text the same way under a key of their own (the filesystem server's
    {"content": text}, the memory server's {"entities": [...]})."""
    said = [structured]
    if isinstance(structured, dict) and len(structured) == 1:
        said.append(next(iter(structured.values())))
    return said


def _repeated(text: str, said: list) -> str | None:
    """A text block that says what structured content says, in canonical form (the text itself when it is that
    string); None for any other text."""
    if any(isinstance(value, str) and value == text for value in said):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return canonical_json(value) if any(_same_json(value, candidate) for candidate in said) else None


def render_tool_result(result: dict) -> str:
    texts = [_content_block_text(block) for block in result["content"]]
    structured = result.get("structuredContent")
    # The spec asks servers to repeat structured content as a JSON text block; showing it twice would only teach
    # the model to repeat itself. The repeat is shown in canonical form, as structured content is: the server's key
    # order and spacing would make two runs of the same call differ. Structured content that only wraps what the
    # blocks say (their text, or the blocks themselves) is not shown either.
    repeated = False
    if structured is not None:
        said = _said(structured)
        for index, text in enumerate(texts):
            canonical = _repeated(text, said)
            if canonical is not None:
                texts[index], repeated = canonical, True
        if not repeated and len(said) > 1 and texts:
            repeated = said[1] == "\n".join(texts) or _same_json(said[1], result["content"])
    parts = ["[tool error]"] if result.get("isError") else []
    parts += texts
    if structured is not None and not repeated:
        parts.append(canonical_json(structured))
    return "\n".join(parts)


def _render_rpc_error(error: Any) -> str:
    if not isinstance(error, dict):
        raise RenderError(f"JSON-RPC error is {type(error).__name__}, not an object")
    line = f"[error {error.get('code', '?')}] {error.get('message', '')}".rstrip()
    if error.get("data") is not None:
        line += "\n" + canonical_json(error["data"])
    return line


def render_mcp(raw: bytes, meta: dict) -> str:
    value = parse_json(raw, "MCP JSON")
    # A JSON-RPC envelope's id and version are transport detail, not part of what the tool returned.
    if isinstance(value, dict) and ("result" in value or "error" in value) and ("jsonrpc" in value or "id" in value):
        if value.get("error") is not None:
            return _render_rpc_error(value["error"])
        value = value["result"]
    if _is_tool_result(value):
        return render_tool_result(value)
    if isinstance(value, dict):
        # `_meta` is protocol bookkeeping (server info, progress tokens), not what the server answered.
        value = {key: item for key, item in value.items() if key != "_meta"}
    return canonical_json(value)
