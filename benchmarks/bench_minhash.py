"""Batched MinHash (transforms.minhash) against the per-text one it replaced, side by side in one run.

- Speed: CPU microseconds per text for signature + band keys + sketch, over the masked transitions the pipeline
  sketches (transforms.prepare.prepared_rows over benchmarks.bench_curate.generate output), one batch per raw file:
  as whole texts (state, action and next observation joined by newlines), and as the parts the pipeline now hands
  transforms.dedupe.file_part_signatures. The per-text reference is transforms/dedupe.py's signature / band_keys /
  sketch as they were, copied below.
- Quality: planted document pairs with known word-5-gram Jaccard (bench_curate's generator), put through each
  implementation's sketch / LSH keys and the same bucket resolution: recall at J >= 0.8, precision of removals.

`python -m benchmarks minhash`; WORLDLINE_BENCH_QUICK=1 uses fewer transitions and pairs.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import xxhash
from rensa import RMinHash

from benchmarks.bench_curate import generate, planted_pairs, removal_quality
from transforms import dedupe, minhash
from transforms.prepare import prepared_rows
from transforms.validate import Rejected

OPTIONS = dedupe.NearDupOptions()


# ---- the per-text reference: transforms/dedupe.py before transforms/minhash.py ----------------------------------

def shingles(text: str, ngram: int) -> list[str]:
    words = text.split()
    if len(words) <= ngram:
        return [" ".join(words)]
    return list(map(" ".join, zip(*(words[i:] for i in range(ngram)))))


def reference_signature(text: str, options: dedupe.NearDupOptions) -> np.ndarray:
    sig = RMinHash(options.num_perm, options.seed)
    sig.update(shingles(text, options.ngram))
    return np.asarray(sig.digest(), dtype=np.uint64)


def reference_band_keys(sig: np.ndarray, options: dedupe.NearDupOptions, action_text: str = "") -> list[bytes]:
    rows = options.rows
    action = xxhash.xxh64_digest(action_text.encode())
    return [band.to_bytes(2, "little") + xxhash.xxh64_digest(sig[band * rows:(band + 1) * rows].tobytes() + action)
            for band in range(options.bands)]


def reference_sketch(sig: np.ndarray) -> bytes:
    return (sig & 0xFF).astype(np.uint8).tobytes()


# ---- measurements ----------------------------------------------------------------------------------------------


def file_batches(transitions: int) -> list[tuple[list[tuple[str, str, str]], list[str]]]:
    """(masked parts, action texts) of each generated raw file: the batches the pipeline hands minhash."""
    with tempfile.TemporaryDirectory(prefix="worldline-bench-minhash-") as scratch:
        generate(Path(scratch), transitions)
        batches = []
        for path in sorted(Path(scratch).rglob("*.parquet")):
            # The generated rows are stand-ins, which curation keeps only when asked (bench_curate asks too).
            # Rejected is a NamedTuple, so an isinstance(tuple) test would let dead letters through.
            prepared = [item for item in prepared_rows(str(path), count=False, keep_stand_ins=True)
                        if not isinstance(item, Rejected)]
            batches.append(([parts for *_, parts in prepared], [row["action_text"] for _, _, row, _ in prepared]))
    return batches


def joined(batches: list[tuple[list[tuple[str, str, str]], list[str]]]) -> list[tuple[list[str], list[str]]]:
    """The batches as whole masked texts, as the pipeline sketched them before union_signatures."""
    return [(["\n".join(parts) for parts in rows], actions) for rows, actions in batches]


def per_text(texts: list[str], actions: list[str], options: dedupe.NearDupOptions = OPTIONS) -> list:
    out = []
    for text, action in zip(texts, actions):
        sig = reference_signature(text, options)
        out.append((reference_band_keys(sig, options, action or ""), reference_sketch(sig)))
    return out


def batched(texts: list[str], actions: list[str], options: dedupe.NearDupOptions = OPTIONS):
    sigs = minhash.signatures(texts, options.num_perm, options.ngram, options.seed)
    return minhash.band_keys(sigs, minhash.action_hashes(actions), options.bands, options.rows), minhash.sketches(sigs)


def batched_parts(rows: list[tuple[str, str, str]], actions: list[str], options: dedupe.NearDupOptions = OPTIONS):
    return dedupe.file_part_signatures(rows, actions, options)


def cpu_us_per_text(function, batches) -> float:
    start = time.process_time()
    for texts, actions in batches:
        function(texts, actions)
    return (time.process_time() - start) * 1e6 / sum(len(texts) for texts, _ in batches)


def planted_quality(implementation: str, options: dedupe.NearDupOptions = OPTIONS, pairs: int = 3000,
                    seed: int = 11) -> dict:
    """bench_curate.near_dup_quality with the keys and sketches of either implementation, resolved by
    transforms.dedupe.resolve_bucket."""
    planted = planted_pairs(random.Random(seed), pairs, options.ngram)
    ids = [f"{index:06d}{suffix}" for index in range(len(planted)) for suffix in "ab"]
    texts = [text for base, variant, _ in planted for text in (base, variant)]
    if implementation == "batched":
        keys, sketch_rows = batched(texts, [""] * len(texts), options)
        entries = [([band.to_bytes(2, "little") + key.tobytes() for band, key in enumerate(row)], sketch.tobytes())
                   for row, sketch in zip(keys, sketch_rows)]
    else:
        entries = per_text(texts, [""] * len(texts), options)
    buckets = defaultdict(list)
    for record_id, (record_keys, sketch) in zip(ids, entries):
        for key in record_keys:
            buckets[key].append((record_id, f"hash-{record_id}", sketch))
    return removal_quality(planted, buckets, options)


def main(quick: bool | None = None) -> None:
    quick = bool(os.environ.get("WORLDLINE_BENCH_QUICK")) if quick is None else quick
    transitions, pairs = (2000, 1000) if quick else (5000, 3000)
    part_batches = file_batches(transitions)
    batches = joined(part_batches)
    texts = [text for batch, _ in batches for text in batch]
    print(f"{len(texts)} masked texts in {len(batches)} file batches, mean {np.mean([len(t) for t in texts]):,.0f} "
          f"chars; CPU us per text for signature + band keys + sketch")
    big = [(texts[:1000], [""] * len(texts[:1000]))]
    batched(*big[0])  # grow the power tables and scratch once, as a long-running worker would have
    # Interleaved repeats: a neighbour's load on the shared machine hits both columns alike; the best of each.
    old, new, new_big, parts = [], [], [], []
    for _ in range(3):
        old.append(cpu_us_per_text(per_text, batches))
        new.append(cpu_us_per_text(batched, batches))
        new_big.append(cpu_us_per_text(batched, big))
        parts.append(cpu_us_per_text(batched_parts, part_batches))
    print(f"{'dedupe (per text)':>26} {min(old):>8.1f} us")
    print(f"{'minhash (batch per file)':>26} {min(new):>8.1f} us   {min(old) / min(new):.1f}x faster")
    print(f"{'minhash (1000-text batch)':>26} {min(new_big):>8.1f} us   {min(old) / min(new_big):.1f}x faster")
    print(f"{'minhash (parts per file)':>26} {min(parts):>8.1f} us   {min(old) / min(parts):.1f}x faster, "
          f"{min(new) / min(parts):.2f}x the whole-text batch per file")
    print(f"\nplanted pairs ({pairs}), {OPTIONS.num_perm} perms, {OPTIONS.bands} x {OPTIONS.rows} bands, "
          f"threshold {OPTIONS.threshold}: recall at J >= 0.8, precision of removals")
    for implementation in ("per-text", "batched"):
        quality = planted_quality(implementation, pairs=pairs)
        print(f"{implementation:>10} recall {quality['recall']:.3f} precision {quality['precision']:.3f} "
              f"({quality['positives']} positives, {quality['removed']} removed)")
    print("targets: several times faster; recall >= 0.95, precision >= 0.99")


if __name__ == "__main__":
    main()
