"""Batched MinHash for near-duplicate detection: many texts in, numpy matrices out, no Python object per shingle.

The shingles are the ones transforms.dedupe built as strings, " ".join of `ngram` consecutive words of
`text.split()` (a text of at most `ngram` words is one shingle of all of them), but they are hashed in numpy:
- the batch becomes one UTF-8 byte array with every run of whitespace cut to one space, so each shingle string is
  a span of it;
- a span's hash is its polynomial hash mod 2^64, read off a prefix sum of byte * P^position and moved back to
  position 0 with P's inverse power (so equal shingles hash equally wherever they sit), then mixed;
- rensa turns the flat shingle hashes of the whole batch into the MinHash matrix in one call.
union_signatures sketches rows made of parts (state, action, next observation) as the union of the parts' shingle
sets, shingling each distinct part once.
Every constant is fixed here, never Python's salted hash(), so the same texts give the same matrix in any process.
Polynomial hashing mod 2^64 has known colliding strings (Thue-Morse, >= 2 KB shingles): a crafted collision can
only nudge one Jaccard estimate by 1/num_perm-ish, so it is not worth a slower hash.
"""

from __future__ import annotations

import threading
from array import array

import numpy as np
import xxhash
from rensa import RMinHash

_BASE = 0x100000001B3  # FNV-1a 64-bit prime: odd, so invertible mod 2^64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_EMPTY_TEXT = np.uint64(0x9E3779B97F4A7C15)  # the one shingle of a text with no words
# Texts per rensa call: a 1000-text file's temporaries would be megabytes of fresh pages (glibc maps big blocks
# anew and unmaps them on free), slower than a few more calls.
SUB_BATCH = 64

# Every byte str.split() splits ASCII on, \t \n \v \f \r (9-13) and \x1c-\x1f (28-31), made a space.
_SEPARATORS_AS_SPACE = bytes.maketrans(bytes([9, 10, 11, 12, 13, 28, 29, 30, 31]), b" " * 9)
_thread_scratch = threading.local()
_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


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


def _power_tables(length: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < length, grown on demand and kept: every batch reuses them."""
    global _powers, _inverse_powers
    powers, inverse_powers = _powers, _inverse_powers  # one read: another thread may swap them meanwhile
    if len(powers) < length:
        size = max(length, 2 * len(powers))
        # uint64 cumprod wraps, which is exactly arithmetic mod 2^64. It starts at P^1: one more factor P^-1
        # (P for the inverse table) makes index i hold P^i.
        powers, inverse_powers = (np.cumprod(np.full(size, base, dtype=np.uint64)) * np.uint64(inverse)
                                  for base, inverse in ((_BASE, _BASE_INVERSE), (_BASE_INVERSE, _BASE)))
        _powers, _inverse_powers = powers, inverse_powers
    return powers[:length], inverse_powers[:length]


def _scratch(length: int) -> np.ndarray:
    """A uint64 work array of this thread, reused: fresh pages for a new multi-megabyte array on every batch
    cost more than the hashing done in it (glibc maps big blocks anew and unmaps them on free)."""
    buffer = getattr(_thread_scratch, "buffer", None)
    if buffer is None or len(buffer) < length:
        buffer = _thread_scratch.buffer = np.empty(max(length, 1 << 16), dtype=np.uint64)
    return buffer[:length]


def _batch_bytes(texts: list[str]) -> np.ndarray:
    """The texts as one UTF-8 byte array, every separator a space, each text between NULs (the only boundary the
    byte scan trusts)."""
    joined = "\0".join(texts)
    if not joined.isascii() or "\0" in joined:
        # Unicode whitespace (NBSP, U+2028, ...) becomes a plain space, the only kind the byte scan knows; a NUL
        # inside a text would pass for a text boundary, so it becomes U+FFFD.
        joined = "\0".join(text if text.isascii() and "\0" not in text
                            else " ".join(text.replace("\0", "\ufffd").split()) for text in texts)
    return np.frombuffer(f"\0{joined}\0".encode().translate(_SEPARATORS_AS_SPACE), dtype=np.uint8)


def shingle_hashes(texts: list[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, uint64 row offsets of len(texts) + 1): text i owns hashes[offsets[i]:offsets[i+1]].

    A shingle's hash is the (mixed) polynomial hash of the string " ".join(words[j:j + ngram]) of text.split(),
    the shingle transforms.dedupe built; a text of at most `ngram` words has the one shingle of all its words.
    """
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    data = _batch_bytes(texts)
    # Keep the other bytes and the first space after each: what is left of each text is " ".join(text.split())
    # with a space or so around it, so a span of words is exactly its shingle.
    keep = data != 32
    keep[1:] |= keep[:-1]  # numpy buffers overlapping operands
    data = data[keep]
    is_word = (data != 32) & (data != 0)
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # alternating word start, word end (exclusive)
    starts, ends = edges[0::2], edges[1::2]
    counts = np.diff(np.searchsorted(starts, np.flatnonzero(data == 0)))  # words per text
    powers, inverse_powers = _power_tables(len(data))
    prefix = _scratch(len(data) + 1)
    prefix[0] = 0
    prefix[1:] = data
    prefix[1:] *= powers
    np.cumsum(prefix[1:].view(np.int64), out=prefix[1:].view(np.int64))  # int64 cumsum: same bits, faster

    windows = np.maximum(counts - ngram + 1, 1)  # shingles per text
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(windows, out=offsets[1:])
    first_word = np.cumsum(counts) - counts
    # Shingle r of text i spans its words r .. r+ngram-1, cut at its last word; `first` is a flat word index.
    first = np.repeat(first_word - offsets[:-1], windows) + np.arange(offsets[-1])
    if counts.min() >= ngram:  # the usual batch: no text is short or empty
        return _span_hashes(prefix, inverse_powers, starts[first], ends[first + (ngram - 1)]), offsets.astype(np.uint64)
    last = np.minimum(first + (ngram - 1), np.repeat(first_word + counts - 1, windows))
    has_words = np.repeat(counts > 0, windows)
    first, last = first[has_words], last[has_words]
    hashes = np.full(offsets[-1], _EMPTY_TEXT, dtype=np.uint64)
    hashes[has_words] = _span_hashes(prefix, inverse_powers, starts[first], ends[last])
    return hashes, offsets.astype(np.uint64)


def _span_hashes(prefix: np.ndarray, inverse_powers: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mixed polynomial hash of each byte span [start, end), off the prefix sums of byte * P^position."""
    span = prefix[ends]
    span -= prefix[starts]
    span *= inverse_powers[starts]
    return _mix(span)


def signatures(texts: list[str], num_perm: int = 256, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signature of each text's word n-gram set: uint32 matrix [len(texts), num_perm]."""
    batches = (shingle_hashes(texts[start:end], ngram) for start, end in _sub_batch_bounds(len(texts)))
    return _digest_matrix(batches, len(texts), num_perm, seed)


def union_signatures(rows: list[tuple[str, ...]], num_perm: int = 256, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signature of the union of each row's parts' word n-gram sets: uint32 matrix [len(rows), num_perm].

    A part that recurs across rows (a transition's state is the previous one's next observation) is shingled and
    hashed once per call; rensa then MinHashes each row's union of its parts' shingle hashes, which costs little
    next to the shingling. No shingle spans two parts: a row's set lacks the shingles across the joins that
    signatures() of its parts joined by newlines would have (up to ngram - 1 per join). Accepted: they are few next
    to an observation's, and a word changed at an observation's edge now changes one shingle instead of up to
    ngram. A part without words adds nothing; a row with no word at all has the one shingle of an empty text, as in
    signatures().
    """
    texts, row_parts, parts_per_row = _distinct_parts(rows)
    hashes, part_offsets = _concatenated([shingle_hashes(texts[start:end], ngram)
                                          for start, end in _sub_batch_bounds(len(texts))])
    # Row r's part numbers are row_parts[first_part[r]:first_part[r + 1]].
    first_part = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(parts_per_row, out=first_part[1:])
    batches = (_row_tokens(hashes, part_offsets, row_parts[first_part[start]:first_part[end]], parts_per_row[start:end])
               for start, end in _sub_batch_bounds(len(rows)))
    return _digest_matrix(batches, len(rows), num_perm, seed)


def _sub_batch_bounds(count: int) -> list[tuple[int, int]]:
    return [(start, min(start + SUB_BATCH, count)) for start in range(0, count, SUB_BATCH)]


def _digest_matrix(token_batches, rows: int, num_perm: int, seed: int) -> np.ndarray:
    """rensa's MinHash of every row of each (flat token hashes, row offsets) batch, stacked: uint32 [rows, num_perm]."""
    flat = array("I")
    for hashes, offsets in token_batches:
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed)
        # rensa hands rows back as Python lists; array('I') collects them faster than numpy does.
        for row in matrix.to_rows():
            flat.fromlist(row)
    return np.frombuffer(flat, dtype=np.uint32).reshape(rows, num_perm)


def _distinct_parts(rows: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(distinct part texts with words, each row's part numbers one row after another, parts per row); a row
    without words is the one empty part."""
    numbers: dict[str, int] = {}
    row_parts, parts_per_row = [], []
    for parts in rows:
        worded = [numbers.setdefault(part, len(numbers)) for part in parts if part and not part.isspace()]
        if not worded:
            worded = [numbers.setdefault("", len(numbers))]
        row_parts.extend(worded)
        parts_per_row.append(len(worded))
    return list(numbers), np.array(row_parts, dtype=np.int64), np.array(parts_per_row, dtype=np.int64)


def _concatenated(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """shingle_hashes of consecutive sub-batches as if of one batch: (flat hashes, int64 offsets)."""
    if not batches:
        return np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64)
    hashes = np.concatenate([batch_hashes for batch_hashes, _ in batches])
    offsets, before = [np.zeros(1, dtype=np.int64)], 0
    for batch_hashes, batch_offsets in batches:
        offsets.append(batch_offsets[1:].astype(np.int64) + before)
        before += len(batch_hashes)
    return hashes, np.concatenate(offsets)


def _row_tokens(hashes: np.ndarray, part_offsets: np.ndarray, row_parts: np.ndarray, parts_per_row: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(flat token hashes, uint64 row offsets) of rows made of parts: a row's tokens are its parts' shingle hashes
    one part after another (a shingle two parts share is there twice, which a MinHash does not see)."""
    starts = part_offsets[row_parts]
    counts = part_offsets[row_parts + 1] - starts
    token_ends = np.cumsum(counts)
    row_offsets = np.zeros(len(parts_per_row) + 1, dtype=np.uint64)
    row_offsets[1:] = token_ends[np.cumsum(parts_per_row) - 1]  # every row has at least one part
    # Token j of part i sits at starts[i] + j: shift each part's run of a flat arange to its start.
    gather = np.repeat(starts - (token_ends - counts), counts) + np.arange(token_ends[-1])
    return hashes[gather], row_offsets


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
    combined = (values * _KEY_MULTIPLIERS[:rows]).sum(axis=2, dtype=np.uint64) + _BAND_CONSTANTS[:bands]
    return _mix(combined + (actions * _KEY_MULTIPLIERS[rows])[:, None])


def sketches(sigs: np.ndarray) -> np.ndarray:
    """The low byte of every MinHash value, uint8 [n, num_perm]: what a bucket entry carries for verification."""
    return (np.asarray(sigs) & 0xFF).astype(np.uint8)


def estimated_jaccard(sketches_matrix: np.ndarray, one_sketch: np.ndarray) -> np.ndarray:
    """b-bit MinHash estimate (b = 8) of the Jaccard similarity of `one_sketch` to each row of `sketches_matrix`:
    Pr[low bytes equal] = J + (1 - J) / 256, inverted."""
    agree = (sketches_matrix == one_sketch).mean(axis=-1)
    return np.clip((agree - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
