"""Exact and near-duplicate detection over masked transition text, as pure functions Beam steps call.

Exact: xxh64 of the masked state, action and next observation. Near: MinHash (rensa) over word n-gram shingles,
banded for LSH. A bucket entry carries a b-bit sketch (the low byte of every MinHash value) instead of the full
signature, so verifying a candidate pair needs no second lookup and a bucket entry stays ~300 bytes:
Pr[low bytes equal] = J + (1 - J) / 256, which inverts to an unbiased estimate of the Jaccard similarity J.

Near-duplicates must share the action text exactly. Within a cluster the record with the smallest id is kept;
every other one names the record it duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import xxhash
from rensa import RMinHash

EXACT, NEAR = "exact", "near"
SEPARATOR = "\x1f"  # cannot occur in normalized observation text

# The dedupe/ output: every removed transition and the one it duplicates.
DUPLICATE_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # exact, near
    pa.field("domain", pa.string()),
    pa.field("episode_id", pa.string()),
    pa.field("content_hash", pa.string()),
])


@dataclass(frozen=True)
class NearDupOptions:
    threshold: float = 0.8  # estimated Jaccard at or above which two transitions are near-duplicates
    num_perm: int = 256  # MinHash values; all of them go into the verification sketch
    # LSH: `bands` bucket keys of `rows` values each. 12 x 4 makes pairs at J=0.8 candidates with probability
    # 0.998 (1 - (1 - 0.8^4)^12) while each transition sends only 12 small entries through the shuffle.
    bands: int = 12
    rows: int = 4
    ngram: int = 5  # words per shingle
    seed: int = 1
    max_bucket: int = 5000  # distinct contents compared pairwise in one bucket; the rest are left alone

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-dup threshold must be in (0, 1], got {self.threshold}")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) must be at least 1 and fit in num_perm "
                             f"{self.num_perm}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")


def hash_text(state_masked: str, action_text: str, next_masked: str) -> str:
    return xxhash.xxh64_hexdigest(SEPARATOR.join((state_masked, action_text or "", next_masked)).encode())


def shingles(text: str, ngram: int) -> list[str]:
    words = text.split()
    if len(words) <= ngram:
        return [" ".join(words)]
    return list(map(" ".join, zip(*(words[i:] for i in range(ngram)))))


def signature(text: str, options: NearDupOptions) -> np.ndarray:
    minhash = RMinHash(options.num_perm, options.seed)
    minhash.update(shingles(text, options.ngram))
    return np.asarray(minhash.digest(), dtype=np.uint64)


def band_keys(sig: np.ndarray, options: NearDupOptions, action_text: str = "") -> list[bytes]:
    """One LSH bucket key per band: records sharing any key become candidate pairs.

    The action is part of every key: a long screen shared by two transitions must not make `ls` and `rm -rf`
    near-duplicates of each other, whatever their shingle overlap.
    """
    rows = options.rows
    action = xxhash.xxh64_digest(action_text.encode())
    return [band.to_bytes(2, "little") + xxhash.xxh64_digest(sig[band * rows:(band + 1) * rows].tobytes() + action)
            for band in range(options.bands)]


def sketch(sig: np.ndarray) -> bytes:
    return (sig & 0xFF).astype(np.uint8).tobytes()


def estimated_jaccard(sketches: np.ndarray, one: np.ndarray) -> np.ndarray:
    """b-bit MinHash estimate (b = 8) of the Jaccard similarity of `one` to each row of `sketches`."""
    agree = (sketches == one).mean(axis=-1)
    return np.clip((agree - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)


def resolve_bucket(members, options: NearDupOptions, report_exact: bool = True):
    """Decide the duplicates among one bucket's members.

    members: iterable of (id, content_hash, sketch bytes). Yields (id, kind, duplicate_of) for each member that
    has an exact or near duplicate with a smaller id in this bucket. Exact duplicates collapse first, so a bucket
    of ten thousand identical screens costs one comparison, not fifty million. Identical contents share every
    band, so callers report exact duplicates from one band only (report_exact).
    """
    members = sorted(members)
    first_by_hash: dict[str, tuple[str, bytes]] = {}
    for member_id, content_hash, member_sketch in members:
        kept = first_by_hash.setdefault(content_hash, (member_id, member_sketch))
        if kept[0] != member_id and report_exact:
            yield member_id, EXACT, kept[0]
    distinct = sorted(first_by_hash.values())[:options.max_bucket]
    if len(distinct) < 2:
        return
    sketches = np.frombuffer(b"".join(s for _, s in distinct), dtype=np.uint8).reshape(len(distinct), -1)
    for i in range(1, len(distinct)):
        similar = np.flatnonzero(estimated_jaccard(sketches[:i], sketches[i]) >= options.threshold)
        if len(similar):
            yield distinct[i][0], NEAR, distinct[int(similar[0])][0]


def decide(decisions):
    """Combine one record's decisions from all its buckets: exact beats near, then the smallest id wins."""
    return min(decisions, key=lambda d: (d[0] != EXACT, d[1]))
