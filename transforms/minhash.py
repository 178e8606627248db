"""Batched MinHash for near-duplicate detection: many texts in, numpy matrices out, no Python object per shingle.

Same shingles as transforms.dedupe (word n-grams of `text.split()`; a text of at most `ngram` words is one
shingle), but each shingle is hashed in numpy instead of being built as a string:
- the batch becomes one UTF-8 byte array; a word's hash is its polynomial hash mod 2^64, read off a prefix sum of
  byte * P^position and moved back to position 0 with P's inverse powers, so equal words hash equally wherever
  they sit;
- a shingle's hash mixes its `ngram` word hashes with a different odd multiplier per position;
- rensa turns the flat shingle hashes of the whole batch into the MinHash matrix in one call.
Every constant is fixed here, never Python's salted hash(), so the same texts give the same matrix in any process.
"""

from __future__ import annotations

from array import array
from itertools import chain, count

import numpy as np
import xxhash
from rensa import RMinHash

_MASK64 = (1 << 64) - 1
_BASE = 0x100000001B3  # FNV-1a 64-bit prime: odd, so invertible mod 2^64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
# One odd multiplier per word position in a shingle, so "a b" and "b a" hash differently.
_POSITION_MULTIPLIERS = np.random.default_rng(20261126).integers(1, 2**63, size=64, dtype=np.uint64) * 2 + 1
_EMPTY_TEXT = np.uint64(0x9E3779B97F4A7C15)  # the one shingle of a text with no words

_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads the polynomial and linear combinations over all 64 bits."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _power_tables(length: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < length, grown on demand and kept: every batch reuses them."""
    global _powers, _inverse_powers
    if len(_powers) < length:
        size = max(length, 2 * len(_powers))
        # uint64 cumprod wraps, which is exactly arithmetic mod 2^64.
        _powers, _inverse_powers = (np.cumprod(np.full(size, base, dtype=np.uint64)) for base in (_BASE, _BASE_INVERSE))
        # cumprod starts at P^1: shift so index i holds P^i.
        _powers = np.concatenate([[np.uint64(1)], _powers[:-1]])
        _inverse_powers = np.concatenate([[np.uint64(1)], _inverse_powers[:-1]])
    return _powers[:length], _inverse_powers[:length]


def _line_word_hashes(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every word of every line (lines hold no line break), in order, and the number of words per line."""
    joined = "\n".join(lines)
    if not joined.isascii():
        # Unicode whitespace (NBSP, U+2028, ...) becomes a plain space, the only kind the byte scan below knows.
        joined = "\n".join(line if line.isascii() else " ".join(line.split()) for line in lines)
    # A leading space and a closing newline: every word starts after and ends before a separator.
    data = np.frombuffer(b" " + joined.encode() + b"\n", dtype=np.uint8)
    line_ends = np.flatnonzero(data == 10)
    # Not one of the bytes str.split() splits ASCII on: \t \n \v \f \r (9-13), \x1c-\x1f (28-31), space (32).
    is_word = (data > 32) | ((data < 28) & ((data < 9) | (data > 13)))
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # alternating word start, word end (exclusive)
    starts, ends = edges[0::2], edges[1::2]
    powers, inverse_powers = _power_tables(len(data))
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum(data * powers, out=prefix[1:])
    # Unmixed on purpose: shingle_hashes mixes each combination of words once, which is all the spreading needed.
    hashes = (prefix[ends] - prefix[starts]) * inverse_powers[starts] + (ends - starts).astype(np.uint64)
    return hashes, np.diff(np.searchsorted(starts, line_ends), prepend=0)


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every word of every text, in order (the words of text.split()), and the number of words per text.

    Consecutive transitions repeat much of a screen (a state is the previous next observation), so each distinct
    line of the batch is hashed once and texts gather their lines' word hashes. Every line break str.splitlines()
    knows is whitespace to str.split(), so no word spans two lines.
    """
    text_lines = [text.splitlines() for text in texts]
    flat_lines = list(chain.from_iterable(text_lines))
    distinct = dict(zip(dict.fromkeys(flat_lines), count()))
    line_numbers = np.fromiter(map(distinct.__getitem__, flat_lines), dtype=np.int64, count=len(flat_lines))
    line_words, words_per_line = _line_word_hashes(list(distinct))
    first_word_of_line = np.cumsum(words_per_line) - words_per_line
    counts = words_per_line[line_numbers]
    words_before_line = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=words_before_line[1:])
    words = line_words[np.repeat(first_word_of_line[line_numbers] - words_before_line[:-1], counts)
                       + np.arange(words_before_line[-1])]
    lines_before_text = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, text_lines), dtype=np.int64, count=len(texts)), out=lines_before_text[1:])
    return words, np.diff(words_before_line[lines_before_text])


def shingle_hashes(texts: list[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, uint64 row offsets of len(texts) + 1): text i owns hashes[offsets[i]:offsets[i+1]].

    A text of at most `ngram` words has exactly one shingle made of all its words (no words: a fixed constant).
    """
    if not 1 <= ngram <= len(_POSITION_MULTIPLIERS):
        raise ValueError(f"ngram must be in 1..{len(_POSITION_MULTIPLIERS)}, got {ngram}")
    words, counts = _word_hashes(texts)
    first_word = np.cumsum(counts) - counts
    windows = np.maximum(counts - ngram + 1, 1)  # shingles per text
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(windows, out=offsets[1:])
    # combined[j] mixes words j .. j+ngram-1 of the flat list; windows crossing into the next text are never read.
    combined = np.zeros(len(words) + 1, dtype=np.uint64)
    combined[:-1] = words * _POSITION_MULTIPLIERS[0]
    for k in range(1, ngram):
        combined[:len(words) - k] += words[k:] * _POSITION_MULTIPLIERS[k]
    # Shingle r of text i is the window starting at its word r: one gather for the whole batch.
    hashes = combined[np.repeat(first_word - offsets[:-1], windows) + np.arange(offsets[-1])]
    short = np.flatnonzero((counts > 0) & (counts < ngram))
    if len(short):  # its one shingle holds only its own words
        positions = np.arange(ngram)
        inside = positions < counts[short, None]
        taken = words[np.minimum(first_word[short, None] + positions, len(words) - 1)]
        hashes[offsets[short]] = (np.where(inside, taken, np.uint64(0)) * _POSITION_MULTIPLIERS[:ngram]).sum(
            axis=1, dtype=np.uint64)
    hashes[offsets[:-1][counts == 0]] = _EMPTY_TEXT
    return _mix(hashes), offsets.astype(np.uint64)


def signatures(texts: list[str], num_perm: int = 256, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """MinHash signature of each text's word n-gram set: uint32 matrix [len(texts), num_perm]."""
    if not texts:
        return np.zeros((0, num_perm), dtype=np.uint32)
    hashes, offsets = shingle_hashes(texts, ngram)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed)
    # rensa hands rows back as Python lists; array('I') collects them faster than np.array on nested lists.
    flat = array("I")
    for row in matrix.to_rows():
        flat.extend(row)
    return np.frombuffer(flat, dtype=np.uint32).reshape(len(texts), num_perm)


def action_hashes(actions: list[str]) -> np.ndarray:
    """xxh64 of each action text (None counts as empty): the `action_hashes` band_keys mixes into every key."""
    return np.fromiter((xxhash.xxh64_intdigest((action or "").encode()) for action in actions),
                       dtype=np.uint64, count=len(actions))


def band_keys(sigs: np.ndarray, action_hashes: np.ndarray, bands: int = 12, rows: int = 4) -> np.ndarray:
    """LSH bucket keys, uint64 [n, bands]: records sharing any key (same column) become candidate pairs.

    A key hashes one band's `rows` values, the band index (so bands never share keys) and the action hash: a long
    screen shared by `ls` and `rm -rf` must not make them near-duplicates of each other.
    """
    sigs = np.asarray(sigs)
    if sigs.ndim != 2 or bands * rows > sigs.shape[1]:
        raise ValueError(f"band_keys needs a [n, >= {bands * rows}] signature matrix, got shape {sigs.shape}")
    actions = np.asarray(action_hashes, dtype=np.uint64)
    if actions.shape != (len(sigs),):
        raise ValueError(f"band_keys needs one action hash per signature ({len(sigs)}), got shape {actions.shape}")
    values = sigs[:, :bands * rows].astype(np.uint64).reshape(len(sigs), bands, rows)
    keys = np.broadcast_to(_mix(np.arange(1, bands + 1, dtype=np.uint64)), (len(sigs), bands))
    for r in range(rows):
        keys = _mix(keys ^ values[:, :, r])
    return _mix(keys ^ actions[:, None])


def sketches(sigs: np.ndarray) -> np.ndarray:
    """The low byte of every MinHash value, uint8 [n, num_perm]: what a bucket entry carries for verification."""
    return (np.asarray(sigs) & 0xFF).astype(np.uint8)


def estimated_jaccard(sketches_matrix: np.ndarray, one_sketch: np.ndarray) -> np.ndarray:
    """b-bit MinHash estimate (b = 8) of the Jaccard similarity of `one_sketch` to each row of `sketches_matrix`:
    Pr[low bytes equal] = J + (1 - J) / 256, inverted."""
    agree = (sketches_matrix == one_sketch).mean(axis=-1)
    return np.clip((agree - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
