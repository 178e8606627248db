"""Masking cost per screen, side by side in one run: the reference oracle (the rules as first written, each run over
the whole text with no precheck; tests/transforms/test_masking_reference.py) against transforms.masking, on the
consecutive screens of a generated mixed-domain collection and on its ~2 KB screens, plus the cost per transition
as curation calls it (state and next observation, the state usually cached as the previous next observation).
CPU time, not wall time, because the machine is shared.

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
from transforms.normalize import normalize_observation

TRANSITIONS = 5000
ROUNDS = 5  # best of: another process's burst inflates a round, never deflates it


def _transitions() -> list[tuple[str, str]]:
    """(state, next observation) of every transition, normalized, in episode order as curation sees them."""
    with tempfile.TemporaryDirectory(prefix="worldline-bench-masking-") as scratch:
        generate(Path(scratch), TRANSITIONS)
        rows = [row for path in sorted(Path(scratch).rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    return [(normalize_observation(row["state"]) if row["state"] else "", normalize_observation(row["next_observation"]))
            for row in rows]


def _per_call_us(variants: dict, items: list) -> dict[str, float]:
    """Best round per variant, the variants interleaved round by round so a burst of load elsewhere on the shared
    machine hits them alike."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, function in variants.items():
            masking.mask.cache_clear()
            start = time.process_time()
            for item in items:
                function(item)
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / len(items) * 1e6 for name, seconds in best.items()}


def _both_masked(pair: tuple[str, str]) -> None:
    masking.mask(pair[0])
    masking.mask(pair[1])


def main() -> None:
    transitions = _transitions()
    screens = [next_text for _, next_text in transitions]
    two_kb = [text for text in screens if 1800 <= len(text) <= 2400]
    for text in screens[:200] + two_kb[:200]:  # the figures below are only worth printing if the outputs agree
        assert masking.mask(text) == reference_mask(text), text
    print(f"{len(screens)} consecutive screens, mean {sum(map(len, screens)) / len(screens):.0f} chars; "
          f"{len(two_kb)} of 1.8-2.4 KB")
    variants = {"reference": reference_mask, "masking": masking._spans_and_masked}
    print(f"{'input':36s} {'reference us/call':>18s} {'masking us/call':>16s} {'speed-up':>9s} {'calls/s':>9s}")
    for name, texts in (("consecutive screens", screens), ("~2 KB screens", two_kb)):
        figures = _per_call_us(variants, texts)
        reference, ours = figures["reference"], figures["masking"]
        print(f"{name:36s} {reference:18.1f} {ours:16.1f} {reference / ours:8.1f}x {1e6 / ours:9,.0f}")
    per_transition = _per_call_us({"mask": _both_masked}, transitions)["mask"]
    print(f"{'per transition, mask(state)+mask(next)':36s} {'':18s} {per_transition:16.1f} {'':9s} "
          f"{1e6 / per_transition:9,.0f}")


if __name__ == "__main__":
    main()
