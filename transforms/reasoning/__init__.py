"""Reasoning synthesizers: the short trace that precedes the predicted observation in stage-2 targets.

A synthesizer has `name` and `traces(rows) -> list[str | Exception]`, one item per curated-transition row, in
order. An Exception item means that row gets no trace; the pipeline dead-letters its stage-2 row rather than write
one without it (the transition and its stage 1 and 3 rows need no trace and are written). A synthesizer that spends
something (the llm one) may also have `drain_counts() -> dict[str, int]`, which the pipeline adds to its counters.
"""

from __future__ import annotations

import importlib
from typing import Protocol


class Synthesizer(Protocol):
    name: str

    def traces(self, rows: list[dict]) -> list[str | Exception]: ...


class ReasoningError(RuntimeError):
    """A row whose trace could not be made; the message names the row and the reason."""

    def __init__(self, row_id: str, reason: str):
        self.row_id = row_id
        self.reason = reason
        super().__init__(f"record {row_id}: no reasoning trace: {reason}")


SYNTHESIZERS = {
    "grounded": "transforms.reasoning.grounded:GroundedSynthesizer",
    "llm": "transforms.reasoning.llm:LLMSynthesizer",
}


def make_synthesizer(name: str = "grounded", **options) -> Synthesizer:
    target = SYNTHESIZERS.get(name)
    if target is None:
        raise ValueError(f"unknown reasoning synthesizer {name!r}; known: {sorted(SYNTHESIZERS)}")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)(**options)
