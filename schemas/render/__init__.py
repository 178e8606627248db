"""Canonical text renderings of observations, one function per raw format.

They live in schemas/ because both sides need the same function: collectors show the rendered text to policies
(element ids in the text are the ids actions name), and transforms derive the normalized column from `raw`.
Each renderer is `fn(raw: bytes, meta: dict) -> str`, pure, and raises RenderError on input it cannot parse.
"""

from __future__ import annotations

import importlib
import json
import re

# raw_format -> "module:function". Modules are imported on first use so a collector pays only for its own.
RENDERERS = {
    "text": "schemas.render.plain:render_text",
    "tmux-ansi": "schemas.render.terminal:render_terminal",
    "json": "schemas.render.json_text:render_json",
    "mcp-json": "schemas.render.json_text:render_mcp",
    "web-json": "schemas.render.web:render_web",
    "cdp-axtree-json": "schemas.render.web:render_cdp_axtree",
    "aria-yaml": "schemas.render.aria:render_aria",
    "uiautomator-xml": "schemas.render.android:render_uiautomator",
    "atspi-json": "schemas.render.os:render_atspi",
}


class RenderError(ValueError):
    pass


# raw_format -> its function, once imported: curation renders every observation, and import_module costs a few
# microseconds even for a module already imported.
_LOADED: dict = {}


def renderer(raw_format: str):
    found = _LOADED.get(raw_format)
    if found is None:
        found = _LOADED[raw_format] = _load(raw_format)
    return found


def _load(raw_format: str):
    target = RENDERERS.get(raw_format)
    if target is None:
        raise RenderError(f"no renderer for raw_format {raw_format!r}; known: {sorted(RENDERERS)}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def render(raw_format: str, raw: bytes, meta: dict | str | None = None) -> str:
    if isinstance(meta, str):
        meta = json.loads(meta or "{}")
    text = renderer(raw_format)(raw, meta or {})
    return text if raw_format in _DECODED_ONLY else without_surrogates(text)


_SURROGATE = re.compile("[\ud800-\udfff]")
# Formats whose text is only their bytes decoded with U+FFFD for what is not UTF-8 (and numbers from meta): they
# cannot hold a surrogate, and a non-ASCII screen would pay the check for nothing.
_DECODED_ONLY = frozenset({"text", "tmux-ansi"})


def without_surrogates(text: str) -> str:
    """Text with each lone UTF-16 surrogate as U+FFFD. JSON may escape one (`"\\ud83d"`: a JavaScript server that
    cut a string by UTF-16 units, then JSON.stringify), and Python's parser keeps it, but it is not a character:
    UTF-8 cannot carry it, so Arrow cannot store the text and every encode() of it raises. U+FFFD is what invalid
    UTF-8 bytes already render as, and what a UTF-8 writer (TextEncoder, Node's Buffer) makes of the same string;
    the raw bytes keep the escape. Here, not in each parser, so that every renderer and the meta they read are
    covered once, for collectors and curation alike."""
    if text.isascii():  # O(1): most observations
        return text
    try:
        text.encode("utf-8")  # a few microseconds for a page of text, about a fifth of a regex scan's time
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text
