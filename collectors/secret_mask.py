"""Masking of a server's secrets in what the MCP collector records (as CI systems mask secrets in their logs).

A servers-file entry hands values to its server (its `env`, its `args`), and a server that prints its environment
(the everything server's get-env) or echoes its token in an error would put them verbatim in the observations, and
from there in every curated stage and export. The secrets of an entry are the values of its {env:NAME}
placeholders and the values of its `env` variables whose names look secret (SECRET_NAME); each is replaced by the
text `{env:NAME}` wherever it appears.

Why `{env:NAME}` for a literal value too, not `***`: the record then reads the same whether the servers file holds
the token or takes it from the environment (moving `KEY: sk-...` to `KEY: "{env:KEY}"`, as docs/mcp.md advises,
changes no observation, so replays and dedupe still compare alike), and a reader still sees which variable the
server was given.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from sandboxes.mcp_server_spec import ENV_PLACEHOLDER, env_names, expand

# Names whose values are masked even when written literally. AUTH but not AUTHOR: git's GIT_AUTHOR_NAME/_DATE
# (the shipped git entry sets them) are identities and dates the episodes are about, not credentials.
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASS|AUTH(?!OR)|CRED|COOKIE", re.IGNORECASE)
# Shorter values are not masked (LOG_LEVEL=1, DEBUG=true): they are no secret, and replacing them would rewrite
# every occurrence of "1" or "true" in the data.
MIN_SECRET_CHARS = 6
# How many times a value may be JSON-escaped where it appears: in the result's JSON, and once more when the tool's
# text is itself JSON (get-env's JSON.stringify of the environment, inside the result).
ESCAPE_DEPTH = 2


def placeholder(name: str) -> str:
    return "{" + ENV_PLACEHOLDER + ":" + name + "}"


def server_secrets(spec, values: dict) -> dict[str, str]:
    """The secret values of the server entry `spec` (a ServerSpec) -> the variable named in their stead: the values
    of its {env:NAME} placeholders, then the expanded values of its secret-looking `env` variables (`values`: the
    placeholders as the server sees them). A variable that is not set is left out: the start says so."""
    secrets: dict[str, str] = {}
    for text in [*spec.args, *spec.env.values(), spec.url]:
        for name in env_names(text):
            value = os.environ.get(name)
            if value is not None:
                secrets.setdefault(value, name)
    for key, text in spec.env.items():
        if SECRET_NAME.search(key):
            secrets.setdefault(expand(text, values, f"server {spec.name!r}"), key)
    return {value: name for value, name in secrets.items() if len(value) >= MIN_SECRET_CHARS}


def _forms(value: str) -> set[str]:
    """`value` as it reads in text and JSON-escaped up to ESCAPE_DEPTH times (ASCII-only and not)."""
    forms = {value}
    for _ in range(ESCAPE_DEPTH):
        forms |= {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in forms for ascii_only in (True, False)}
    return forms


class SecretMask:
    """Replaces the given secret values (value -> NAME) by `{env:NAME}`. Each method adds the names of what it
    masked to `found`. An empty mask (a server without secrets) changes nothing and costs nothing."""

    def __init__(self, secrets: dict[str, str] | None = None):
        self.secrets = dict(secrets or {})
        # Longest first, so that a value holding another (a header "Bearer TOKEN" and TOKEN) goes whole.
        self._forms = sorted(((form, placeholder(name), name) for value, name in self.secrets.items()
                              for form in _forms(value)), key=lambda item: -len(item[0]))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, text: str, found: set[str]) -> str:
        for form, replacement, name in self._forms:
            if form in text:
                text = text.replace(form, replacement)
                found.add(name)
        return text

    def value(self, value: Any, found: set[str]) -> Any:
        """A JSON-like value with its strings (keys too) masked; a number that shows a secret becomes the mask."""
        if isinstance(value, str):
            return self.text(value, found)
        if isinstance(value, dict):
            return {self.text(str(k), found) if isinstance(k, str) else k: self.value(v, found)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, found) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            masked = self.text(str(value), found)
            return value if masked == str(value) else masked
        return value

    def leaks(self, text: str) -> bool:
        return any(value in text for value in self.secrets)

    def raw(self, raw: bytes, found: set[str]) -> bytes:
        """JSON bytes with the secrets masked, kept byte for byte elsewhere. Where that is not enough (a secret
        inside a number, or escaped in a way the replaced forms do not cover, such as \\u0073 for s), the JSON is
        masked value by value and written compactly."""
        if not self:
            return raw
        masked = raw
        for form, replacement, name in self._forms:
            encoded = form.encode()
            if encoded in masked:
                masked = masked.replace(encoded, replacement.encode())
                found.add(name)
        try:
            parsed = json.loads(raw)
        except ValueError:
            return masked  # not JSON: the text forms were all there is to mask
        try:
            clean = not self._leaks_in(json.loads(masked))
        except ValueError:
            clean = False  # a secret made of digits was part of a number
        if clean:
            return masked
        return json.dumps(self.value(parsed, found), ensure_ascii=False, separators=(",", ":")).encode()

    def _leaks_in(self, value: Any) -> bool:
        if isinstance(value, dict):
            return any(self.leaks(str(k)) or self._leaks_in(v) for k, v in value.items())
        if isinstance(value, list):
            return any(self._leaks_in(v) for v in value)
        return not isinstance(value, bool) and value is not None and self.leaks(str(value))
