"""Masking cost per screen, side by side in one run: the reference oracle (the rules as first written, each run over
the whole text with no precheck; tests/transforms/test_masking_reference.py) against transforms.masking one text at
a time and its batch form mask_many (texts joined by newlines, each rule scanned once per group), on the consecutive
screens of a generated mixed-domain collection and on its ~2 KB screens, plus the cost per transition as curation
calls it: mask(state) and mask(next observation), the state usually cached as the previous next observation,
against mask_many over the distinct texts of each chunk of CHUNK_ROWS transitions. CPU time, not wall time, because
the machine is shared.

`python -m benchmarks masking`
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.bench_curate import generate
from tests.transforms.test_masking_reference import reference_mask
from transforms import masking
from transforms.masking import core
from transforms.normalize import normalize_observation

TRANSITIONS = 5000
ROUNDS = 5  # best of: another process's burst inflates a round, never deflates it
CHUNK_ROWS = 2000  # rows per chunk as transforms/prepare.py reads them


def _transitions() -> list[tuple[str, str]]:
    """(state, next observation) of every transition, normalized, in episode order as curation sees them."""
    with tempfile.TemporaryDirectory(prefix="worldline-bench-masking-") as scratch:
        generate(Path(scratch), TRANSITIONS)
        rows = [row for path in sorted(Path(scratch).rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    return [(normalize_observation(row["state"]) if row["state"] else "", normalize_observation(row["next_observation"]))
            for row in rows]


def _per_item_us(variants: dict, items: list) -> dict[str, float]:
    """Best round per variant, each variant called with all the items; the variants interleaved round by round so
    a burst of load elsewhere on the shared machine hits them alike."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, function in variants.items():
            masking.mask.cache_clear()
            start = time.process_time()
            function(items)
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / len(items) * 1e6 for name, seconds in best.items()}


def _one_at_a_time(function):
    return lambda items: [function(item) for item in items]


def _mask_many_by_chunk(texts: list[str]) -> None:
    for first in range(0, len(texts), CHUNK_ROWS):
        masking.mask_many(texts[first:first + CHUNK_ROWS])


def _both_masked(transitions: list[tuple[str, str]]) -> None:
    for state, next_text in transitions:
        masking.mask(state)
        masking.mask(next_text)


def _distinct_masked_by_chunk(transitions: list[tuple[str, str]]) -> None:
    """What curation would do with mask_many: each chunk's distinct texts (a state is mostly the previous row's
    next observation) masked in one call."""
    for first in range(0, len(transitions), CHUNK_ROWS):
        chunk = transitions[first:first + CHUNK_ROWS]
        masking.mask_many(list(dict.fromkeys(text for pair in chunk for text in pair)))


def main() -> None:
    transitions = _transitions()
    screens = [next_text for _, next_text in transitions]
    two_kb = [text for text in screens if 1800 <= len(text) <= 2400]
    # The figures below are only worth printing if the outputs agree.
    for text in screens[:200] + two_kb[:200]:
        assert masking.mask(text) == reference_mask(text), text
    assert masking.mask_many(screens) == list(map(core._spans_and_masked, screens))
    print(f"{len(screens)} consecutive screens, mean {sum(map(len, screens)) / len(screens):.0f} chars; "
          f"{len(two_kb)} of 1.8-2.4 KB")
    variants = {"reference": _one_at_a_time(reference_mask), "masking": _one_at_a_time(core._spans_and_masked),
                "mask_many": _mask_many_by_chunk}
    print(f"{'input':36s} {'reference us/text':>18s} {'mask us/text':>13s} {'mask_many us/text':>18s} "
          f"{'mask_many speed-up':>19s} {'per s':>9s}")
    for name, texts in (("consecutive screens", screens), ("~2 KB screens", two_kb)):
        figures = _per_item_us(variants, texts)
        reference, one, many = figures["reference"], figures["masking"], figures["mask_many"]
        print(f"{name:36s} {reference:18.1f} {one:13.1f} {many:18.1f} {one / many:18.2f}x {1e6 / many:9,.0f}")
    figures = _per_item_us({"mask": _both_masked, "mask_many": _distinct_masked_by_chunk}, transitions)
    print(f"{'per transition, state + next':36s} {'':18s} {figures['mask']:13.1f} {figures['mask_many']:18.1f} "
          f"{figures['mask'] / figures['mask_many']:18.2f}x {1e6 / figures['mask_many']:9,.0f}")


if __name__ == "__main__":
    main()
