"""Normalize one stored observation to the text a world model is trained to predict.

The normalized text is always recomputed from `raw` with the same renderer collectors use (schemas.render), so a
renderer fix reaches old collections by re-running curation. `text` is only the fallback for observations whose
environment returned no raw bytes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from types import MappingProxyType

from schemas.render import render


class NormalizeError(ValueError):
    """An observation whose raw bytes could not be rendered; the message names the raw_format and the reason."""

    def __init__(self, raw_format: str, reason: str):
        self.raw_format = raw_format
        self.reason = reason
        super().__init__(f"cannot normalize {raw_format!r} observation: {reason}")


def normalize_observation(obs_row: dict) -> str:
    """obs_row is the OBSERVATION struct as a dict: {text, raw, raw_format, meta_json}."""
    if obs_row is None:
        raise NormalizeError("<none>", "observation is missing")
    raw_format = obs_row.get("raw_format") or "text"
    raw = obs_row.get("raw")
    if not raw:
        return obs_row.get("text") or ""
    if isinstance(raw, str):
        # Rows read back from JSONL carry raw as text rather than bytes.
        raw = raw.encode("utf-8")
    try:
        return render(raw_format, bytes(raw), _parsed_meta(obs_row.get("meta_json") or "{}"))
    except Exception as exc:  # noqa: BLE001 - any renderer failure must reach the dead-letter output, named
        raise NormalizeError(raw_format, f"{type(exc).__name__}: {exc}") from exc


# Observations repeat a few meta strings ("{}", a terminal's size), so each is parsed once. It is parsed even for
# renderers that ignore meta: a meta_json that is not a JSON object is a dead letter whatever the format. The
# cached value is shared by every observation with that string, hence read-only.
@lru_cache(maxsize=1024)
def _parsed_meta(meta_json: str) -> MappingProxyType:
    meta = json.loads(meta_json)
    if not isinstance(meta, dict):
        raise ValueError(f"meta_json is a {type(meta).__name__}, not an object")
    return MappingProxyType(meta)
