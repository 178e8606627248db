import hashlib
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from rensa import RMinHash

from benchmarks.bench_curate import planted_pairs as bench_planted_pairs
from transforms.minhash import (SUB_BATCH, action_hashes, band_keys, estimated_jaccard, shingle_hashes,
                                signatures, sketches, union_signatures)
from transforms._shingles import BASE, EMPTY_TEXT, union_tokens

REPO = Path(__file__).resolve().parents[2]
WORDS = [f"w{i}" for i in range(50000)]


def shingles(text: str, ngram: int) -> list[str]:
    """The shingle strings transforms.dedupe hashed one by one before transforms.minhash."""
    words = text.split()
    if len(words) <= ngram:
        return [" ".join(words)]
    return list(map(" ".join, zip(*(words[i:] for i in range(ngram)))))


MASK = (1 << 64) - 1


def splitmix64_finalizer(value: int) -> int:
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK
    return value ^ (value >> 31)


def string_hash(shingle: str) -> int:
    """The documented shingle hash, the slow way: mixed polynomial hash mod 2^64 of the UTF-8 bytes."""
    if not shingle:
        return EMPTY_TEXT
    return splitmix64_finalizer(sum(byte * pow(BASE, i, 1 << 64) for i, byte in enumerate(shingle.encode())) & MASK)


def jaccard(a: str, b: str, ngram: int = 5) -> float:
    sa, sb = set(shingles(a, ngram)), set(shingles(b, ngram))
    return len(sa & sb) / len(sa | sb)


EDGE_TEXTS = [
    "", "   \n\t ", "one", "two words", "one two three four five", "one two three four five six",
    "a  b\n\nc\td\r\ne\x0bf\x0cg", "x\u00a0y\u2028z\u3000w v u t",  # unicode whitespace splits words too
    "\x1c\x1dfile\x1esep\x1fa b c d e", "caf\u00e9 na\u00efve \u00fc\u00df \U0001f600 ok fine", "nul\0inside a b c d e",
    "the same line\nthe same line\nthe same line\nthe same line",
]


def assert_dedupe_shingles(texts: list[str], ngram: int) -> None:
    hashes, offsets = shingle_hashes(texts, ngram)
    assert offsets.dtype == np.uint64 and len(offsets) == len(texts) + 1 and offsets[-1] == len(hashes)
    for index, text in enumerate(texts):
        got = hashes[int(offsets[index]):int(offsets[index + 1])].tolist()
        expected = [string_hash(s.replace("\0", "\ufffd")) for s in shingles(text, ngram)]
        assert got == expected, (ngram, text)


@pytest.mark.parametrize("ngram", [1, 2, 5])
def test_shingle_hashes_are_the_hashes_of_dedupes_shingle_strings(ngram):
    rng = random.Random(ngram)
    texts = EDGE_TEXTS + [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 40))) for _ in range(30)]
    assert_dedupe_shingles(texts, ngram)


UNICODE_WHITESPACE = [chr(point) for point in range(0x110000) if chr(point).isspace()]


@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_shingle_hashes_split_where_str_split_does(ngram):
    rng = random.Random(ngram)
    pieces = UNICODE_WHITESPACE + ["\0", "\0\0", "a", "bc", "\u00e9", "\u20ac", "\U0001f600", "\ufffd", "zz9"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(400)]
    texts += ["".join(UNICODE_WHITESPACE), " \x1c\x1d\x1e\x1f\t\n\x0b\x0c\r ", "\x85\xa0", "\0", " \0 ", "\0 \0"]
    assert any(not text.split() for text in texts) and any(len(text.split()) > ngram for text in texts)
    assert_dedupe_shingles(texts, ngram)


@pytest.mark.parametrize("ngram", [1, 5])
def test_ascii_shingle_hashes_whatever_the_word_lengths_and_nuls(ngram):
    """ASCII words are hashed two bytes at a time: words of every length, and NULs at every place in them."""
    rng = random.Random(ngram)
    separators = [chr(code) for code in range(128) if chr(code).isspace()]
    pieces = ["a", "bc", "def", "ghij", "klmno", "pqrstu", "vwxyz01", "23456789", "\0", "\0\0", "x\0", "\0y"]
    texts = ["".join(rng.choice(pieces + separators) for _ in range(rng.randint(0, 40))) for _ in range(400)]
    texts += ["ab", "abc", "a\0", "\0b", "abcd\0", "ab cd\0e", "ab\x1fcd\x1c"]
    assert all(text.isascii() for text in texts)
    assert_dedupe_shingles(texts, ngram)


def test_shingle_hashes_of_long_texts_and_long_words():
    rng = random.Random(7)
    texts = [" ".join(rng.choice(WORDS) for _ in range(20000)), "x" * 100000, ("\u00e9" * 3000 + "\u2029") * 20,
             "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(500))]
    assert_dedupe_shingles(texts, 5)


def test_blank_and_wordless_texts_are_the_one_empty_shingle():
    texts = ["", " ", "\n\t\r", "\u3000\u2028 \x1f", "".join(UNICODE_WHITESPACE)]
    hashes, offsets = shingle_hashes(texts)
    assert hashes.tolist() == [EMPTY_TEXT] * len(texts) and offsets.tolist() == list(range(len(texts) + 1))
    hashes, offsets = shingle_hashes([])
    assert len(hashes) == 0 and offsets.tolist() == [0]


def test_shingle_hashes_reject_lone_surrogates_non_str_texts_and_bad_ngrams():
    with pytest.raises(UnicodeEncodeError):
        shingle_hashes(["fine", "a lone \ud800 surrogate"])
    for not_text in (b"bytes", None):
        with pytest.raises(TypeError):
            shingle_hashes(["fine", not_text])
    with pytest.raises(ValueError, match="ngram"):
        shingle_hashes(["a b"], 0)


def test_a_texts_signature_does_not_depend_on_its_batch():
    rng = random.Random(1)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 300))) for _ in range(90)] + EDGE_TEXTS
    assert len(texts) > SUB_BATCH  # rensa is called per sub-batch
    together = signatures(texts)
    assert together.shape == (len(texts), 256) and together.dtype == np.uint32
    for index in (0, 7, SUB_BATCH, len(texts) - 1):
        assert np.array_equal(signatures([texts[index]])[0], together[index])
    assert np.array_equal(signatures(texts[::-1])[::-1], together)
    assert signatures([]).shape == (0, 256)
    assert signatures(["a b"], num_perm=64).shape == (1, 64)


def test_same_words_same_signature_whatever_the_whitespace():
    sigs = signatures(["ls -la /tmp\n  total 0\n", "ls -la /tmp total 0", "ls -la /tmp\ttotal  1"])
    assert np.array_equal(sigs[0], sigs[1])
    assert not np.array_equal(sigs[0], sigs[2])
    # Empty and blank texts are one and the same empty shingle.
    empty = signatures(["", "  \n "])
    assert np.array_equal(empty[0], empty[1])


def test_same_output_in_another_process_whatever_its_hash_seed():
    script = ("import hashlib, numpy as np\n"
              "from transforms.minhash import signatures, band_keys, action_hashes\n"
              "texts = ['alpha beta gamma delta epsilon zeta', '', 'ls -la', 'caf\\u00e9 x y z w v']\n"
              "s = signatures(texts)\n"
              "k = band_keys(s, action_hashes(['ls', None, 'cd /', 'x']))\n"
              "print(hashlib.sha256(s.tobytes() + k.tobytes()).hexdigest())\n")
    texts = ["alpha beta gamma delta epsilon zeta", "", "ls -la", "caf\u00e9 x y z w v"]
    sigs = signatures(texts)
    mine = hashlib.sha256(sigs.tobytes() + band_keys(sigs, action_hashes(["ls", None, "cd /", "x"])).tobytes())
    for seed in ("0", "12345"):
        child = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                               env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert child.stdout.strip() == mine.hexdigest()


def union_set_signatures(rows: list[tuple[str, ...]]) -> np.ndarray:
    """The oracle: rensa's MinHash of each row's union shingle set, the shingle_hashes of its worded parts taken
    apart (no shingle across parts); a row without words has the one empty-text shingle."""
    sets = []
    for parts in rows:
        union = set()
        for part in parts:
            if part.split():
                union |= set(shingle_hashes([part])[0].tolist())
        sets.append(sorted(union) or [EMPTY_TEXT])
    flat = np.array([value for hashes in sets for value in hashes], dtype=np.uint64)
    offsets = np.cumsum([0] + [len(hashes) for hashes in sets]).astype(np.uint64)
    return np.array(RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, 256, 1).to_rows(), dtype=np.uint32)


def episode_rows(rng: random.Random, steps: int) -> list[tuple[str, str, str]]:
    """(state, action, next observation) rows of one episode: each state is the previous next observation."""
    observations = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 80))) for _ in range(steps)]
    return [(observations[step - 1] if step else "", f"cmd {rng.choice(WORDS)}", observations[step])
            for step in range(steps)]


def test_union_signature_is_the_signature_of_the_union_shingle_set():
    rng = random.Random(4)
    rows = [row for _ in range(4) for row in episode_rows(rng, 30)]
    rows += [("", "", ""), (" \n\t", "ls", ""), ("a b", "", "c"), ("one two three four five six", "x"),
             ("caf\u00e9 x\u00a0y", "nul\0inside a b c d e", "\x1c\x1d", "w1 w2")]  # ragged rows too
    assert len({part for row in rows for part in row}) > SUB_BATCH  # parts go to rensa in several sub-batches
    union = union_signatures(rows)
    assert union.shape == (len(rows), 256) and union.dtype == np.uint32
    assert np.array_equal(union, union_set_signatures(rows))
    assert np.array_equal(union[rows.index(("", "", ""))], signatures([""])[0])  # no words: the empty shingle
    assert union_signatures([]).shape == (0, 256)
    with_missing_part = union_signatures([("a b c", None, "d e f g h i")])
    assert np.array_equal(with_missing_part, union_signatures([("a b c", "d e f g h i")]))


def test_union_tokens_are_each_rows_shingle_set_with_most_repeats_left_out():
    """A row's tokens are its parts' shingle hashes without the repeats the C side catches: the same set (so the
    same MinHash), never a token of another row, and far fewer than all the parts' when a state is shown again."""
    rng = random.Random(9)
    screens = ["$"]
    for _ in range(40):  # a terminal: each screen shows the previous one and a new line
        screens.append(screens[-1] + "\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12))))
    rows = [(screens[step], f"cmd {step}", screens[step + 1]) for step in range(40)]
    rows += [row for row in episode_rows(rng, 30)]
    rows += [("a b c d e f", "x", "a b c d e f"), ("", "", ""), ("same same same same same same same", None, "")]
    tokens, offsets = (np.frombuffer(buffer, dtype=np.uint64) for buffer in union_tokens(rows, 5))
    assert len(offsets) == len(rows) + 1
    total = 0
    for index, row in enumerate(rows):
        got = tokens[int(offsets[index]):int(offsets[index + 1])].tolist()
        parts = [shingle_hashes([part])[0].tolist() for part in row if part and part.split()]
        assert set(got) == (set().union(*parts) if parts else {EMPTY_TEXT}), row
        total += sum(map(len, parts))
    assert len(tokens) < 0.7 * total  # a screen's lines are in the state and again in the next one


def test_union_signature_does_not_depend_on_which_str_objects_hold_the_parts():
    """Parts are found again by object identity: an equal text in another object, or a part made afresh for its
    row and freed after it (its address then free for the next row's new part), must sketch as its text does."""
    rng = random.Random(6)
    rows = episode_rows(rng, 40)
    shared = union_signatures(rows)
    copies = [tuple("".join(list(part)) for part in row) for row in rows]
    assert copies[1][0] is not copies[0][2]
    assert np.array_equal(union_signatures(copies), shared)
    made_afresh = [(part for part in map("".join, map(list, row))) for row in rows]  # each row a generator
    assert np.array_equal(union_signatures(made_afresh), shared)


def test_band_keys_differ_between_bands_and_follow_band_values_and_action():
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32, size=(3, 256), dtype=np.uint64).astype(np.uint32)
    sigs[1, 8:12] = sigs[0, 8:12]  # rows 0 and 1 share band 2 only
    sigs[2] = sigs[0]
    actions = action_hashes(["ls", "ls", "rm -rf /"])
    keys = band_keys(sigs, actions)
    assert keys.shape == (3, 12) and keys.dtype == np.uint64
    assert len(set(keys[0].tolist())) == 12
    assert [band for band in range(12) if keys[0, band] == keys[1, band]] == [2]
    assert not set(keys[2].tolist()) & set(keys[0].tolist())  # same screen, other action: no shared bucket
    # A band is the same key in the same column, never across columns.
    same_values = np.tile(sigs[0, :4], 12)[None, :]
    assert len(set(band_keys(same_values, actions[:1], bands=12, rows=4)[0].tolist())) == 12
    assert band_keys(sigs, actions, bands=20, rows=5).shape == (3, 20)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.int64])
def test_band_keys_are_the_mixed_linear_combination_mod_2_64(dtype):
    from transforms.minhash import _BAND_CONSTANTS, _KEY_MULTIPLIERS
    rng = np.random.default_rng(8)
    sigs = rng.integers(0, 2**32, size=(5, 256), dtype=np.uint64).astype(dtype)
    actions = action_hashes(["ls", "", "rm -rf /", "cd /", "x"])
    multipliers, constants = _KEY_MULTIPLIERS.tolist(), _BAND_CONSTANTS.tolist()
    for bands, rows in ((12, 4), (20, 5), (1, 1)):
        expected = [[splitmix64_finalizer((sum(int(sig[band * rows + r]) * multipliers[r] for r in range(rows))
                                           + constants[band] + int(action) * multipliers[rows]) & MASK)
                     for band in range(bands)] for sig, action in zip(sigs, actions)]
        assert band_keys(sigs, actions, bands, rows).tolist() == expected


def test_band_keys_reject_bad_shapes():
    sigs = np.zeros((2, 16), dtype=np.uint32)
    with pytest.raises(ValueError, match="signature matrix"):
        band_keys(sigs, np.zeros(2, dtype=np.uint64), bands=12, rows=4)
    with pytest.raises(ValueError, match="one action hash per signature"):
        band_keys(sigs, np.zeros(3, dtype=np.uint64), bands=4, rows=4)


def test_sketches_are_the_low_bytes():
    sigs = np.array([[0x1234, 0xFF, 0x100]], dtype=np.uint32)
    assert sketches(sigs).tolist() == [[0x34, 0xFF, 0x00]] and sketches(sigs).dtype == np.uint8


def test_estimate_tracks_true_jaccard():
    rng = random.Random(5)
    base = [rng.choice(WORDS) for _ in range(400)]
    variants = []
    for edits in (0, 5, 10, 20, 40, 80):
        variant = list(base)
        for position in rng.sample(range(len(base)), edits):
            variant[position] = rng.choice(WORDS)
        variants.append(" ".join(variant))
    sketch_rows = sketches(signatures([" ".join(base)] + variants))
    estimates = estimated_jaccard(sketch_rows[1:], sketch_rows[0])
    truths = [jaccard(" ".join(base), variant) for variant in variants]
    assert estimates[0] == 1.0
    assert max(abs(e - t) for e, t in zip(estimates, truths)) < 0.1


def planted_pairs(rng: random.Random, pairs: int, ngram: int = 5):
    """benchmarks/bench_curate.py's planted pairs, their true Jaccard taken over plain-Python shingle sets: J >= 0.8
    must be found, J <= 0.7 must not."""
    return bench_planted_pairs(rng, pairs, ngram, jaccard=jaccard)


def test_planted_pairs_recall_and_precision_at_256_perms():
    """The quality gate: LSH buckets from band_keys, candidates verified on sketches at estimated J >= 0.8, the
    smaller index kept (as transforms.dedupe.resolve_bucket / decide do)."""
    planted = planted_pairs(random.Random(11), 3000)
    texts = [text for base, variant, _ in planted for text in (base, variant)]
    sigs = signatures(texts)
    keys, sketch_rows = band_keys(sigs, action_hashes([""] * len(texts))), sketches(sigs)
    buckets = defaultdict(list)
    for record, row in enumerate(keys.tolist()):
        for band, key in enumerate(row):
            buckets[band, key].append(record)
    removed = {}
    for members in buckets.values():
        for position, record in enumerate(members[1:], 1):
            earlier = np.array(members[:position])
            similar = earlier[estimated_jaccard(sketch_rows[earlier], sketch_rows[record]) >= 0.8]
            if len(similar):
                removed[record] = min(removed.get(record, record), int(similar.min()))
    positives = [i for i, (_, _, similarity) in enumerate(planted) if similarity >= 0.8]
    recall = sum(removed.get(2 * i + 1) == 2 * i for i in positives) / len(positives)
    precision = sum(kept // 2 == record // 2 and planted[record // 2][2] >= 0.8
                    for record, kept in removed.items()) / len(removed)
    assert len(positives) > 500
    assert recall >= 0.95 and precision >= 0.99, (recall, precision)


def test_digest_rows_land_in_their_matrix_rows_and_bad_rows_are_refused():
    from transforms._shingles import digest_rows_into
    matrix = np.zeros((4, 3), dtype=np.uint32)
    digest_rows_into([[1, 2, 3], [2**32 - 1, 0, 7]], matrix, 1)
    assert matrix.tolist() == [[0, 0, 0], [1, 2, 3], [2**32 - 1, 0, 7], [0, 0, 0]]
    with pytest.raises(ValueError, match="lists of 3 ints"):
        digest_rows_into([[1, 2]], matrix, 0)
    with pytest.raises(OverflowError):
        digest_rows_into([[1, 2, 2**32]], matrix, 0)
    with pytest.raises(IndexError):
        digest_rows_into([[1, 2, 3]] * 2, matrix, 3)
    with pytest.raises(TypeError, match="uint32"):
        digest_rows_into([[1, 2, 3]], np.zeros((1, 3), dtype=np.int64), 0)
    with pytest.raises(ValueError, match="read-only"):
        digest_rows_into([[1, 2, 3]], np.frombuffer(bytes(12), dtype=np.uint32).reshape(1, 3), 0)
