"""Batched MinHash for near-duplicate detection: many texts in, numpy matrices out, no Python object per shingle.

The shingles are the ones transforms.dedupe built as strings, " ".join of `ngram` consecutive words of
`text.split()` (a text of at most `ngram` words is one shingle of all of them), but they are hashed in C
(transforms/_shingles.c) in one pass over each text, no string made per shingle:
- a shingle's hash is the polynomial hash mod 2^64 of its UTF-8 bytes, sum(byte_i * P^i) with P the FNV-1a 64-bit
  prime, then splitmix64-mixed; a NUL in a text counts as U+FFFD; a text without words has the one shingle
  _shingles.EMPTY_TEXT;
- rensa turns the flat shingle hashes of the whole batch into the MinHash matrix in one call.
union_signatures sketches rows made of parts (state, action, next observation) as the union of the parts' shingle
sets, shingling each distinct part of a sub-batch once.
Every constant is fixed (here and in _shingles.c), never Python's salted hash(), so the same texts give the same
matrix in any process.
Polynomial hashing mod 2^64 has known colliding strings (Thue-Morse, >= 2 KB shingles): a crafted collision can
only nudge one Jaccard estimate by 1/num_perm-ish, so it is not worth a slower hash.
"""

from __future__ import annotations

import numpy as np
import xxhash
from rensa import RMinHash

from transforms import _shingles

# Texts (rows) per _shingles and rensa call: a 1000-text file's buffers would be megabytes, which glibc maps anew
# and unmaps on free (slower than a few more calls) or, past its mmap threshold, keeps (peak RSS up ~12 MB).
SUB_BATCH = 64


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, in place: spreads a polynomial hash, whose low bits see only low bits, over all 64."""
    shifted = np.empty_like(values)
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        values ^= np.right_shift(values, np.uint64(shift), out=shifted)
        values *= np.uint64(multiplier)
    values ^= np.right_shift(values, np.uint64(31), out=shifted)
    return values


# Key constants: splitmix64 of 1, 2, 3, ... (fixed forever, unlike a library RNG's stream).
_constants = _mix(np.arange(1, 2 * 256 + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
_KEY_MULTIPLIERS = _constants[:256] | np.uint64(1)  # odd: every bit of a value reaches the key
_BAND_CONSTANTS = _constants[256:]


def shingle_hashes(texts: list[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, uint64 row offsets of len(texts) + 1): text i owns hashes[offsets[i]:offsets[i+1]].

    A shingle's hash is the (mixed) polynomial hash of the string " ".join(words[j:j + ngram]) of text.split(),
    the shingle transforms.dedupe built; a text of at most `ngram` words has the one shingle of all its words.
    """
    return _as_uint64(_shingles.shingle_hashes(texts, ngram))


def _as_uint64(buffers: tuple[bytearray, bytearray]) -> tuple[np.ndarray, np.ndarray]:
    hashes, offsets = buffers
    return np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(offsets, dtype=np.uint64)


def signatures(texts: list[str], num_perm: int = 256, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signature of each text's word n-gram set: uint32 matrix [len(texts), num_perm]."""
    batches = (shingle_hashes(texts[start:end], ngram) for start, end in _sub_batch_bounds(len(texts)))
    return _digest_matrix(batches, len(texts), num_perm, seed)


def union_signatures(rows: list[tuple[str, ...]], num_perm: int = 256, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signature of the union of each row's parts' word n-gram sets: uint32 matrix [len(rows), num_perm].

    A part that recurs across rows (a transition's state is the previous one's next observation, the same str
    object in transforms.prepare) is shingled and hashed once per SUB_BATCH rows: repeats are found by identity,
    so an equal text in another object is merely shingled again. rensa then MinHashes each row's union of its
    parts' shingle hashes, most of the row's repeats (a state's lines shown again in the next observation) left
    out in C, as they cannot change a MinHash. No shingle spans two parts: a row's set lacks the shingles across
    the joins that signatures() of its parts joined by newlines would have (up to ngram - 1 per join). Accepted:
    they are few next to an observation's, and a word changed at an observation's edge now changes one shingle
    instead of up to ngram. A part without words adds nothing; a row with no word at all has the one shingle of an
    empty text, as in signatures().
    """
    batches = (_as_uint64(_shingles.union_tokens(rows[start:end], ngram))
               for start, end in _sub_batch_bounds(len(rows)))
    return _digest_matrix(batches, len(rows), num_perm, seed)


def _sub_batch_bounds(count: int) -> list[tuple[int, int]]:
    return [(start, min(start + SUB_BATCH, count)) for start in range(0, count, SUB_BATCH)]


def _digest_matrix(token_batches, rows: int, num_perm: int, seed: int) -> np.ndarray:
    """rensa's MinHash of every row of each (flat token hashes, row offsets) batch, stacked: uint32 [rows, num_perm]."""
    sigs = np.empty((rows, num_perm), dtype=np.uint32)
    first = 0
    for hashes, offsets in token_batches:
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed)
        # rensa hands rows back only as lists of Python ints; C copies them straight into the matrix.
        _shingles.digest_rows_into(matrix.to_rows(), sigs, first)
        first += len(offsets) - 1
    return sigs


def action_hashes(actions: list[str]) -> np.ndarray:
    """xxh64 of each action text (None counts as empty): the `action_hashes` band_keys mixes into every key."""
    return np.fromiter((xxhash.xxh64_intdigest((action or "").encode()) for action in actions),
                       dtype=np.uint64, count=len(actions))


def band_keys(sigs: np.ndarray, action_hashes: np.ndarray, bands: int = 12, rows: int = 4) -> np.ndarray:
    """LSH bucket keys, uint64 [n, bands]: records sharing any key (same column) become candidate pairs.

    A key hashes one band's `rows` values, the band index (so bands never share keys) and the action hash: a long
    screen shared by `ls` and `rm -rf` must not make them near-duplicates of each other. The values are
    pseudo-random already, so a random linear combination mod 2^64 (then mixed) is as good as a byte hash.
    """
    sigs = np.asarray(sigs)
    if sigs.ndim != 2 or bands * rows > sigs.shape[1]:
        raise ValueError(f"band_keys needs a [n, >= {bands * rows}] signature matrix, got shape {sigs.shape}")
    actions = np.asarray(action_hashes, dtype=np.uint64)
    if actions.shape != (len(sigs),):
        raise ValueError(f"band_keys needs one action hash per signature ({len(sigs)}), got shape {actions.shape}")
    if rows + 1 > len(_KEY_MULTIPLIERS) or bands > len(_BAND_CONSTANTS):
        raise ValueError(f"band_keys supports up to {len(_BAND_CONSTANTS)} bands of {len(_KEY_MULTIPLIERS) - 1} rows")
    values = sigs[:, :bands * rows].astype(np.uint64).reshape(len(sigs), bands, rows)
    # One multiply-add per row of a band over the whole matrix: numpy's sum over a 4-long axis is several times
    # slower. Sums mod 2^64 are the same in any order.
    combined = values[:, :, 0] * _KEY_MULTIPLIERS[0]
    for row in range(1, rows):
        combined += values[:, :, row] * _KEY_MULTIPLIERS[row]
    combined += _BAND_CONSTANTS[:bands]
    combined += (actions * _KEY_MULTIPLIERS[rows])[:, None]
    return _mix(combined)


def sketches(sigs: np.ndarray) -> np.ndarray:
    """The low byte of every MinHash value, uint8 [n, num_perm]: what a bucket entry carries for verification."""
    return (np.asarray(sigs) & 0xFF).astype(np.uint8)


def estimated_jaccard(sketches_matrix: np.ndarray, one_sketch: np.ndarray) -> np.ndarray:
    """b-bit MinHash estimate (b = 8) of the Jaccard similarity of `one_sketch` to each row of `sketches_matrix`:
    Pr[low bytes equal] = J + (1 - J) / 256, inverted."""
    agree = (sketches_matrix == one_sketch).mean(axis=-1)
    return np.clip((agree - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
