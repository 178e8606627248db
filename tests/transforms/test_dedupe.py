import random

import numpy as np
import pytest

from transforms.dedupe import (EXACT, NEAR, NearDupOptions, band_keys, decide, estimated_jaccard, resolve_bucket,
                               shingles, signature, sketch)

OPTIONS = NearDupOptions()
WORDS = [f"w{i}" for i in range(5000)]


def document(rng, length=300):
    return [rng.choice(WORDS) for _ in range(length)]


def jaccard(a, b, n=5):
    sa, sb = set(shingles(" ".join(a), n)), set(shingles(" ".join(b), n))
    return len(sa & sb) / len(sa | sb)


def member(member_id, text, content_hash=None):
    return member_id, content_hash or f"h-{member_id}", sketch(signature(text, OPTIONS))


def test_exact_duplicates_keep_the_smallest_id_whatever_the_order():
    text = "same screen " * 20
    members = [member(i, text, "h") for i in ("b", "c", "a")]
    for order in (members, members[::-1]):
        decisions = sorted(resolve_bucket(order, OPTIONS))
        assert decisions == [("b", EXACT, "a"), ("c", EXACT, "a")]
    # Only one band reports exact decisions: the others would repeat them.
    assert list(resolve_bucket(members, OPTIONS, report_exact=False)) == []


def test_near_duplicate_found_and_unrelated_left_alone():
    rng = random.Random(3)
    base = document(rng)
    near = list(base)
    near[150] = "changed"  # one word in 300: Jaccard ~0.97
    other = document(rng)
    members = [member("x1", " ".join(base)), member("x2", " ".join(near)), member("x0", " ".join(other))]
    assert list(resolve_bucket(members, OPTIONS)) == [("x2", NEAR, "x1")]


def test_estimate_tracks_true_jaccard():
    rng = random.Random(5)
    base = document(rng, 400)
    errors = []
    for edits in (5, 10, 20, 40):
        variant = list(base)
        for position in rng.sample(range(len(base)), edits):
            variant[position] = rng.choice(WORDS)
        estimate = estimated_jaccard(np.frombuffer(sketch(signature(" ".join(base), OPTIONS)), np.uint8)[None, :],
                                     np.frombuffer(sketch(signature(" ".join(variant), OPTIONS)), np.uint8))[0]
        errors.append(abs(estimate - jaccard(base, variant)))
    assert max(errors) < 0.15


def test_similar_texts_share_a_band_and_different_ones_do_not():
    rng = random.Random(9)
    base = document(rng)
    near = list(base)
    near[10] = "x"
    keys = set(band_keys(signature(" ".join(base), OPTIONS), OPTIONS))
    assert keys & set(band_keys(signature(" ".join(near), OPTIONS), OPTIONS))
    assert not keys & set(band_keys(signature(" ".join(document(rng)), OPTIONS), OPTIONS))
    assert len(keys) == OPTIONS.bands


def test_decide_prefers_exact_then_smallest_id():
    assert decide([(NEAR, "a"), (EXACT, "c"), (EXACT, "b")]) == (EXACT, "b")
    assert decide([(NEAR, "z"), (NEAR, "m")]) == (NEAR, "m")


def test_short_text_is_one_shingle():
    assert shingles("ls -la", 5) == ["ls -la"]
    assert shingles("", 5) == [""]


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": 1.5}, {"num_perm": 16, "bands": 5, "rows": 4},
                                    {"ngram": 0}])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        NearDupOptions(**kwargs)


def test_the_same_screen_under_another_action_is_never_a_candidate():
    sig = signature("a long shared screen " * 50, OPTIONS)
    assert not set(band_keys(sig, OPTIONS, "ls")) & set(band_keys(sig, OPTIONS, "rm notes"))
    assert band_keys(sig, OPTIONS, "ls") == band_keys(sig, OPTIONS, "ls")
