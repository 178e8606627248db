"""Masking cost per screen, side by side in one run: every rule over the whole text (no line memo) against
`mask` with its line memo, on consecutive screens of a generated mixed-domain collection (the realistic hit rate)
and on ~2 KB screens with the memo emptied before each call (no hits: the worst case). CPU time, not wall time,
because the machine is shared.

`python -m benchmarks masking`
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.bench_curate import generate
from transforms import masking
from transforms.normalize import normalize_observation

TRANSITIONS = 5000
ROUNDS = 5  # best of: another process's burst inflates a round, never deflates it


def _screens() -> list[str]:
    """The normalized next observation of every transition, in episode order, as curation sees them."""
    with tempfile.TemporaryDirectory(prefix="worldline-bench-masking-") as scratch:
        generate(Path(scratch), TRANSITIONS)
        return [normalize_observation(row["next_observation"]) for path in sorted(Path(scratch).rglob("*.parquet"))
                for row in pq.read_table(path).to_pylist()]


def _whole_text(text: str) -> tuple[list[tuple], str]:
    spans = masking._scan(text)
    return spans, masking._masked_line(text, spans)


def _forget() -> None:
    masking._memo.clear()
    masking._memo_size = 0


def _cold(text: str) -> tuple[list[dict], str]:
    _forget()
    return masking._spans_and_masked(text)


def _per_call_us(variants: dict, texts: list[str]) -> dict[str, float]:
    """Best round per variant, the variants interleaved round by round so a burst of load elsewhere on the shared
    machine hits them alike. A variant is (function, setup run before each round, or None)."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, (function, setup) in variants.items():
            if setup is not None:
                setup()
            start = time.process_time()
            for text in texts:
                function(text)
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / len(texts) * 1e6 for name, seconds in best.items()}


def _line_hit_rate(texts: list[str]) -> float:
    seen, hits, total = set(), 0, 0
    for text in texts:
        for line in text.split("\n"):
            hits += line in seen
            total += 1
            seen.add(line)
    return hits / total


def main() -> None:
    screens = _screens()
    two_kb = [text for text in screens if 1800 <= len(text) <= 2400]
    mean_chars = sum(map(len, screens)) / len(screens)
    print(f"{len(screens)} consecutive screens, mean {mean_chars:.0f} chars, line hit rate with an unbounded memo "
          f"{_line_hit_rate(screens):.0%}; {len(two_kb)} screens of 1.8-2.4 KB")
    rows = [
        ("consecutive screens", _per_call_us({"whole": (_whole_text, None),
                                              "memo": (masking._spans_and_masked, _forget)}, screens)),
        ("~2 KB screens, no memo hits", _per_call_us({"whole": (_whole_text, None), "memo": (_cold, None)}, two_kb)),
    ]
    print(f"{'input':32s} {'whole-text us/call':>19s} {'line memo us/call':>18s} {'speed-up':>9s} "
          f"{'memo screens/s':>15s}")
    for name, figures in rows:
        whole, memo = figures["whole"], figures["memo"]
        print(f"{name:32s} {whole:19.1f} {memo:18.1f} {whole / memo:8.1f}x {1e6 / memo:15,.0f}")

if __name__ == "__main__":
    main()
